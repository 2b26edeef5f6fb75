/**
 * Where a running index is, for a progress display: which phase, files read out of how many, chunk
 * texts embedded out of how many, and what it is waiting for. Not part of the MCP contract (the
 * summary is); counts here only grow while a phase lasts, but totals may grow too (more files found,
 * more texts queued).
 */

/** reading: walking and storing files (texts are embedded meanwhile); embedding: the walk is over, texts remain; calibrating: fusion weights (index-job.ts). */
export const INDEX_PHASES = ['reading', 'embedding', 'calibrating', 'finished'] as const;
export type IndexPhase = (typeof INDEX_PHASES)[number];

/** Something the run is blocked on, e.g. an endpoint being retried. */
export interface IndexWait {
  /** What it waits for, e.g. "http://dgx:8080/embed (ECONNREFUSED, retrying)". */
  what: string;
  /** Since when (epoch ms). */
  since: number;
}

export interface IndexProgress {
  phase: IndexPhase;
  /** Files the run is through with: stored, unchanged or skipped. */
  files_done: number;
  /** Files the walk found; null until it has seen the whole tree. */
  files_total: number | null;
  /** False for provider "none": nothing is embedded, reading is all there is. */
  embeds: boolean;
  /** Chunk texts embedded so far, and embedded plus still waiting (grows while files are read). */
  chunks_embedded: number;
  chunks_to_embed: number;
  waiting: IndexWait | null;
}

export function startingProgress(embeds: boolean): IndexProgress {
  return { phase: 'reading', files_done: 0, files_total: null, embeds, chunks_embedded: 0, chunks_to_embed: 0, waiting: null };
}
