import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { EmbedderFactory, Workspace, WorkspaceOptions } from '../indexer/workspace.js';
import { registerTools } from '../tools/index.js';
import type { Config } from './config.js';
import { logToStderr } from './logger.js';
import { openWorkspace } from './open-workspace.js';

export const VERSION = '0.1.0';

export interface ServerDeps {
  config: Config;
  createEmbedder?: EmbedderFactory;
  log?: (message: string) => void;
  /** Debounce and polling periods of file watching; tests shorten them. */
  watchTimings?: WorkspaceOptions['watchTimings'];
}

/** Builds the MCP server and its workspace; the caller connects a transport and calls `close` at the end. */
export async function createServer(deps: ServerDeps): Promise<{ server: McpServer; workspace: Workspace; close: () => Promise<void> }> {
  const log = deps.log ?? logToStderr;
  const workspace = openWorkspace(deps.config, { createEmbedder: deps.createEmbedder, log, watchTimings: deps.watchTimings });
  if (deps.config.project) await workspace.setProject(deps.config.project, {});
  const server = new McpServer(
    { name: 'codecarto', version: VERSION },
    {
      instructions:
        'codecarto is semantic code search over one repository. Call `set_project` with the repository path, then `index`, then `search` ' +
        'with a natural-language description or identifiers. `status` shows progress and provider health.',
    },
  );
  registerTools(server, workspace);
  return {
    server,
    workspace,
    close: async () => {
      await server.close();
      await workspace.close();
    },
  };
}
