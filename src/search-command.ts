/** `codecarto search "<query>"`: searches the project that holds the current directory (or --project). */
import { parseArgs } from 'node:util';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { formatResults, freshnessNote } from '../tools/search-code.js';
import { CLI_NEXT_STEPS } from './cli-next-steps.js';
import { withCliProject } from './cli-project.js';

const SEARCH_USAGE = 'Usage: codecarto search "<query>" [--k 10] [--path-glob <glob>] [--language <lang>] [--mode hybrid|semantic|lexical] [--refresh] [--project <path>] [--json]';

export async function searchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      k: { type: 'string' },
      'path-glob': { type: 'string', multiple: true },
      language: { type: 'string', multiple: true },
      mode: { type: 'string' },
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
  return withCliProject({ explicit: values.project, mustBeKnown: true }, async ({ workspace, project }) => {
    const { stale_complete, ...response } = await workspace.search({
      query, k, pathGlob: values['path-glob'], language: values.language, mode, refresh: values.refresh,
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ project: project.root, ...response })}\n`);
      return 0;
    }
    const notes = [response.note, freshnessNote(response.stale_files, stale_complete, response.refreshed, CLI_NEXT_STEPS, project.root)];
    const note = notes.filter((n) => n !== undefined).join(' ') || undefined;
    process.stdout.write(`${formatResults(query, response.results, response.mode, response.partial, note)}\n`);
    return 0;
  });
}
