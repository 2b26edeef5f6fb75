import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { DEFAULT_MAX_FILES, MAX_FILES_CEILING } from '../indexer/walk/file-limit.js';
import { settingsInputSchema } from '../indexer/workspace/project-settings.js';
import type { Workspace } from '../indexer/workspace/workspace.js';
import { formatProjectState, projectStateShape } from './project-state-format.js';
import { endpointWarning } from '../indexer/workspace/endpoint-warning.js';

/** The path, the provider settings (their rules and words are the saved settings' own), and per-project options. */
export const setProjectInput = {
  path: z
    .string()
    .min(1)
    .max(4096)
    .describe('Absolute (or ~/-relative) path of the repository to search, e.g. "/home/me/src/app".'),
  ...settingsInputSchema.shape,
  watch: z
    .boolean({ error: 'watch must be true or false' })
    .optional()
    .describe('Re-index changed files in the background once the project has been indexed (default true, remembered per project). false: search reports stale files instead.'),
  max_files: z
    .number({ error: `max_files must be a whole number from 1 to ${MAX_FILES_CEILING}` })
    .int()
    .min(1)
    .max(MAX_FILES_CEILING)
    .optional()
    .describe(`Most files the project may hold (default ${DEFAULT_MAX_FILES}, or the server's CODECARTO_MAX_FILES; remembered per project). A bigger tree is refused: raise it only for one repository that really is that big.`),
};

export function registerSetProjectTool(server: McpServer, workspace: Workspace): void {
  server.registerTool(
    'set_project',
    {
      title: 'Set project',
      description:
        'Choose the repository to search and how to embed it. Call this first, once per repository (the choice is remembered across restarts), ' +
        'then call `index`. Returns the project state: provider, model, dims, files, chunks, last index time and stale files.',
      inputSchema: setProjectInput,
      outputSchema: projectStateShape,
      annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ path, watch, max_files, ...settings }, extra) => {
      const started = Date.now();
      const saved = await workspace.setProject(path, settings, { watch, maxFiles: max_files });
      // The settings are saved whatever the endpoint does; one that does not answer is said at once.
      const warning = await endpointWarning((await workspace.current()).embedder, started, extra.signal);
      const state = warning ? { ...saved, notes: [...saved.notes, warning] } : saved;
      return { content: [{ type: 'text', text: formatProjectState(state) }], structuredContent: { ...state } };
    },
  );
}
