/** What one index run did; field names are the MCP contract (DESIGN.md, `index` structuredContent). */
export type IndexState = 'done' | 'running' | 'cancelled' | 'failed';

export interface IndexSummary {
  state: IndexState;
  files_scanned: number;
  files_added: number;
  files_changed: number;
  files_removed: number;
  /** Files seen but not indexed, by reason (binary, too_large, secret, ignored, ...). */
  files_skipped: Record<string, number>;
  chunks_total: number;
  chunks_embedded: number;
  chunks_reused: number;
  chunks_deleted: number;
  /** Real tokens sent to the model. */
  tokens_embedded: number;
  /** Tokens the model computes when each request is padded to its longest text. */
  tokens_padded: number;
  /** Chunk texts still waiting for a vector (non-zero while running, or after a failure). */
  chunks_pending: number;
  seconds: number;
  /** When failed: what happened and what to do. */
  error?: string;
}

export function emptySummary(): IndexSummary {
  return {
    state: 'running',
    files_scanned: 0,
    files_added: 0,
    files_changed: 0,
    files_removed: 0,
    files_skipped: {},
    chunks_total: 0,
    chunks_embedded: 0,
    chunks_reused: 0,
    chunks_deleted: 0,
    tokens_embedded: 0,
    tokens_padded: 0,
    chunks_pending: 0,
    seconds: 0,
  };
}
