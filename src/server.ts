import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { MCP_NEXT_STEPS, type NextSteps } from '../indexer/workspace/next-steps.js';
import type { EmbedderFactory, Workspace, WorkspaceOptions } from '../indexer/workspace/workspace.js';
import { registerTools } from '../tools/index.js';
import { serverSettingNames, type Config } from './config.js';
import { logToStderr } from './logger.js';
import { openWorkspace } from './open-workspace.js';
import { VERSION } from './version.js';


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
  const problems = [...(deps.config.problems ?? [])];
  const workspace = openWorkspace(deps.config, {
    createEmbedder: deps.createEmbedder,
    log,
    watchTimings: deps.watchTimings,
    steps: SERVER_NEXT_STEPS,
    problems,
    // A server started on a project must never answer from another one when that project fails to open.
    restoreCurrent: deps.config.project === undefined,
  });
  if (deps.config.project) await openStartProject(workspace, deps.config, deps.config.project, problems);
  for (const problem of problems) log(`configuration problem: ${problem}`);
  // Only the start project, which is open by now: restoring the last one stays lazy (a model load can take seconds).
  if (deps.config.project && (await workspace.hasProject())) {
    const problem = (await workspace.current()).problem;
    if (problem) log(`configuration problem: ${problem} Until then search answers lexically from what is indexed and \`index\` refuses.`);
  }
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

/** The MCP tools' words, plus where the server itself takes each setting (its flags and variables). */
const SERVER_NEXT_STEPS: NextSteps = {
  ...MCP_NEXT_STEPS,
  option: (name) => {
    const server = serverSettingNames(name);
    return server ? `${name} (a set_project argument; for the server: ${server})` : name;
  },
};

/**
 * Opens `--project` (or CODECARTO_PROJECT) with the settings given as flags. Nothing here stops the server:
 * settings that cannot run open the project for lexical search (the workspace's lenient mode), and a project
 * that cannot be opened at all leaves no project current; either way `problems` says what to fix.
 */
async function openStartProject(workspace: Workspace, config: Config, path: string, problems: string[]): Promise<void> {
  try {
    await workspace.setProject(path, config.startSettings ?? {}, { lenient: true });
  } catch (error) {
    const source = config.projectSource ?? '--project';
    const where = source === 'CODECARTO_PROJECT' ? 'in its env' : 'in its args';
    problems.push(
      `The start project ${source} ${JSON.stringify(path)} could not be opened: ${(error as Error).message} ` +
        `Fix ${source} ${where} and restart the server, or call set_project with the path of the repository.`,
    );
  }
}
