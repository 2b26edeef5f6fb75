import { z } from 'zod';
import { WATCHING_STATES } from '../watch/project-watcher.js';
import { orNull } from './or-null.js';

/**
 * The parts of what `status` reports (workspace-status.ts), declared once: the status tool's outputSchema is
 * built from these and the project state schema, and the types are their z.infer. Field names are the MCP contract.
 */

/** A project with a data directory under $CODECARTO_HOME, open in this process or not. */
export const knownProjectSchema = z.object({
  project: z.string(),
  data_dir: z.string(),
  provider: orNull(z.string(), 'not recorded'),
  /** From the open index, else from the last complete run's record; null when neither is known. */
  files: orNull(z.number(), 'not known: not open and no complete index run'),
  chunks: orNull(z.number(), 'not known: not open and no complete index run'),
  bytes: z.number(),
  last_indexed: orNull(z.string(), 'never indexed'),
  open: z.boolean(),
  current: z.boolean(),
  watching: z.enum(WATCHING_STATES),
});
export type KnownProject = z.infer<typeof knownProjectSchema>;

export const providerHealthSchema = z.object({
  ok: z.boolean(),
  /** e.g. "endpoint http://host:8080/embed reachable, 4096 dims, 12 ms". */
  detail: z.string(),
  /** Execution provider of an in-process ONNX model ("cuda" | "cpu"). */
  execution_provider: orNull(z.string(), 'no in-process ONNX model loaded'),
});
export type ProviderHealth = z.infer<typeof providerHealthSchema>;

/** A running index run's progress (its state is an IndexState, published as a plain string). */
export const indexingProgressSchema = z.object({
  state: z.string(),
  files_scanned: z.number(),
  chunks_embedded: z.number(),
  chunks_pending: z.number(),
  seconds: z.number(),
});
export type IndexingProgress = z.infer<typeof indexingProgressSchema>;

/** How the last index run of this process ended. */
export const lastIndexRunSchema = z.object({ state: z.string(), seconds: z.number(), error: z.string().optional() });
export type LastIndexRun = z.infer<typeof lastIndexRunSchema>;

export const watchInfoSchema = z.object({
  state: z.enum(WATCHING_STATES),
  /** Index runs that watching started in this process. */
  runs: z.number(),
  /** Changes seen and not yet indexed (or being indexed). */
  pending: z.boolean(),
});
export type WatchInfo = z.infer<typeof watchInfoSchema>;

/** How hybrid search weighs the semantic list for the project's model. */
export const fusionStateSchema = z.object({
  semantic_weight: z.number(),
  method: z.enum(['calibrated', 'default']),
  queries: z.number(),
  reason: z.string().optional(),
});
export type FusionState = z.infer<typeof fusionStateSchema>;
