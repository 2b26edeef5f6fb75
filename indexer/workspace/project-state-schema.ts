import { z } from 'zod';
import { WATCHING_STATES } from '../watch/project-watcher.js';
import { orNull } from './or-null.js';

/**
 * What set_project and status say about a project: the set_project tool's outputSchema, and ProjectState
 * is its z.infer. Field names are the MCP contract.
 */
export const projectStateSchema = z.object({
  project: z.string(),
  data_dir: z.string(),
  /** A provider name (models/embedder.ts PROVIDERS); published as a plain string. */
  provider: z.string(),
  model: orNull(z.string(), 'no embedding model (provider "none", nothing embedded yet)'),
  dims: orNull(z.number(), 'vector size not known yet'),
  files: z.number(),
  chunks: z.number(),
  chunks_with_vectors: z.number(),
  last_indexed: orNull(z.string(), 'never indexed'),
  stale_files: orNull(z.number(), 'not checked (empty index, or an index run is going)'),
  watching: z.enum(WATCHING_STATES),
  /** Plain words on what the state means for the user: lexical-only, re-embed needed, never indexed. */
  notes: z.array(z.string()),
});
export type ProjectState = z.infer<typeof projectStateSchema>;
