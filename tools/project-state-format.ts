import { z } from 'zod';
import type { ProjectState } from '../indexer/workspace/workspace.js';
import { orNull } from './or-null.js';

export const projectStateShape = {
  project: z.string(),
  data_dir: z.string(),
  provider: z.string(),
  model: orNull(z.string(), 'no embedding model (provider "none", nothing embedded yet)'),
  dims: orNull(z.number(), 'vector size not known yet'),
  files: z.number(),
  chunks: z.number(),
  chunks_with_vectors: z.number(),
  last_indexed: orNull(z.string(), 'never indexed'),
  stale_files: orNull(z.number(), 'not checked (empty index, or an index run is going)'),
  watching: z.enum(['starting', 'events', 'polling', 'off']),
  notes: z.array(z.string()),
};

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
