import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { findReferences } from '../indexer/search/symbol-query.js';
import { referencesSchema, type ReferencesResult } from '../indexer/search/symbol-schemas.js';
import { MCP_NEXT_STEPS } from '../indexer/workspace/next-steps.js';
import { symbolAnswerContext } from '../indexer/workspace/symbol-notes.js';
import type { Workspace } from '../indexer/workspace/workspace.js';
import { pathGlobInput, symbolNameInput } from './find-symbol.js';

export const referencesInput = {
  name: symbolNameInput.describe(
    'The symbol whose uses you want: "url_for", or qualified as find_symbol and search name it ("Flask.url_for"; matched by its last part, "url_for").',
  ),
  path_glob: pathGlobInput,
};

export const referencesOutput = {
  ...referencesSchema.shape,
  partial: z.boolean().describe('An index run is going: the answer covers the files indexed so far.'),
};

export function registerReferencesTool(server: McpServer, workspace: Workspace): void {
  server.registerTool(
    'references',
    {
      title: 'Find references',
      description:
        'Where a symbol is used: every line that names it, grouped by file, each with the function it is in and whether it is a call, an import or another use; ' +
        'its definitions are marked, not counted as uses. Unlike grep it skips comments and strings. Matched by name (no type resolution). ' +
        'Needs `set_project` (and `index`) first; works while indexing runs, on what is indexed so far.',
      inputSchema: referencesInput,
      outputSchema: referencesOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ name, path_glob }) => {
      const project = await workspace.current();
      const context = symbolAnswerContext(project, [...workspace.configProblems(), ...(project.problem ? [project.problem] : [])], MCP_NEXT_STEPS);
      const result = findReferences(project.store, { name, pathGlob: path_glob });
      const note = [...context.notes, ...(result.note ? [result.note] : [])].join(' ') || undefined;
      const answer = { ...result, ...(note ? { note } : {}), partial: context.partial };
      return { content: [{ type: 'text', text: formatReferences(answer) }], structuredContent: answer };
    },
  );
}

/** The text answer: the counts, then per file its lines (`  496  use   in Flask.create_jinja_environment: code`). */
export function formatReferences(answer: ReferencesResult): string {
  const lines: string[] = [];
  if (answer.note) lines.push(`Note: ${answer.note}`);
  const uses = answer.calls + answer.imports + answer.other_uses;
  const fileCount = answer.files.length + answer.files_omitted;
  if (uses === 0 && answer.definitions === 0) {
    lines.push(`No references to "${answer.name}" found.`);
    return lines.join('\n');
  }
  const definitions = answer.definitions > 0 ? `; ${answer.definitions} definition${answer.definitions === 1 ? '' : 's'} (marked def)` : '';
  lines.push(`"${answer.name}": ${uses} use${uses === 1 ? '' : 's'} (${answer.calls} calls, ${answer.imports} imports, ${answer.other_uses} other) in ${fileCount} file${fileCount === 1 ? '' : 's'}${definitions}.`);
  const unlisted: string[] = [];
  for (const file of answer.files) {
    if (!file.refs) {
      unlisted.push(`${file.path} (${file.uses})`);
      continue;
    }
    lines.push('', `${file.path}`);
    for (const ref of file.refs) {
      const kind = ref.kind === 'definition' ? 'def' : ref.kind;
      lines.push(`  ${String(ref.line).padEnd(5)} ${kind.padEnd(6)}${ref.in ? ` in ${ref.in}` : ''}: ${ref.code}`);
    }
  }
  if (unlisted.length > 0) lines.push('', `Also: ${unlisted.join(', ')}${answer.files_omitted > 0 ? `, and ${answer.files_omitted} more files` : ''}.`);
  else if (answer.files_omitted > 0) lines.push('', `And ${answer.files_omitted} more files.`);
  return lines.join('\n');
}
