/** `codecarto outline [<path>]`: a file's symbol tree or a directory's top-level symbols; the path is relative to the current directory. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { outlineOf } from '../indexer/search/symbol-query.js';
import { symbolAnswerContext } from '../indexer/workspace/symbol-notes.js';
import { formatOutline } from '../tools/outline.js';
import { CLI_NEXT_STEPS } from './cli-next-steps.js';
import { withCliProject } from './cli-project.js';

export async function outlineCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { project: { type: 'string' }, json: { type: 'boolean' } },
  });
  // A person names files from where they stand: `codecarto outline app.py` inside src/ is src/app.py.
  const path = resolve(process.cwd(), positionals.join(' ').trim() || '.');
  return withCliProject({ explicit: values.project, mustBeKnown: true }, async ({ workspace, project }) => {
    const open = await workspace.current();
    const context = symbolAnswerContext(open, [...workspace.configProblems(), ...(open.problem ? [open.problem] : [])], CLI_NEXT_STEPS);
    const result = outlineOf(open.store, path, open.root, { indexing: context.partial });
    const note = [...context.notes, ...(result.note ? [result.note] : [])].join(' ') || undefined;
    const answer = { ...result, ...(note ? { note } : {}) };
    process.stdout.write(values.json ? `${JSON.stringify({ project: project.root, ...answer })}\n` : `${formatOutline(answer)}\n`);
    return 0;
  });
}
