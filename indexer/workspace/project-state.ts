import type { WatchingState, WatchSetting } from '../watch/project-watcher.js';
import { checkStaleness } from '../watch/staleness.js';
import type { NextSteps } from './next-steps.js';
import { LAST_INDEXED_KEY, type OpenProject } from './open-project.js';
import type { ProjectState } from './project-state-schema.js';

/** Declared once, as the zod schema set_project publishes (project-state-schema.ts). */
export type { ProjectState } from './project-state-schema.js';

export interface ProjectStateContext {
  /** The server's configuration problems; they lead the notes. */
  configProblems: readonly string[];
  steps: NextSteps;
  /** The server's watch setting (undefined: auto). */
  watchSetting: WatchSetting | undefined;
}

export function watchingState(project: OpenProject): WatchingState {
  return project.watcher?.watching ?? 'off';
}

/** What set_project and status say about an open project: its counts, model, freshness and notes. */
export async function describeProject(project: OpenProject, context: ProjectStateContext): Promise<ProjectState> {
  const { steps } = context;
  const counts = project.store.counts();
  const model = project.store.getModel();
  const notes: string[] = [...context.configProblems, ...(project.problem ? [project.problem] : [])];
  const embeds = project.embedder.provider !== 'none';
  if (!embeds && !project.problem) notes.push(`Provider "none": search is lexical only (BM25 over identifiers and text). For semantic search pass ${steps.choices('provider', ['dgx', 'onnx', 'openai'])}.`);
  if (embeds && model && model.modelId !== project.embedder.modelId) {
    notes.push(`The index holds vectors of ${model.modelId}; the next index run re-embeds every chunk with ${project.embedder.modelId} (vectors are never mixed).`);
  }
  const lastIndexed = project.store.getMeta(LAST_INDEXED_KEY);
  if (!lastIndexed && counts.files === 0) notes.push(`Not indexed yet: ${steps.index(project.root)}.`);
  let stale: number | null = null;
  if (counts.files > 0 && !project.job?.running) {
    // Not cached: set_project and status are rare, and a fresh count here is what the user asked for.
    const staleness = await checkStaleness(project.root, project.store, { timeoutMs: 3000 });
    stale = staleness.stale_files;
    const watched = project.watcher?.watching === 'events';
    if (stale > 0) notes.push(`${stale}${staleness.complete ? '' : '+'} files changed since the last index; ${watched ? 'watching re-indexes them within seconds' : `${steps.refresh(project.root)} to refresh`}.`);
  }
  const watching = watchingState(project);
  if (watching === 'off' && context.watchSetting !== 'off' && project.watch && counts.files > 0 && !lastIndexed) {
    notes.push('Watching for file changes starts after the first complete index run.');
  }
  return {
    project: project.root,
    data_dir: project.dataDir,
    provider: project.settings.provider,
    model: embeds ? project.embedder.modelId : (model?.modelId ?? null),
    dims: project.embedder.dimensions ?? model?.dims ?? null,
    files: counts.files,
    chunks: counts.chunks,
    chunks_with_vectors: counts.chunksWithVectors,
    last_indexed: lastIndexed,
    stale_files: stale,
    watching,
    notes,
  };
}
