import type { Embedder } from '../../models/embedder.js';
import { embedWithin } from '../../models/embed-within.js';

/** set_project answers within 5 s even when the endpoint does not: the check gets what is left of 4 s (0.5 to 3.5 s). */
const ENDPOINT_CHECK_DEADLINE_MS = 4_000;

/**
 * Asks a remote embedder's endpoint for one vector right after set_project saved the settings, and says
 * what a missing answer means for the user; undefined when it answered or there is no endpoint.
 * `started`: when the set_project call began (epoch ms).
 */
export async function endpointWarning(embedder: Embedder, started: number, signal?: AbortSignal): Promise<string | undefined> {
  if (!embedder.endpointState) return undefined;
  const budgetMs = Math.min(3_500, Math.max(500, started + ENDPOINT_CHECK_DEADLINE_MS - Date.now()));
  const check = await embedWithin(embedder, 'ping', 'passage', budgetMs, signal);
  if (check.vector) return undefined;
  return (
    `Warning: the settings are saved, but ${check.reason}. Until it answers, search answers from the lexical index alone ` +
    '(a background probe watches for the endpoint; hybrid resumes by itself) and `index` cannot embed; `status` shows its health.'
  );
}
