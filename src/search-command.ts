/** `codecarto search "<query>"`: searches the project that holds the current directory (or --project). */
import { parseArgs } from 'node:util';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { freshnessNote } from '../tools/search-code.js';
import { MAX_ANSWER_TOKENS, MIN_ANSWER_TOKENS, SEARCH_DETAILS, searchAnswer, type SearchDetail } from '../tools/search-answer.js';
import { CLI_NEXT_STEPS } from './cli-next-steps.js';
import { withCliProject } from './cli-project.js';

const SEARCH_USAGE = 'Usage: codecarto search "<query>" [--k 10] [--path-glob <glob>] [--language <lang>] [--mode hybrid|semantic|lexical] [--detail lines|locations|full] [--max-tokens N] [--refresh] [--project <path>] [--json]';

export async function searchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      k: { type: 'string' },
      'path-glob': { type: 'string', multiple: true },
      language: { type: 'string', multiple: true },
      mode: { type: 'string' },
      detail: { type: 'string' },
      'max-tokens': { type: 'string' },
      refresh: { type: 'boolean' },
      project: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const query = positionals.join(' ').trim();
  if (!query) throw new CodecartoError(SEARCH_USAGE);
  const mode = values.mode as 'hybrid' | 'semantic' | 'lexical' | undefined;
  if (mode && !['hybrid', 'semantic', 'lexical'].includes(mode)) throw new CodecartoError('--mode must be hybrid, semantic or lexical.');
  const k = values.k === undefined ? 10 : Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new CodecartoError('--k must be a whole number from 1 to 100.');
  const detail = values.detail as SearchDetail | undefined;
  if (detail && !SEARCH_DETAILS.includes(detail)) throw new CodecartoError('--detail must be lines, locations or full.');
  const maxTokens = values['max-tokens'] === undefined ? undefined : Number(values['max-tokens']);
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < MIN_ANSWER_TOKENS || maxTokens > MAX_ANSWER_TOKENS)) {
    throw new CodecartoError(`--max-tokens must be a whole number from ${MIN_ANSWER_TOKENS} to ${MAX_ANSWER_TOKENS}.`);
  }
  return withCliProject({ explicit: values.project, mustBeKnown: true }, async ({ workspace, project }) => {
    const { stale_complete, ...response } = await workspace.search({
      query, k, pathGlob: values['path-glob'], language: values.language, mode, refresh: values.refresh,
    });
    const freshness = freshnessNote(response.stale_files, stale_complete, response.refreshed, CLI_NEXT_STEPS, project.root);
    const answer = searchAnswer(query, response, { k, detail, maxTokens, textNotes: freshness ? [freshness] : [] });
    process.stdout.write(values.json ? `${JSON.stringify({ project: project.root, ...answer.structured })}\n` : `${answer.text}\n`);
    return 0;
  });
}
