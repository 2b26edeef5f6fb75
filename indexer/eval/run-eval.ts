/**
 * `codecarto eval`'s measurement: history queries (commit-miner.ts) run against a project's index in
 * each mode, ranked files judged by retrieval-metrics.ts. The index must already reflect the working
 * tree (the caller runs `index` first); answers are limited to the files it holds. It takes the few
 * things it uses (store, embedder, a search function), so nothing here depends on the Workspace.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CodecartoError } from '../../models/errors/codecarto-error.js';
import { AbortError } from '../../models/errors/abort-error.js';
import { storedFusion, type FusionCalibration } from '../search/fusion-weights.js';
import { canSearchSemantically, type SearchMode, type SearchResponse } from '../search/search.js';
import type { IndexStore } from '../store/store-types.js';
import type { Embedder } from '../../models/embedder.js';
import { mineQueries, SKIP_REASONS, type EvalQuery, type SkipReason } from '../history/commit-miner.js';
import type { GitHistory } from '../history/git-history.js';
import { GrepBaseline } from './grep-baseline.js';
import { firstHitRank, summarizeRanks, type RetrievalMetrics } from '../history/retrieval-metrics.js';
import { commitFunctionAnswers, firstFunctionHitRank, type FunctionAnswer } from '../history/commit-functions.js';

export const EVAL_MODES = ['grep', 'lexical', 'semantic', 'hybrid'] as const;
export type EvalMode = (typeof EVAL_MODES)[number];

/** The one search call eval makes, in one named mode; `Workspace.search` fits. */
export type EvalSearch = (request: {
  query: string;
  k: number;
  mode: SearchMode;
  signal?: AbortSignal;
}) => Promise<Pick<SearchResponse, 'mode' | 'note'> & { results: RankedHit[] }>;

/** A search hit as eval judges it: its file, and its lines for the function figures. */
export interface RankedHit {
  path: string;
  start_line: number;
  end_line: number;
}

/** What eval measures: one project's index, the embedder that wrote its vectors, and search over them. */
export interface EvalTarget {
  /** The project's root; grep reads the indexed files from here. */
  root: string;
  store: IndexStore;
  embedder: Embedder;
  search: EvalSearch;
}

export interface EvalOptions {
  /** The project's history, read before indexing so that a directory without git fails fast (see commitsToRead in commit-miner.ts). */
  history: GitHistory;
  /** Modes to measure; default: grep and lexical, plus semantic and hybrid when the index has usable vectors. */
  modes?: EvalMode[];
  /** Most queries to mine (newest commits first). */
  queries: number;
  /** Results per query; recall@k and MRR@k are computed over the first k distinct files. */
  k: number;
  log?: (message: string) => void;
  signal?: AbortSignal;
}

export interface ModeResult extends RetrievalMetrics {
  seconds: number;
  /**
   * Function level, over the queries with function answers (indexer/history/commit-functions.ts): a hit
   * within the first k counts when its lines hold an answer function's first line. null for grep, which
   * ranks files only.
   */
  function_queries: number | null;
  function_hits_at_k: number | null;
  function_recall_at_k: number | null;
  function_mrr_at_k: number | null;
}

export interface EvalReport {
  project: string;
  /** HEAD when the history was read; the answers are judged against the index of the working tree. */
  head: string;
  evaluated_against: 'index of the working tree';
  index_files: number;
  k: number;
  commits_scanned: number;
  queries: number;
  /** Queries with at least one function answer: a function of the working tree holding a line the commit changed that no later change rewrote. */
  function_queries: number;
  skipped: Record<SkipReason, number>;
  modes: Partial<Record<EvalMode, ModeResult>>;
  /** Modes asked for that could not run, with the reason. */
  unavailable: Partial<Record<EvalMode, string>>;
  /** How hybrid fused its lists (the calibration stored with the index), when hybrid was measured. */
  fusion?: FusionCalibration | null;
}

export async function runEval(project: EvalTarget, options: EvalOptions): Promise<EvalReport> {
  const log = options.log ?? (() => {});
  const indexed = [...project.store.listFiles().keys()].sort();
  if (indexed.length === 0) {
    throw new CodecartoError(`The index of ${project.root} holds no files: run \`codecarto index ${project.root}\` first, or check what it skipped.`);
  }

  const history = options.history;
  const mined = mineQueries(history.commits, { indexed: new Set(indexed), pathPrefix: history.pathPrefix, limit: options.queries });
  const skippedText = SKIP_REASONS.filter((r) => mined.skipped[r] > 0).map((r) => `${r} ${mined.skipped[r]}`).join(', ');
  log(`Mined ${mined.queries.length} queries from ${mined.scanned} commits${skippedText ? ` (skipped: ${skippedText})` : ''}.`);
  if (mined.queries.length === 0) {
    throw new CodecartoError(
      `None of the last ${mined.scanned} commits of ${project.root} can serve as a query (skipped: ${skippedText || 'none'}); ` +
        'eval needs commits with a descriptive subject that changed 1 to 5 source files still in the index.',
    );
  }

  const functionAnswers = await commitFunctionAnswers(mined.queries, { root: project.root, pathPrefix: history.pathPrefix, signal: options.signal });
  const functionQueries = mined.queries.filter((q) => (functionAnswers.get(q.commit)?.length ?? 0) > 0).length;
  log(`${functionQueries} of them changed functions that are still in the working tree (the function answers).`);

  const semanticReady = canSearchSemantically(project.store, project.embedder);
  const modes = options.modes ?? EVAL_MODES.filter((m) => semanticReady || m === 'grep' || m === 'lexical');
  const report: EvalReport = {
    project: project.root,
    head: history.head,
    evaluated_against: 'index of the working tree',
    index_files: indexed.length,
    k: options.k,
    commits_scanned: mined.scanned,
    queries: mined.queries.length,
    function_queries: functionQueries,
    skipped: mined.skipped,
    modes: {},
    unavailable: {},
  };
  for (const mode of EVAL_MODES.filter((m) => modes.includes(m))) {
    if ((mode === 'semantic' || mode === 'hybrid') && !semanticReady) {
      report.unavailable[mode] =
        `the index has no vectors of this provider's model (provider ${project.embedder.provider}); ` +
        'run eval with --provider onnx, dgx or openai to embed the project first';
      continue;
    }
    const started = performance.now();
    const rank = mode === 'grep' ? await grepRanker(project.root, indexed, options.signal) : searchRanker(project.search, mode, options.signal);
    const ranks: (number | null)[] = [];
    const functionRanks: (number | null)[] = [];
    for (const query of mined.queries) {
      if (options.signal?.aborted) throw new AbortError('eval cancelled');
      const ranked = await rank(query, options.k);
      ranks.push(firstHitRank(ranked.paths, query.answers, options.k));
      const functions: FunctionAnswer[] = functionAnswers.get(query.commit) ?? [];
      if (ranked.hits && functions.length > 0) functionRanks.push(firstFunctionHitRank(ranked.hits, functions, options.k));
      if (ranks.length % 50 === 0) log(`${mode}: ${ranks.length}/${mined.queries.length} queries`);
    }
    const seconds = (performance.now() - started) / 1000;
    const byFunction = mode === 'grep' ? null : summarizeRanks(functionRanks, options.k);
    report.modes[mode] = {
      ...summarizeRanks(ranks, options.k),
      seconds,
      function_queries: byFunction?.queries ?? null,
      function_hits_at_k: byFunction?.hits_at_k ?? null,
      function_recall_at_k: byFunction?.recall_at_k ?? null,
      function_mrr_at_k: byFunction?.mrr_at_k ?? null,
    };
    if (mode === 'hybrid') report.fusion = storedFusion(project.store, project.embedder.modelId);
    log(`${mode}: done in ${seconds.toFixed(1)} s`);
  }
  return report;
}

/** Ranked paths for the file figures, and the hits with their lines for the function figures (null: a ranker of files only). */
type Ranker = (query: EvalQuery, k: number) => Promise<{ paths: string[]; hits: RankedHit[] | null }>;

function searchRanker(search: EvalSearch, mode: SearchMode, signal: AbortSignal | undefined): Ranker {
  return async (query, k) => {
    const response = await search({ query: query.query, k, mode, signal });
    // A silent fallback (hybrid answered lexically) would credit one mode with another's results.
    if (response.mode !== mode) throw new CodecartoError(`Search answered in mode ${response.mode}, not ${mode}: ${response.note ?? ''}`);
    return { paths: response.results.map((hit) => hit.path), hits: response.results };
  };
}

/** The grep baseline over the files the index holds, as they are in the working tree now. */
async function grepRanker(root: string, paths: string[], signal: AbortSignal | undefined): Promise<Ranker> {
  const files: { path: string; text: string }[] = [];
  for (const path of paths) {
    if (signal?.aborted) throw new AbortError('eval cancelled');
    try {
      files.push({ path, text: await readFile(join(root, path), 'utf8') });
    } catch {
      // Deleted since the last index: grep would not see it either.
    }
  }
  const baseline = new GrepBaseline(files);
  return async (query, k) => ({ paths: baseline.rank(query.query, k).map((hit) => hit.path), hits: null });
}
