import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { MCP_NEXT_STEPS, type NextSteps } from '../indexer/workspace/next-steps.js';
import type { SearchHit } from '../indexer/search/search.js';
import { searchHitSchema as hitShape } from '../indexer/search/search-hit.js';
import type { Workspace } from '../indexer/workspace/workspace.js';
import { orNull } from './or-null.js';

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
    .describe('Only these languages, e.g. ["typescript", "python"].'),
  mode: z
    .enum(['hybrid', 'semantic', 'lexical'], { error: 'mode must be "hybrid", "semantic" or "lexical"' })
    .optional()
    .describe('"hybrid" (default when vectors exist: semantic + BM25 fused), "semantic", or "lexical".'),
  refresh: z
    .boolean({ error: 'refresh must be true or false' })
    .optional()
    .describe('Index changed files first (incremental; waits up to 30 s). Useful when the response reports stale files.'),
};

export const searchOutput = {
  results: z.array(hitShape),
  mode: z.enum(['hybrid', 'semantic', 'lexical']),
  partial: z.boolean(),
  note: z.string().optional(),
  degraded: z
    .object({ requested: z.enum(['hybrid', 'semantic']), reason: z.string() })
    .optional()
    .describe('Present when the semantic half is missing (the embedding endpoint is down, slow or refusing): the results are lexical; the mode asked for resumes by itself when the endpoint answers.'),
  stale_files: orNull(z.number(), 'not checked (watching keeps the index fresh, a run is going, or never indexed)'),
  refreshed: z.enum(['done', 'running', 'busy', 'failed', 'cancelled']).optional(),
};

const DEFAULT_K = 10;

export function registerSearchTool(server: McpServer, workspace: Workspace): void {
  server.registerTool(
    'search',
    {
      title: 'Search code',
      description:
        'Find code in the current project by meaning or by name: "where do we retry failed HTTP requests", "JWT validation", "UserRepository.save". ' +
        'Use it before grepping when you do not know the exact identifiers. Returns file paths, line ranges, symbols and the code. ' +
        'Needs `set_project` (and `index`) first; works while indexing runs, on what is indexed so far.',
      inputSchema: searchInput,
      outputSchema: searchOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ query, k, path_glob, language, mode, refresh }, extra) => {
      const { stale_complete, ...response } = await workspace.search({
        query, k: k ?? DEFAULT_K, pathGlob: path_glob, language, mode, refresh, signal: extra.signal,
      });
      const notes = [response.note, freshnessNote(response.stale_files, stale_complete, response.refreshed)].filter((n) => n !== undefined);
      return {
        content: [{ type: 'text', text: formatResults(query, response.results, response.mode, response.partial, notes.join(' ') || undefined) }],
        structuredContent: { ...response },
      };
    },
  );
}

export function formatResults(query: string, hits: SearchHit[], mode: string, partial: boolean, note?: string): string {
  const header: string[] = [];
  if (note) header.push(`Note: ${note}`);
  if (partial) header.push('Note: indexing is still running; results cover what is indexed so far.');
  if (hits.length === 0) return [...header, `No results for "${query}" (${mode}).`].join('\n');
  const blocks = hits.map((h) => `${h.path}:${h.start_line}-${h.end_line}  ${h.symbol ?? h.kind}  (${h.score.toFixed(4)})\n${h.snippet}`);
  return [...header, `${hits.length} results for "${query}" (${mode}):`, '', blocks.join('\n\n')].join('\n');
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
