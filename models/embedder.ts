import type { TextTokenizer } from './tokenizer.js';
import type { EndpointHealthSnapshot } from './endpoint-health.js';

export const PROVIDERS = ['dgx', 'onnx', 'openai', 'none'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** Queries get the model's query instruction; passages (code chunks) get none. */
export type EmbedPurpose = 'passage' | 'query';

export interface EmbedCall {
  /** At most `maxBatchSize` texts; more is a TooManyValuesForCallError. */
  texts: string[];
  purpose: EmbedPurpose;
  signal?: AbortSignal;
  /**
   * Told when the call starts waiting on something other than the model's work (an unreachable or
   * overloaded endpoint being retried), and with null when that wait ends. `since` is epoch ms.
   */
  onWait?: (wait: { what: string; since: number } | null) => void;
}

export interface EmbedOutput {
  /** One L2-normalized vector per input text, in input order. */
  embeddings: Float32Array[];
}

export interface EmbedderHealth {
  ok: boolean;
  /** e.g. "endpoint http://host:8080/embed answered in 12 ms" or "onnxruntime cpu execution provider". */
  detail: string;
  /** Execution provider actually in use, for onnx ("cuda" | "cpu"). */
  executionProvider?: string;
}

/**
 * One embedding model behind one small interface. The indexer sees only this, never
 * onnxruntime-node or HTTP code.
 */
export interface Embedder {
  readonly provider: ProviderName;
  /** Stable identity of the model; the store never mixes vectors of two ids. */
  readonly modelId: string;
  /** Vector size, or null until known (an HTTP endpoint tells it with its first answer). */
  readonly dimensions: number | null;
  /** Upper bound on texts per `embed` call. */
  readonly maxBatchSize: number;
  /** Longest input in tokens; longer texts are truncated by the embedder. */
  readonly maxInputTokens: number;
  /** Target tokens per call (including padding) used by the batch planner. */
  readonly tokenBudget: number;
  /** How many `embed` calls may be in flight at once. */
  readonly maxParallelCalls: number;
  /** Tokenizer that counts tokens as the model does; the chunker and batch planner use it. */
  readonly tokenizer: TextTokenizer;
  embed(call: EmbedCall): Promise<EmbedOutput>;
  /**
   * Answers within about a second whatever the model or endpoint is doing (status calls it at any
   * time): a short probe, else what the embedder's own requests have seen. Never retried.
   */
  health(signal?: AbortSignal): Promise<EmbedderHealth>;
  /**
   * Remote embedders: what their requests have seen of the endpoint (up, down, unknown), without asking
   * it. While down, a background probe watches for it to come back.
   */
  endpointState?(): EndpointHealthSnapshot;
  /**
   * Remote embedders: a caller that could not wait for the endpoint (a search's query vector) says so; the
   * endpoint counts as down, so later searches skip it, until the background probe gets an answer.
   */
  reportEndpointDown?(reason: string): void;
  /** Remote embedders: how long a search waits for its query vector before answering lexically. */
  readonly queryTimeoutMs?: number;
  close(): Promise<void>;
}
