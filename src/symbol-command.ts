/** `codecarto symbol <name>`: where a symbol is defined (find_symbol), in the project that holds the current directory (or --project). */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SYMBOL_KINDS, type SymbolKind } from '../indexer/chunk/file-symbols.js';
import { findSymbols } from '../indexer/search/symbol-query.js';
import { symbolAnswerContext } from '../indexer/workspace/symbol-notes.js';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { formatSymbols } from '../tools/find-symbol.js';
import { CLI_NEXT_STEPS } from './cli-next-steps.js';
import { withCliProject } from './cli-project.js';

const USAGE = `Usage: codecarto symbol <name> [--kind ${SYMBOL_KINDS.join('|')}] [--path-glob <glob>] [--near <file you are reading>] [--body] [--project <path>] [--json]`;

export async function symbolCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { kind: { type: 'string' }, 'path-glob': { type: 'string', multiple: true }, near: { type: 'string' }, body: { type: 'boolean' }, project: { type: 'string' }, json: { type: 'boolean' } },
  });
  const name = positionals.join(' ').trim();
  if (!name) throw new CodecartoError(USAGE);
  const kind = values.kind as SymbolKind | undefined;
  if (kind !== undefined && !SYMBOL_KINDS.includes(kind)) throw new CodecartoError(`--kind must be one of ${SYMBOL_KINDS.join(', ')}.`);
  return withCliProject({ explicit: values.project, mustBeKnown: true }, async ({ workspace, project }) => {
    const open = await workspace.current();
    const context = symbolAnswerContext(open, [...workspace.configProblems(), ...(open.problem ? [open.problem] : [])], CLI_NEXT_STEPS);
    const result = findSymbols(open.store, { name, kind, pathGlob: values['path-glob'], includeBody: values.body, near: values.near === undefined ? undefined : resolve(values.near), root: project.root });
    const note = [...context.notes, ...(result.note ? [result.note] : [])].join(' ') || undefined;
    const answer = { ...result, ...(note ? { note } : {}) };
    process.stdout.write(values.json ? `${JSON.stringify({ project: project.root, ...answer })}\n` : `${formatSymbols(name, answer)}\n`);
    return result.results.length > 0 ? 0 : 1;
  });
}
