import { z } from 'zod';

/**
 * `schema | null`, with what null means written on the null branch. zod 4 prints a plain `.nullable()` of a
 * string or number as `type: ["string", "null"]`, which clients that map tool schemas onto a single-type
 * dialect (Gemini's OpenAPI subset) reject, and which `mcp-inspector --cli --strict` flags; a described null
 * branch keeps the portable `anyOf: [{type: "string"}, {type: "null", description}]`.
 * Here, below tools/, because the contracts' schemas (project state, search hit) live in indexer/.
 */
export function orNull<T extends z.ZodType>(schema: T, nullMeans: string): z.ZodUnion<[T, z.ZodNull]> {
  return z.union([schema, z.null().describe(nullMeans)]);
}
