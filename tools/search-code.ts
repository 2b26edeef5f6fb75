import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { MCP_NEXT_STEPS, type NextSteps } from '../indexer/workspace/next-steps.js';
import { EMPTY_REASONS } from '../indexer/search/empty-search.js';
import { answerHitSchema, degradedSearchSchema, refreshOutcomeSchema, searchModeSchema } from '../indexer/search/search-hit.js';
import type { Workspace } from '../indexer/workspace/workspace.js';
import { orNull } from './or-null.js';
import { MAX_ANSWER_TOKENS, MIN_ANSWER_TOKENS, SEARCH_DETAILS, searchAnswer } from './search-answer.js';

export const searchInput = {
  query: z
    .string()
    .trim()
    .min(1, 'query is empty: describe the code you are looking for, e.g. "where are HTTP retries handled"')
    .max(2000, 'query is longer than 2000 characters: shorten it to the gist of what you are looking for')
    .describe('What you are looking for, in natural language or identifiers, e.g. "parse the config file" or "UserRepository.save".'),
  k: z.number({ error: 'k must be a whole number from 1 to 100' }).int().min(1).max(100).optional().describe('Number of results (1-100, default 10).'),
  path_glob: z
    .union([z.string().min(1).max(512), z.array(z.string().min(1).max(512)).min(1).max(32)])
    .optional()
    .describe('Only paths matching this glob or any of these globs, e.g. "src/**/*.ts" or ["*.py", "lib/**"].'),
  language: z
    .array(z.string().min(1).max(32))
    .max(32)
    .optional()
    .describe('Only these languages, e.g. ["typescript", "python"]; aliases and extensions work (py, ts, js, rs, golang, c++, c#, rb, kt, sh). An unknown name is an error that lists the accepted ones.'),
  mode: searchModeSchema
    .optional()
    .describe('"hybrid" (default when vectors exist: semantic + BM25 fused), "semantic", or "lexical".'),
  refresh: z
    .boolean({ error: 'refresh must be true or false' })
    .optional()
    .describe('Index changed files first (incremental; waits up to 30 s). Useful when the response reports stale files.'),
  detail: z
    .enum(SEARCH_DETAILS, { error: 'detail must be "locations", "lines" or "full"' })
    .optional()
    .describe(
      'How much code each result shows: "lines" (default: the signature line and the lines that match the query, "⋮ line N" marking skipped lines), ' +
        '"locations" (path, line range, symbol and score only; cheapest, for a long list) or "full" (the whole range as far as max_tokens allows).',
    ),
  max_tokens: z
    .number({ error: `max_tokens must be a whole number from ${MIN_ANSWER_TOKENS} to ${MAX_ANSWER_TOKENS}` })
    .int()
    .min(MIN_ANSWER_TOKENS)
    .max(MAX_ANSWER_TOKENS)
    .optional()
    .describe(
      `Cap on the answer's size in tokens (${MIN_ANSWER_TOKENS}-${MAX_ANSWER_TOKENS}). Default: 120 per result for "lines" (1,200 for k = 10), ` +
        '600 per result for "full", 100 per result for "locations" (for at least 10 results, at most 20,000). Snippets shrink first, then the last results are left out and counted in results_omitted.',
    ),
};

export const searchOutput = {
  results: z.array(answerHitSchema),
  mode: searchModeSchema,
  partial: z.boolean(),
  note: z.string().optional(),
  degraded: degradedSearchSchema
    .optional()
    .describe('Present when the semantic half is missing (the embedding endpoint is down, slow or refusing): the results are lexical; the mode asked for resumes by itself when the endpoint answers.'),
  stale_files: orNull(z.number(), 'not checked (watching keeps the index fresh, a run is going, or never indexed)'),
  refreshed: refreshOutcomeSchema.optional(),
  reason: z
    .enum(EMPTY_REASONS)
    .optional()
    .describe('Present when results is empty: why ("not_indexed": call `index`; a path_glob or language that matches no indexed file; or "no_match"). note says what to do.'),
  results_omitted: z.number().optional().describe('Results found but left out to stay within max_tokens: raise max_tokens, lower k or use detail "locations".'),
};

const DEFAULT_K = 10;

export function registerSearchTool(server: McpServer, workspace: Workspace): void {
  server.registerTool(
    'search',
    {
      title: 'Search code',
      description:
        'Find code in the current project by meaning or by name: "where do we retry failed HTTP requests", "JWT validation", "UserRepository.save". ' +
        'Use it before grepping when you do not know the exact identifiers. Returns file paths, line ranges, symbols and, for each result, ' +
        'its signature line and the lines that match (about 1,200 tokens for the default 10 results). ' +
        'For less, pass detail: "locations"; for more code per result, detail: "full" and/or a larger max_tokens (up to 20,000), or read the file at the line range. ' +
        'Source code ranks before tests, docs, changelogs, examples and config that repeat the words; to get those, say so in the query ' +
        '("the test for ...", "docs on ...", "changelog", "example") or pass path_glob (e.g. "tests/**", "**/*.md"). ' +
        'Needs `set_project` (and `index`) first; works while indexing runs, on what is indexed so far.',
      inputSchema: searchInput,
      outputSchema: searchOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ query, k, path_glob, language, mode, refresh, detail, max_tokens }, extra) => {
      const wanted = k ?? DEFAULT_K;
      const { stale_complete, ...response } = await workspace.search({
        query, k: wanted, pathGlob: path_glob, language, mode, refresh, signal: extra.signal,
      });
      const freshness = freshnessNote(response.stale_files, stale_complete, response.refreshed);
      const answer = searchAnswer(query, response, { k: wanted, detail, maxTokens: max_tokens, textNotes: freshness ? [freshness] : [] });
      return { content: [{ type: 'text', text: answer.text }], structuredContent: { ...answer.structured } };
    },
  );
}

/** What a search's freshness means and what to do about it, in the words of `steps` (the command line has its own). */
export function freshnessNote(
  stale: number | null,
  complete: boolean,
  refreshed: string | undefined,
  steps: NextSteps = MCP_NEXT_STEPS,
  root = '',
): string | undefined {
  if (refreshed === 'running') return 'The refresh is still indexing; results cover what is indexed so far.';
  if (refreshed === 'busy') return 'Another codecarto process is indexing this project; results cover what it has stored so far.';
  if (refreshed === 'failed') return `The refresh failed (${steps.status(root)}); results come from the previous index.`;
  if (stale === null || stale === 0) return undefined;
  return `${stale}${complete ? '' : '+'} files changed since the last index and are not reflected here; ${steps.refresh(root)}.`;
}
