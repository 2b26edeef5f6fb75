/**
 * Calibrates hybrid search's fusion on the repository's own history: older commit subjects are queries
 * and the files each commit changed are the answers (as in `codecarto eval`); the semantic list's weight
 * in the rank fusion is the one that ranks those answers best (MRR@10). A strong model earns weight 1 or
 * more; a weak one (the generated test model, a model that does not know the codebase's language) earns
 * less, down to 0, where hybrid ranks as lexical does and semantic results only fill the tail. The newest
 * queries are left out, so `codecarto eval` measures on queries the calibration never saw.
 */
import type { Embedder } from '../../models/embedder.js';
import { isAbortError } from '../../models/errors/abort-error.js';
import { commitsToRead, DEFAULT_EVAL_QUERIES, mineQueries, type EvalQuery } from './commit-miner.js';
import { readGitHistory } from './git-history.js';
import { firstHitRank, summarizeRanks } from './retrieval-metrics.js';
import { FUSION_META_KEY, type FusionCalibration } from '../search/fusion-weights.js';
import { candidateDepth, fuseHits, rankHits, semanticCandidates, type SearchHit } from '../search/search.js';
import type { IndexStore } from '../store/store-types.js';

/** Weights tried; ties go to the one closest to 1 (plain fusion). */
export const SEMANTIC_WEIGHTS = [0, 0.125, 0.25, 0.5, 1, 2, 4] as const;
/** The newest history queries, left for `codecarto eval` (its default count), so it measures on queries the calibration never saw. */
export const HELD_OUT_NEWEST = DEFAULT_EVAL_QUERIES;
export const CALIBRATION_QUERIES = 300;
/** Fewer queries than this say too little to move away from plain fusion. */
export const MIN_CALIBRATION_QUERIES = 40;
const K = 10;

export interface CalibrateOptions {
  root: string;
  store: IndexStore;
  embedder: Embedder;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/** Measures, stores (meta `fusion_calibration`) and returns the calibration. Never throws for a missing or short history. */
export async function calibrateFusion(options: CalibrateOptions): Promise<FusionCalibration> {
  const { store, embedder, signal } = options;
  const log = options.log ?? (() => {});
  const base = { model_id: embedder.modelId, held_out_newest: HELD_OUT_NEWEST, at: new Date().toISOString() };
  const plain = (reason: string, queries = 0, head?: string): FusionCalibration =>
    save(store, { ...base, semantic_weight: 1, method: 'default', reason, queries, ...(head ? { head } : {}) });

  let history;
  try {
    history = await readGitHistory(options.root, { maxCommits: commitsToRead(HELD_OUT_NEWEST + CALIBRATION_QUERIES), signal, timeoutMs: 60_000 });
  } catch (error) {
    if (isAbortError(error)) throw error;
    return plain(`no git history to calibrate on (${(error as Error).message.split('\n')[0]})`);
  }
  const indexed = new Set(store.listFiles().keys());
  const mined = mineQueries(history.commits, { indexed, pathPrefix: history.pathPrefix, limit: HELD_OUT_NEWEST + CALIBRATION_QUERIES });
  const queries = mined.queries.slice(HELD_OUT_NEWEST);
  if (queries.length < MIN_CALIBRATION_QUERIES) {
    return plain(
      `${queries.length} history queries beyond the newest ${HELD_OUT_NEWEST} (${mined.queries.length} in ${mined.scanned} commits); ${MIN_CALIBRATION_QUERIES} needed`,
      queries.length,
      history.head,
    );
  }

  log(`fusion: calibrating the semantic weight on ${queries.length} history queries`);
  const vectors = await embedQueries(embedder, queries, signal);
  const ranks = { lexical: [] as (number | null)[], semantic: [] as (number | null)[], hybrid: SEMANTIC_WEIGHTS.map(() => [] as (number | null)[]) };
  const depth = candidateDepth(K);
  queries.forEach((query, i) => {
    const rankOf = (hits: SearchHit[]) => firstHitRank(hits.map((h) => h.path), query.answers, K);
    const lexical = store.lexicalSearch(query.query, depth);
    const semantic = semanticCandidates(store, vectors[i], depth, undefined, lexical);
    ranks.lexical.push(rankOf(rankHits(store, lexical)));
    ranks.semantic.push(rankOf(rankHits(store, semantic)));
    SEMANTIC_WEIGHTS.forEach((w, j) => ranks.hybrid[j].push(rankOf(fuseHits(store, lexical, semantic, w))));
  });
  const mrr = (r: (number | null)[]) => round(summarizeRanks(r, K).mrr_at_k);
  const hybrid = SEMANTIC_WEIGHTS.map((w, j) => ({ w, mrr: mrr(ranks.hybrid[j]) }));
  // Ties go to the weight nearest plain fusion (1), on a log scale; 0 counts as 1/64.
  const fromOne = (w: number) => Math.abs(Math.log2(w || 1 / 64));
  const best = hybrid.reduce((a, b) => (b.mrr > a.mrr || (b.mrr === a.mrr && fromOne(b.w) < fromOne(a.w)) ? b : a));
  const result = save(store, {
    ...base,
    semantic_weight: best.w,
    method: 'calibrated',
    head: history.head,
    queries: queries.length,
    mrr_at_10: { lexical: mrr(ranks.lexical), semantic: mrr(ranks.semantic), hybrid: Object.fromEntries(hybrid.map((h) => [String(h.w), h.mrr])) },
  });
  log(`fusion: semantic weight ${best.w} (MRR@10 hybrid ${best.mrr}, lexical ${result.mrr_at_10!.lexical}, semantic ${result.mrr_at_10!.semantic})`);
  return result;
}

async function embedQueries(embedder: Embedder, queries: EvalQuery[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const size = Math.max(1, embedder.maxBatchSize);
  for (let i = 0; i < queries.length; i += size) {
    const texts = queries.slice(i, i + size).map((q) => q.query);
    const { embeddings } = await embedder.embed({ texts, purpose: 'query', signal });
    out.push(...embeddings);
  }
  return out;
}

function save(store: IndexStore, calibration: FusionCalibration): FusionCalibration {
  store.setMeta(FUSION_META_KEY, JSON.stringify(calibration));
  return calibration;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
