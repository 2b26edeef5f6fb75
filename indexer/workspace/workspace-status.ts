/**
 * What `status` reports, as plain data: the tool and the CLI format it and never touch a store, an
 * embedder or an index run. Field names are those of the status tool's output (tools/status.ts).
 */
import type { Embedder } from '../../models/embedder.js';
import type { IndexJob } from '../run/index-job.js';
import type { IndexSummary } from '../run/index-summary.js';
import { storedFusion } from '../search/fusion-weights.js';
import type { IndexStore } from '../store/store-types.js';
import type { ProjectState } from './project-state.js';
import type { FusionState, IndexingProgress, KnownProject, LastIndexRun, ProviderHealth, WatchInfo } from './status-schema.js';

export type { FusionState, IndexingProgress, LastIndexRun, ProviderHealth, WatchInfo } from './status-schema.js';

/** Status with a current project. */
export interface ProjectStatus {
  state: ProjectState;
  health: ProviderHealth;
  /** null: no index run is going. */
  indexing: IndexingProgress | null;
  /** null: no index run finished in this process. */
  last_index: LastIndexRun | null;
  watching: WatchInfo;
  /** null: not measured yet, plain rank fusion. */
  fusion: FusionState | null;
  projects: KnownProject[];
  /** The server's configuration problems, then the project's own; empty when nothing is wrong. */
  problems: string[];
}

/** Status before any project is chosen: the known projects and what is wrong with the configuration. */
export interface NoProjectStatus {
  state: null;
  projects: KnownProject[];
  problems: string[];
}

export type WorkspaceStatus = ProjectStatus | NoProjectStatus;

/**
 * Longest status waits for an embedder's health. health() answers within about a second by contract
 * (models/embedder.ts); this only bounds one that breaks it.
 */
const HEALTH_BACKSTOP_MS = 10_000;

export async function providerHealth(embedder: Embedder, signal?: AbortSignal): Promise<ProviderHealth> {
  const timeout = AbortSignal.timeout(HEALTH_BACKSTOP_MS);
  const health = await embedder.health(signal ? AbortSignal.any([signal, timeout]) : timeout);
  return { ok: health.ok, detail: health.detail, execution_provider: health.executionProvider ?? null };
}

export function indexingProgress(job: IndexJob | null): IndexingProgress | null {
  if (!job?.running) return null;
  const { state, files_scanned, chunks_embedded, chunks_pending, seconds } = job.summary;
  return { state, files_scanned, chunks_embedded, chunks_pending, seconds };
}

export function lastIndexRun(summary: Readonly<IndexSummary> | null): LastIndexRun | null {
  return summary ? { state: summary.state, seconds: summary.seconds, ...(summary.error ? { error: summary.error } : {}) } : null;
}

export function fusionState(store: IndexStore, modelId: string): FusionState | null {
  const f = storedFusion(store, modelId);
  return f ? { semantic_weight: f.semantic_weight, method: f.method, queries: f.queries, ...(f.reason ? { reason: f.reason } : {}) } : null;
}
