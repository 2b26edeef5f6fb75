import { z } from 'zod';
import { orNull } from '../workspace/or-null.js';

/** One search result: the search tool's `results` items, and SearchHit is its z.infer. Field names are the MCP contract. */
export const searchHitSchema = z.object({
  path: z.string(),
  start_line: z.number(),
  end_line: z.number(),
  language: z.string(),
  symbol: orNull(z.string(), 'the code is not inside a named symbol'),
  kind: z.string(),
  score: z.number(),
  /** The hit's whole code; an answer shows a window of it (answerHitSchema). */
  snippet: z.string(),
});
export type SearchHit = z.infer<typeof searchHitSchema>;

/**
 * A hit as the search tool's answer shows it: the snippet is the signature line and the lines that match
 * the query, skipped lines marked `⋮ line N` (indexer/search/snippet-window.ts); the score is rounded.
 */
export const answerHitSchema = searchHitSchema.extend({
  score: z.number().describe('Rank score, 3 significant digits (BM25 for lexical, cosine similarity for semantic, fused reciprocal ranks for hybrid); higher is better.'),
  snippet: z
    .string()
    .optional()
    .describe('The signature line and the lines that match the query; "⋮ line N" marks skipped lines (N is the next line shown), a final "⋮" the rest of the range, "…" a cut line. Absent with detail "locations".'),
});
export type AnswerHit = z.infer<typeof answerHitSchema>;

/** The search modes: the tool's `mode` argument and answer, and SearchMode. */
export const searchModeSchema = z.enum(['hybrid', 'semantic', 'lexical'], { error: 'mode must be "hybrid", "semantic" or "lexical"' });
export type SearchMode = z.infer<typeof searchModeSchema>;

/** A hybrid or semantic search answered lexically, and why. */
export const degradedSearchSchema = z.object({
  /** The mode that was asked for (or would have been the default). */
  requested: z.enum(['hybrid', 'semantic']),
  /** Why the semantic half is missing, in a sentence. */
  reason: z.string(),
});
export type DegradedSearch = z.infer<typeof degradedSearchSchema>;

/** What `refresh: true` did. */
export const refreshOutcomeSchema = z.enum(['done', 'running', 'busy', 'failed', 'cancelled']);
export type RefreshOutcome = z.infer<typeof refreshOutcomeSchema>;
