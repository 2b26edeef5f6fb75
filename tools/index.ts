import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Workspace } from '../indexer/workspace/workspace.js';
import { registerFindSymbolTool } from './find-symbol.js';
import { registerIndexTool } from './index-project.js';
import { registerOutlineTool } from './outline.js';
import { registerReferencesTool } from './references.js';
import { registerSearchTool } from './search-code.js';
import { registerSetProjectTool } from './set-project.js';
import { registerStatusTool } from './status.js';
import { withStrictInputs } from './strict-input.js';

export function registerTools(mcpServer: McpServer, workspace: Workspace): void {
  // Unknown arguments are an error naming the accepted ones, for every tool registered here.
  const server = withStrictInputs(mcpServer);
  registerSetProjectTool(server, workspace);
  registerIndexTool(server, workspace);
  registerSearchTool(server, workspace);
  registerStatusTool(server, workspace);
  registerFindSymbolTool(server, workspace);
  registerReferencesTool(server, workspace);
  registerOutlineTool(server, workspace);
}
