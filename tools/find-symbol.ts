import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { SYMBOL_KINDS } from '../indexer/chunk/file-symbols.js';
import { findSymbols } from '../indexer/search/symbol-query.js';
import { findSymbolSchema, type FindSymbolResult } from '../indexer/search/symbol-schemas.js';
import { MCP_NEXT_STEPS } from '../indexer/workspace/next-steps.js';
import { symbolAnswerContext } from '../indexer/workspace/symbol-notes.js';
import type { Workspace } from '../indexer/workspace/workspace.js';

export const symbolNameInput = z
  .string()
  .trim()
  .min(1, 'name is empty: pass a symbol name such as "url_for" or "Flask.url_for"')
  .max(300, 'name is longer than 300 characters: pass the symbol name alone, e.g. "Flask.url_for"');

export const pathGlobInput = z
  .union([z.string().min(1).max(512), z.array(z.string().min(1).max(512)).min(1).max(32)])
  .optional()
  .describe('Only paths matching this glob or any of these globs, e.g. "src/**" or ["*.py", "lib/**"].');

export const findSymbolInput = {
  name: symbolNameInput.describe(
    'The symbol: a bare name ("url_for"), a qualified one ("Flask.url_for", "Builder::build", "ReactiveEffect.run"), or the start of one. ' +
      'Exact names come first, then qualified matches, then names starting with it, then close spellings.',
  ),
  kind: z
    .enum(SYMBOL_KINDS, { error: `kind must be one of ${SYMBOL_KINDS.join(', ')}` })
    .optional()
    .describe(`Only definitions of this kind: ${SYMBOL_KINDS.join(', ')} (a method is a function defined in a class, struct, trait or impl).`),
  path_glob: pathGlobInput,
  near: z
    .string()
    .trim()
    .min(1, 'near is empty: pass the path of a file you are reading, e.g. "src/app.py", or leave near out')
    .max(512, 'near is longer than 512 characters: pass one file path relative to the project root')
    .optional()
    .describe(
      'A file you are reading, relative to the project root (e.g. "src/views.py"): definitions in it, then in its directory, ' +
        'then in files it uses rank first, as go-to-definition would. Use it when a name is defined in many places.',
    ),
  include_body: z
    .boolean({ error: 'include_body must be true or false' })
    .optional()
    .describe('Also return the code of the first 3 definitions (up to 150 lines each).'),
};

export const findSymbolOutput = {
  ...findSymbolSchema.shape,
  partial: z.boolean().describe('An index run is going: the answer covers the files indexed so far.'),
};

export function registerFindSymbolTool(server: McpServer, workspace: Workspace): void {
  server.registerTool(
    'find_symbol',
    {
      title: 'Find a definition',
      description:
        'Where a function, method, class, struct, trait, interface, enum, constant, type or module is defined, by name: ' +
        'each definition with its qualified name, kind, file, line range and signature (include_body: true adds the code). ' +
        'Faster and more exact than search when you know the name; pass what it returns to `references` or `outline`. ' +
        'Needs `set_project` (and `index`) first; works while indexing runs, on what is indexed so far.',
      inputSchema: findSymbolInput,
      outputSchema: findSymbolOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ name, kind, path_glob, near, include_body }) => {
      const project = await workspace.current();
      const context = symbolAnswerContext(project, [...workspace.configProblems(), ...(project.problem ? [project.problem] : [])], MCP_NEXT_STEPS);
      const result = findSymbols(project.store, { name, kind, pathGlob: path_glob, includeBody: include_body, near, root: project.root });
      const note = [...context.notes, ...(result.note ? [result.note] : [])].join(' ') || undefined;
      const answer = { ...result, ...(note ? { note } : {}), partial: context.partial };
      return { content: [{ type: 'text', text: formatSymbols(name, answer) }], structuredContent: answer };
    },
  );
}

/** The text answer: one block per definition, `path:start-end  symbol  (kind)` then its signature (and code). */
export function formatSymbols(name: string, answer: FindSymbolResult): string {
  const lines: string[] = [];
  if (answer.note) lines.push(`Note: ${answer.note}`);
  if (answer.results.length === 0) {
    lines.push(`No definition of "${name}" found.`);
    return lines.join('\n');
  }
  const more = answer.total > answer.results.length ? ` (${answer.total} in all; narrow with kind, path_glob or near)` : '';
  lines.push(`${answer.results.length} definition${answer.results.length === 1 ? '' : 's'} for "${name}"${more}:`);
  for (const hit of answer.results) {
    lines.push('', `${hit.path}:${hit.start_line}-${hit.end_line}  ${hit.symbol}  (${hit.kind}${hit.match === 'exact' ? '' : `, ${hit.match} match`})`, `  ${hit.signature}`);
    if (hit.body !== undefined) lines.push(hit.body);
  }
  return lines.join('\n');
}
