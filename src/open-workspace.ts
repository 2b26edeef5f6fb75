import type { NextSteps } from '../indexer/workspace/next-steps.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { Workspace, type EmbedderFactory, type WorkspaceOptions } from '../indexer/workspace/workspace.js';
import { createEmbedder } from '../models/create-embedder.js';
import { CredentialPolicy } from '../models/credential-policy.js';
import type { Config } from './config.js';
import { logToStderr } from './logger.js';

export interface OpenWorkspaceOptions {
  createEmbedder?: EmbedderFactory;
  log?: (message: string) => void;
  /** Debounce and polling periods of file watching; tests shorten them. */
  watchTimings?: WorkspaceOptions['watchTimings'];
  /** How messages name the next action (default: the MCP tools' words). */
  steps?: NextSteps;
  /** false: the project chosen is not saved as the one the next start opens. */
  rememberCurrent?: boolean;
  /** false: the project current when the last process ended is not reopened (the server starts on --project instead). */
  restoreCurrent?: boolean;
  /** The server's configuration problems; problems found later (opening the start project) are pushed onto the same array. */
  problems?: readonly string[];
}

/** The workspace of `config`, wired to the real store and embedders; the MCP server and the one-shot commands share it. */
export function openWorkspace(config: Config, options: OpenWorkspaceOptions = {}): Workspace {
  return new Workspace({
    home: config.home,
    // Pulled models live under the configured home, which tests and --home may set apart from the env.
    createEmbedder: options.createEmbedder ?? ((settings, embedderLog) => createEmbedder(settings, embedderLog, { ...process.env, CODECARTO_HOME: config.home })),
    openStore: (dataDir, storeLog) => openIndexStore(dataDir, { log: storeLog }),
    defaultProvider: config.defaultProvider,
    defaults: config.settings,
    problems: options.problems ?? config.problems,
    restoreCurrent: options.restoreCurrent,
    log: options.log ?? logToStderr,
    watch: config.watch,
    watchTimings: options.watchTimings,
    indexWorkers: config.indexWorkers,
    // A key from a variable and to an endpoint that the person starting codecarto allowed, or none (models/credential-policy.ts).
    credentialPolicy: CredentialPolicy.forServer({ keyEnvs: config.allowedKeyEnvs, endpoints: config.allowedEndpoints }, config.settings),
    maxFiles: config.maxFiles,
    steps: options.steps,
    rememberCurrent: options.rememberCurrent,
  });
}
