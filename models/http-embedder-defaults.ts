/**
 * What every HTTP embedder (dgx, openai) starts from unless its options say otherwise: one place, so the
 * providers cannot drift apart and docs can quote one number.
 */
export const HTTP_EMBEDDER_DEFAULTS = {
  /** Most texts per request (set_project batch_size); an upper bound that out-of-memory answers lower. */
  batchSize: 32,
  /** Padded tokens (texts x longest) per request the planner aims for: 48 texts of 512 tokens. */
  tokenBudget: 48 * 512,
  /** `embed` calls the indexer may keep in flight: one computing, one uploading. */
  maxParallelCalls: 2,
  /** The first request's wait for an answer (a cold server may be loading its model), and the most any request waits. */
  requestTimeoutMs: 60_000,
  /** The least a request waits once the endpoint has answered. */
  minRequestTimeoutMs: 15_000,
  /** How long to keep retrying an endpoint that refuses connections or answers 429/503. */
  retryWindowMs: 120_000,
  /** Tries of one batch that keeps getting a plain 5xx. */
  transientAttempts: 5,
  /** The longest `health()` waits for its probe: status must answer within a second. */
  healthTimeoutMs: 800,
  /** A background probe may wait longer than status's: nobody is waiting on it. */
  backgroundProbeTimeoutMs: 5_000,
} as const;
