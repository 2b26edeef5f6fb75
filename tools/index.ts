import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Workspace } from '../indexer/workspace.js';
import { registerIndexTool } from './index-project.js';
import { registerSearchTool } from './search-code.js';
import { registerSetProjectTool } from './set-project.js';
import { registerStatusTool } from './status.js';

export function registerTools(server: McpServer, workspace: Workspace): void {
  registerSetProjectTool(server, workspace);
  registerIndexTool(server, workspace);
  registerSearchTool(server, workspace);
  registerStatusTool(server, workspace);
}
