/** `codecarto refs <name>`: where a symbol is used (references), in the project that holds the current directory (or --project). */
import { parseArgs } from 'node:util';
import { findReferences } from '../indexer/search/symbol-query.js';
import { symbolAnswerContext } from '../indexer/workspace/symbol-notes.js';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { formatReferences } from '../tools/references.js';
import { CLI_NEXT_STEPS } from './cli-next-steps.js';
import { withCliProject } from './cli-project.js';

const USAGE = 'Usage: codecarto refs <name> [--path-glob <glob>] [--project <path>] [--json]';

export async function refsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'path-glob': { type: 'string', multiple: true }, project: { type: 'string' }, json: { type: 'boolean' } },
  });
  const name = positionals.join(' ').trim();
  if (!name) throw new CodecartoError(USAGE);
  return withCliProject({ explicit: values.project, mustBeKnown: true }, async ({ workspace, project }) => {
    const open = await workspace.current();
    const context = symbolAnswerContext(open, [...workspace.configProblems(), ...(open.problem ? [open.problem] : [])], CLI_NEXT_STEPS);
    const result = findReferences(open.store, { name, pathGlob: values['path-glob'] });
    const note = [...context.notes, ...(result.note ? [result.note] : [])].join(' ') || undefined;
    const answer = { ...result, ...(note ? { note } : {}) };
    process.stdout.write(values.json ? `${JSON.stringify({ project: project.root, ...answer })}\n` : `${formatReferences(answer)}\n`);
    return result.files.length > 0 ? 0 : 1;
  });
}
