import type { EmbedPurpose, Embedder } from './embedder.js';

/** One text's vector, or why there is none. */
export type EmbedWithin = { vector: Float32Array; reason?: undefined } | { vector: null; reason: string };

/**
 * Embeds one text for a caller that must answer rather than wait (a search, set_project's check).
 * A remote endpoint gets `timeoutMs`, and is given up on at its first refusal or failure (the embedder
 * would retry it for minutes); giving up reports it down, so the next callers skip it until the
 * embedder's background probe sees it answer. A local model has no endpoint and no deadline. Only
 * the caller's own cancellation throws.
 */
export async function embedWithin(embedder: Embedder, text: string, purpose: EmbedPurpose, timeoutMs: number, signal?: AbortSignal): Promise<EmbedWithin> {
  const remote = embedder.endpointState !== undefined;
  const giveUp = new AbortController();
  let why: string | null = null;
  const stop = (reason: string) => {
    if (why !== null) return;
    why = reason;
    giveUp.abort();
  };
  const timer = remote ? setTimeout(() => stop(`the embedding endpoint did not answer within ${formatMs(timeoutMs)}`), timeoutMs) : undefined;
  try {
    const { embeddings } = await embedder.embed({
      texts: [text],
      purpose,
      signal: signal ? AbortSignal.any([signal, giveUp.signal]) : giveUp.signal,
      onWait: (wait) => {
        if (wait && remote) stop(`the embedding endpoint is failing: ${wait.what.replace(/, retrying\)$/, ')')}`);
      },
    });
    const vector = embeddings[0];
    return vector ? { vector } : { vector: null, reason: 'the embedder returned no vector' };
  } catch (error) {
    if (signal?.aborted) throw error;
    const reason = why ?? `embedding failed: ${error instanceof Error ? error.message : String(error)}`;
    if (remote) embedder.reportEndpointDown?.(reason);
    return { vector: null, reason };
  } finally {
    clearTimeout(timer);
  }
}

/** "2.0 s", "12 s". */
export function formatMs(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}
