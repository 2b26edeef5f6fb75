/**
 * The answers of find_symbol, references and outline, declared once: the tools' outputSchemas are these
 * objects and the query functions' result types are their z.infer. Field names are the MCP contract; they
 * are short because an agent's client shows it the JSON of the structured answer.
 */
import { z } from 'zod';
import { orNull } from '../workspace/or-null.js';

export const SYMBOL_MATCHES = ['exact', 'qualified', 'prefix', 'fuzzy'] as const;
export const REF_KINDS = ['call', 'import', 'use', 'definition'] as const;

export const symbolHitSchema = z.object({
  symbol: z.string().describe('Qualified name (Flask.url_for, Builder.build): pass it to references or find_symbol as it is.'),
  kind: z.string(),
  path: z.string(),
  start_line: z.number(),
  end_line: z.number(),
  signature: z.string().describe('The declaration up to its body, on one line.'),
  match: z.enum(SYMBOL_MATCHES).describe('How the name matched: exact, qualified, prefix (the name starts with it) or fuzzy (close to it).'),
  body: z.string().optional().describe('The code, with include_body, for the first 3 results (capped at 150 lines).'),
});
export type SymbolHit = z.infer<typeof symbolHitSchema>;

export const findSymbolSchema = z.object({
  results: z.array(symbolHitSchema).describe('Definitions, best first: exact names, then qualified-name matches, then prefixes, then near misses; code before tests.'),
  total: z.number().describe('Definitions that matched, of which at most 10 are listed.'),
  note: z.string().optional(),
});
export type FindSymbolResult = z.infer<typeof findSymbolSchema>;

export const referenceHitSchema = z.object({
  line: z.number(),
  kind: z.enum(REF_KINDS).describe('call, import, use, or definition (a definition of the name: marked, not counted as a use).'),
  in: orNull(z.string(), 'at the top of the file, outside any definition').describe('The definition the line is in (qualified).'),
  code: z.string(),
});
export type ReferenceHit = z.infer<typeof referenceHitSchema>;

export const referenceFileSchema = z.object({
  path: z.string(),
  uses: z.number().describe('Uses in the file (definitions not counted).'),
  refs: z.array(referenceHitSchema).optional().describe('Its lines that name the symbol; absent when the answer had no room left for them.'),
});
export type ReferenceFile = z.infer<typeof referenceFileSchema>;

export const referencesSchema = z.object({
  name: z.string().describe('The identifier looked for (the last part of a qualified name).'),
  files: z.array(referenceFileSchema).describe('Code files first, then tests and examples, each by path.'),
  calls: z.number(),
  imports: z.number(),
  other_uses: z.number(),
  definitions: z.number(),
  files_omitted: z.number().describe('Files with uses that are not listed.'),
  note: z.string().optional(),
});
export type ReferencesResult = z.infer<typeof referencesSchema>;

export const outlineSymbolSchema = z.object({
  name: z.string().describe('Within its parent; at the top of a file, qualified (a Go or Rust impl method: Server.Start).'),
  kind: z.string(),
  start_line: z.number(),
  end_line: z.number(),
  signature: z.string(),
  depth: z.number().describe('0 at the top of the file, 1 for members, and so on: the tree, in order.'),
});
export type OutlineSymbol = z.infer<typeof outlineSymbolSchema>;

export const outlineSchema = z.object({
  path: z.string().describe('The path as indexed, relative to the project root ("" for the root).'),
  type: z.enum(['file', 'directory']),
  files: z.array(z.object({ path: z.string(), symbols: z.array(outlineSymbolSchema) })).describe('A file: its symbol tree; a directory: its files with their top-level symbols.'),
  files_total: z.number(),
  symbols_omitted: z.number().describe('Symbols not listed, to keep the answer small: outline a file or subdirectory for them.'),
  note: z.string().optional(),
});
export type OutlineResult = z.infer<typeof outlineSchema>;
