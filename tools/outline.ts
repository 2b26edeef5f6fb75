import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { outlineOf } from '../indexer/search/symbol-query.js';
import { outlineSchema, type OutlineResult } from '../indexer/search/symbol-schemas.js';
import { MCP_NEXT_STEPS } from '../indexer/workspace/next-steps.js';
import { symbolAnswerContext } from '../indexer/workspace/symbol-notes.js';
import type { Workspace } from '../indexer/workspace/workspace.js';

export const outlineInput = {
  path: z
    .string()
    .trim()
    .min(1, 'path is empty: pass a file or directory relative to the project root, e.g. "src/app.py" or "src" ("." for the root)')
    .max(1024, 'path is longer than 1024 characters')
    .describe('A file ("src/app.py": its symbols as a tree) or a directory ("src", "." for the root: its files\' top-level symbols), relative to the project root.'),
};

export const outlineOutput = {
  ...outlineSchema.shape,
  partial: z.boolean().describe('An index run is going: the answer covers the files indexed so far.'),
};

export function registerOutlineTool(server: McpServer, workspace: Workspace): void {
  server.registerTool(
    'outline',
    {
      title: 'Outline a file or directory',
      description:
        'The symbols of a file as a tree (classes with their methods, functions, constants, types) with line ranges and signatures, ' +
        'or the top-level symbols of every file in a directory: a map of the code before you read it. ' +
        'Needs `set_project` (and `index`) first; works while indexing runs, on what is indexed so far.',
      inputSchema: outlineInput,
      outputSchema: outlineOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path }) => {
      const project = await workspace.current();
      const context = symbolAnswerContext(project, [...workspace.configProblems(), ...(project.problem ? [project.problem] : [])], MCP_NEXT_STEPS);
      const result = outlineOf(project.store, path, project.root, { indexing: context.partial });
      const note = [...context.notes, ...(result.note ? [result.note] : [])].join(' ') || undefined;
      const answer = { ...result, ...(note ? { note } : {}), partial: context.partial };
      return { content: [{ type: 'text', text: formatOutline(answer) }], structuredContent: answer };
    },
  );
}

/** The text answer: per file, one line per symbol (`  12-40  class Foo  class Foo(Base):`), members indented. */
export function formatOutline(answer: OutlineResult): string {
  const lines: string[] = [];
  if (answer.note) lines.push(`Note: ${answer.note}`);
  if (answer.type === 'directory') {
    const shown = answer.files.length;
    lines.push(`${answer.path || '.'}: ${answer.files_total} indexed file${answer.files_total === 1 ? '' : 's'}; top-level symbols of ${shown}:`);
  }
  for (const file of answer.files) {
    lines.push('', file.path);
    for (const s of file.symbols) {
      lines.push(`${'  '.repeat(s.depth + 1)}${s.start_line}-${s.end_line}  ${s.kind} ${s.name}  ${s.signature}`);
    }
  }
  return lines.join('\n').replace(/^\n/, '');
}
