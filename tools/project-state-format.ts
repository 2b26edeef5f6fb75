import { projectStateSchema, type ProjectState } from '../indexer/workspace/project-state-schema.js';

/** set_project's outputSchema: the project state as indexer/workspace/project-state-schema.ts declares it. */
export const projectStateShape = projectStateSchema.shape;

export function formatProjectState(state: ProjectState): string {
  const lines = [
    `Project: ${state.project}`,
    `Provider: ${state.provider}${state.model ? ` (model ${state.model}${state.dims ? `, ${state.dims} dims` : ''})` : ''}`,
    `Indexed: ${state.files} files, ${state.chunks} chunks, ${state.chunks_with_vectors} with vectors; last index ${state.last_indexed ?? 'never'}`,
  ];
  if (state.stale_files !== null) lines.push(`Stale files: ${state.stale_files}`);
  lines.push(`Watching: ${WATCHING_WORDS[state.watching]}`);
  for (const note of state.notes) lines.push(`Note: ${note}`);
  return lines.join('\n');
}

export const WATCHING_WORDS: Record<ProjectState['watching'], string> = {
  starting: 'starting',
  events: 'on (file events; changes are re-indexed within seconds)',
  polling: 'on (file events unavailable; changes are found by a periodic stat scan)',
  off: 'off',
};
