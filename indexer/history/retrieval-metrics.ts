/**
 * Retrieval arithmetic for `codecarto eval`. A query's answer is a set of files; a result list is
 * judged by the first result whose path is one of them, after duplicate paths are removed (a search
 * returns chunks, several of which may come from one file).
 */

/** Paths in first-seen order, each once. */
export function dedupePaths(paths: Iterable<string>): string[] {
  return [...new Set(paths)];
}

/**
 * 1-based rank of the first answer among the first `k` distinct paths of `rankedPaths`, or null when
 * none of them is an answer.
 */
export function firstHitRank(rankedPaths: Iterable<string>, answers: Iterable<string>, k: number): number | null {
  const wanted = new Set(answers);
  const distinct = dedupePaths(rankedPaths).slice(0, k);
  const index = distinct.findIndex((path) => wanted.has(path));
  return index < 0 ? null : index + 1;
}

export interface RetrievalMetrics {
  queries: number;
  /** Queries whose first result is an answer. */
  hits_at_1: number;
  /** Queries with an answer among the first k distinct paths. */
  hits_at_k: number;
  /** hits_at_1 / queries. */
  recall_at_1: number;
  /** hits_at_k / queries ("recall@10" for k = 10: any changed file counts as found). */
  recall_at_k: number;
  /** Mean over queries of 1 / rank of the first answer, 0 when none is within k. */
  mrr_at_k: number;
}

/** Aggregates first-hit ranks (null = no answer within k); all rates are 0 for an empty list. */
export function summarizeRanks(ranks: readonly (number | null)[], k: number): RetrievalMetrics {
  const queries = ranks.length;
  let hits1 = 0;
  let hitsK = 0;
  let reciprocal = 0;
  for (const rank of ranks) {
    if (rank === null || rank > k) continue;
    hitsK++;
    if (rank === 1) hits1++;
    reciprocal += 1 / rank;
  }
  const rate = (n: number) => (queries === 0 ? 0 : n / queries);
  return {
    queries,
    hits_at_1: hits1,
    hits_at_k: hitsK,
    recall_at_1: rate(hits1),
    recall_at_k: rate(hitsK),
    mrr_at_k: rate(reciprocal),
  };
}
