import type { Embedder } from '../../models/embedder.js';
import { embedWithin, formatMs, type EmbedWithin } from '../../models/embed-within.js';
import type { EndpointHealthSnapshot } from '../../models/endpoint-health.js';

/**
 * A search's query vector, never waited on for long: a search answers within 3 s whatever the
 * embedding endpoint does (DESIGN.md), from the lexical index alone when the vector does not come.
 */

/** The query vector may take 2 of a search's 3 s; the server's owner changes it with CODECARTO_QUERY_TIMEOUT_MS. */
export const DEFAULT_QUERY_TIMEOUT_MS = 2_000;

/** A hybrid or semantic search that answered lexically because the query had no vector. */
export type { DegradedSearch } from './search-hit.js';
import type { DegradedSearch } from './search-hit.js';

/**
 * Embeds `query`, or says why not. An endpoint that is down (a background probe is watching for it)
 * is not asked at all; otherwise it gets `embedder.queryTimeoutMs` (default 2 s) and is given up on at
 * its first refusal (embedWithin), which marks it down for the searches after this one.
 */
export async function embedQuery(embedder: Embedder, query: string, signal?: AbortSignal): Promise<EmbedWithin> {
  const endpoint = embedder.endpointState?.();
  if (endpoint?.state === 'down') return { vector: null, reason: downReason(endpoint) };
  return embedWithin(embedder, query, 'query', embedder.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS, signal);
}

/** What a degraded search says beside its results. */
export function degradedNote(degraded: DegradedSearch): string {
  const mode = degraded.requested === 'hybrid' ? 'Hybrid' : 'Semantic';
  return `Semantic half missing: ${degraded.reason}; answered from the lexical index. ${mode} search resumes by itself when the endpoint answers.`;
}

function downReason(state: EndpointHealthSnapshot): string {
  const since = state.since === null ? '' : ` for ${formatMs(Date.now() - state.since)}`;
  const error = state.lastError?.replace(/[.\s]+$/, '');
  const why = error ? ` (${error.length > 300 ? `${error.slice(0, 300)}...` : error})` : '';
  return `the embedding endpoint has been down${since}${why}, so it was not asked; a background probe watches for it`;
}
