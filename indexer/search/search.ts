import type { Embedder } from '../../models/embedder.js';
import { InvalidInputError } from '../../models/errors/codecarto-error.js';
import { semanticWeightFor } from './fusion-weights.js';
import { applyRankingPriors } from './ranking-priors.js';
import { preferAnsweringChunks } from './prefer-answering-chunks.js';
import { withDefinitionHeads } from './definition-heads.js';
import { weighNameWordsByIdf } from './rare-word-names.js';
import { languageFilter } from './language-filter.js';
import { globList, pathGlobMatcher } from './path-glob.js';
import { degradedNote, embedQuery, type DegradedSearch } from './query-embedding.js';
import { MCP_NEXT_STEPS, type NextSteps } from '../workspace/next-steps.js';
import type { ChunkHead, ChunkRow, IndexStore, ScoredChunkId, SearchFilter } from '../store/store-types.js';
import type { SearchHit } from './search-hit.js';

export type { SearchMode } from './search-hit.js';
import type { SearchMode } from './search-hit.js';

export interface SearchRequest {
  query: string;
  k: number;
  pathGlob?: string | string[];
  language?: string[];
  mode?: SearchMode;
  signal?: AbortSignal;
}

export type { SearchHit } from './search-hit.js';

export interface SearchResponse {
  results: SearchHit[];
  /** The mode actually used (hybrid falls back to lexical when there are no usable vectors). */
  mode: SearchMode;
  /** Why the mode differs from the one asked for, if it does. */
  note?: string;
  /** Set when a hybrid or semantic search answered lexically because the query got no vector in time. */
  degraded?: DegradedSearch;
}

/**
 * Reciprocal rank fusion constant, fixed at Cormack et al.'s 60 by DESIGN.md's search contract.
 * docs/quality.md measured 10 at least as good on every repository (the test model's weak semantic
 * list then disturbs the lexical top less); changing it is a contract change, so it is recorded there.
 */
export const RRF_K = 60;
/**
 * A file's ranking score is its best candidate chunk's score plus FILE_EVIDENCE_WEIGHT times its next
 * FILE_EVIDENCE_CHUNKS candidates' scores: a file that matches the query in several places is likelier
 * to be the one wanted than a file with one equally good chunk. The cap keeps a long file of weak
 * matches from outranking a strong one (a file can gain at most half its best score), which matters
 * most for fused scores, whose tail is flat (measured in docs/quality.md).
 */
export const FILE_EVIDENCE_WEIGHT = 0.1;
export const FILE_EVIDENCE_CHUNKS = 5;
/** Candidate chunks read per list for a k of 10: enough to see each file's other matches, few enough to stay fast. */
const MIN_CANDIDATES = 100;

/**
 * Fuses ranked lists: each id scores the sum of weight / (RRF_K + rank) over the lists it appears in
 * (weights default to 1: plain reciprocal rank fusion).
 */
export function reciprocalRankFusion(lists: ScoredChunkId[][], k = RRF_K, weights: readonly number[] = []): ScoredChunkId[] {
  const scores = new Map<number, number>();
  lists.forEach((list, i) => {
    const weight = weights[i] ?? 1;
    list.forEach((hit, rank) => scores.set(hit.chunkId, (scores.get(hit.chunkId) ?? 0) + weight / (k + rank + 1)));
  });
  return [...scores.entries()].map(([chunkId, score]) => ({ chunkId, score })).sort((a, b) => b.score - a.score || a.chunkId - b.chunkId);
}

/** Whether the store holds vectors this embedder can query (same model, same dims). */
export function canSearchSemantically(store: IndexStore, embedder: Embedder): boolean {
  if (embedder.provider === 'none') return false;
  const model = store.getModel();
  return !!model && model.modelId === embedder.modelId && store.hasVectors();
}

/** `advice` words what the caller is told to do (the project's root and the surface's NextSteps; the MCP tools' by default). */
export async function search(
  store: IndexStore,
  embedder: Embedder,
  request: SearchRequest,
  advice: { steps: NextSteps; root: string } = { steps: MCP_NEXT_STEPS, root: '' },
): Promise<SearchResponse> {
  const semanticReady = canSearchSemantically(store, embedder);
  let mode: SearchMode = request.mode ?? (semanticReady ? 'hybrid' : 'lexical');
  let note: string | undefined;
  const { steps, root } = advice;
  if (request.mode === 'semantic' && !semanticReady) {
    throw new InvalidInputError(
      `${semanticUnavailableReason(store, embedder, steps.index(root))} Use ${steps.choices('mode', ['lexical'])}, or ${steps.index(root)} with an embedding provider first.`,
    );
  }
  // Said plainly whenever search is lexical for want of vectors, not because the caller asked for it.
  if (request.mode !== 'lexical' && !semanticReady) {
    note = semanticUnavailableReason(store, embedder, steps.index(root)) + ' Searched lexically.';
    mode = 'lexical';
  }

  const filter = buildFilter(request);
  const depth = candidateDepth(request.k);
  let reads = readOnce(store);
  const lexical = applyRankingPriors(reads, request.query, store.lexicalSearch(request.query, depth, filter));
  if (mode === 'lexical') return { results: firstAnswers(reads, rankHits(reads, lexical, request.k), request.query, request.k), mode, ...(note ? { note } : {}) };
  // An endpoint that is down, slow or refusing costs the semantic half, never the answer.
  const query = await embedQuery(embedder, request.query, request.signal);
  // Rows read before the wait may have been re-indexed meanwhile (a watcher): read them again.
  reads = readOnce(store);
  if (query.vector === null) {
    const degraded: DegradedSearch = { requested: mode, reason: query.reason };
    const notes = [note, degradedNote(degraded)].filter((n) => n !== undefined).join(' ');
    return { results: firstAnswers(reads, rankHits(reads, lexical, request.k), request.query, request.k), mode: 'lexical', note: notes, degraded };
  }
  const semantic = applyRankingPriors(reads, request.query, semanticCandidates(store, query.vector, depth, filter, lexical));
  const hits = mode === 'hybrid' ? fuseHits(reads, lexical, semantic, semanticWeightFor(store, embedder.modelId), request.k) : rankHits(reads, semantic, request.k);
  return { results: firstAnswers(reads, hits, request.query, request.k), mode, ...(note ? { note } : {}) };
}

/**
 * The store with `getChunks` and `getChunkHeads` answered from the rows this search already read: ranking
 * priors, fusion and definition heads ask for the same candidates up to four times.
 */
function readOnce(store: IndexStore): IndexStore {
  const rows = new Map<number, ChunkRow>();
  const heads = new Map<number, ChunkHead>();
  const getChunks = (ids: number[]): ChunkRow[] => {
    const missing = ids.filter((id) => !rows.has(id));
    if (missing.length > 0) for (const row of store.getChunks(missing)) rows.set(row.id, row);
    return ids.flatMap((id) => rows.get(id) ?? []);
  };
  const getChunkHeads = (ids: number[]): ChunkHead[] => {
    const missing = ids.filter((id) => !rows.has(id) && !heads.has(id));
    if (missing.length > 0) for (const head of store.getChunkHeads(missing)) heads.set(head.id, head);
    return ids.flatMap((id) => rows.get(id) ?? heads.get(id) ?? []);
  };
  // Every other method runs on the store itself (its state stays its own).
  return new Proxy(store, {
    get: (target, prop) => {
      if (prop === 'getChunks') return getChunks;
      if (prop === 'getChunkHeads') return getChunkHeads;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The first k answers: the hits of the files among the first k, their name match counted by idf
 * (rare-word-names.ts: files keep their places), then `preferAnsweringChunks(hits, query).slice(0, k)`. It
 * re-orders each file's own hits and may move one of those files' second hits up (never another file's),
 * so the first k places depend on those files alone. Same answer; the
 * comment test it runs on every declaration hit was a third of a search (docs/performance.md).
 */
function firstAnswers(store: IndexStore, hits: SearchHit[], query: string, k: number): SearchHit[] {
  if (!(k >= 0)) return preferAnsweringChunks(weighNameWordsByIdf(store, query, hits), query).slice(0, k);
  const files = new Set(hits.slice(0, k).map((hit) => hit.path));
  return preferAnsweringChunks(weighNameWordsByIdf(store, query, hits.filter((hit) => files.has(hit.path))), query).slice(0, k);
}

/** Candidates per list for k results. Over-fetch: merging, fusion and one-hit-per-file all shrink the list, and file evidence needs a file's other chunks. */
export function candidateDepth(k: number): number {
  return Math.max(MIN_CANDIDATES, k * 10);
}

/**
 * Hybrid ranking: reciprocal rank fusion (k = RRF_K) of the lexical list (weight 1) and the semantic list
 * (`semanticWeight`: 1 unless calibrated, indexer/history/fusion-calibration.ts), at two levels. Files are ordered
 * by fusing each list's file ranking (files ranked by their own evidence in that list, as in the single
 * modes); chunks within a file, and the scores shown, by fusing the chunk ranks. At weight 0 the files come
 * in exactly the lexical order, with files only the semantic list found after them.
 */
export function fuseHits(store: IndexStore, lexical: ScoredChunkId[], semantic: ScoredChunkId[], semanticWeight: number, limit = Infinity): SearchHit[] {
  const fused = reciprocalRankFusion([lexical, semantic], RRF_K, [1, semanticWeight]);
  const rows = new Map(store.getChunkHeads(fused.map((r) => r.chunkId)).map((row) => [row.id, row]));
  const scoredRows = (list: ScoredChunkId[]) => list.flatMap((hit) => (rows.has(hit.chunkId) ? [{ row: rows.get(hit.chunkId)!, score: hit.score }] : []));
  const fileRanks = (list: ScoredChunkId[]) => {
    const ranked = [...fileScores(scoredRows(list)).entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    return new Map(ranked.map(([path], rank) => [path, rank]));
  };
  const lexicalFiles = fileRanks(lexical);
  const semanticFiles = fileRanks(semantic);
  const fileScore = new Map<string, number>();
  for (const path of new Set([...lexicalFiles.keys(), ...semanticFiles.keys()])) {
    const l = lexicalFiles.get(path);
    const s = semanticFiles.get(path);
    fileScore.set(path, (l === undefined ? 0 : 1 / (RRF_K + l + 1)) + (s === undefined ? 0 : semanticWeight / (RRF_K + s + 1)));
  }
  return diversifyByFile(mergeAdjacent(withDefinitionHeads(store, withTexts(store, rowsOfTopFiles(scoredRows(fused), fileScore, limit)))), fileScore);
}

/**
 * Ranked chunk ids to hits: chunks read, neighbours in a file merged, files ranked by their evidence, one hit per file first.
 * With `limit` (here and in fuseHits), only the first `limit` hits are sure to be those of the full list.
 */
export function rankHits(store: IndexStore, ranked: ScoredChunkId[], limit = Infinity): SearchHit[] {
  const rows = store.getChunkHeads(ranked.map((r) => r.chunkId));
  const scoreOf = new Map(ranked.map((r) => [r.chunkId, r.score]));
  const scored = rows.map((row) => ({ row, score: scoreOf.get(row.id) ?? 0 }));
  const fileScore = fileScores(scored);
  return diversifyByFile(mergeAdjacent(withDefinitionHeads(store, withTexts(store, rowsOfTopFiles(scored, fileScore, limit)))), fileScore);
}

/** The scored heads as whole rows, text read (only for the hits that can be shown); a chunk deleted meanwhile is left out. */
function withTexts(store: IndexStore, scored: { row: ChunkHead; score: number }[]): { row: ChunkRow; score: number }[] {
  const rows = new Map(store.getChunks(scored.map((s) => s.row.id)).map((row) => [row.id, row]));
  return scored.flatMap((s) => (rows.has(s.row.id) ? [{ row: rows.get(s.row.id)!, score: s.score }] : []));
}

/**
 * `scored` without the rows of files that cannot be among the first `limit` hits, so those come out the same
 * and the rest is neither read nor merged: diversifyByFile puts each file's best hit first (files by score,
 * ties in order of first appearance), and definition heads and merging work within one file.
 */
function rowsOfTopFiles<T extends { row: ChunkHead }>(scored: T[], fileScore: ReadonlyMap<string, number>, limit: number): T[] {
  const files = [...new Set(scored.map((s) => s.row.path))].map((path, index) => ({ path, index, score: fileScore.get(path) }));
  if (!(limit >= 0 && limit < files.length) || files.some((f) => f.score === undefined || !Number.isFinite(f.score))) return scored;
  files.sort((a, b) => b.score! - a.score! || a.index - b.index);
  const keep = new Set(files.slice(0, limit).map((f) => f.path));
  return scored.filter((s) => keep.has(s.row.path));
}

/**
 * HNSW neighbours plus the lexical candidates scored exactly against the query. An approximate graph
 * can miss a vector the query is close to (out-of-distribution queries are its weak spot); a chunk
 * that also matches the words then still gets its true semantic rank.
 */
export function semanticCandidates(store: IndexStore, query: Float32Array, depth: number, filter: SearchFilter | undefined, lexical: ScoredChunkId[]): ScoredChunkId[] {
  const approximate = store.semanticSearch(query, depth, filter);
  const seen = new Set(approximate.map((h) => h.chunkId));
  const exact = store.scoreChunks(query, lexical.map((h) => h.chunkId).filter((id) => !seen.has(id)));
  return [...approximate, ...exact].sort((a, b) => b.score - a.score || a.chunkId - b.chunkId).slice(0, depth);
}

function semanticUnavailableReason(store: IndexStore, embedder: Embedder, reindex: string): string {
  const model = store.getModel();
  if (embedder.provider === 'none') return 'Provider "none" has no embedding model, so semantic search is unavailable.';
  if (!model || !store.hasVectors()) return 'The index holds no vectors yet.';
  return `The index holds vectors of ${model.modelId}, not of ${embedder.modelId}; ${reindex} to re-embed.`;
}

function buildFilter(request: SearchRequest): SearchFilter | undefined {
  const pathFilter = pathGlobMatcher(globList(request.pathGlob));
  const languages = request.language?.length ? languageFilter(request.language) : undefined;
  if (!pathFilter && !languages) return undefined;
  return {
    ...(pathFilter ? { pathFilter } : {}),
    ...(languages ? { languages } : {}),
  };
}

/** Each file's score: its best chunk's plus FILE_EVIDENCE_WEIGHT times its next FILE_EVIDENCE_CHUNKS chunks' (scores are positive). */
export function fileScores(candidates: { row: ChunkHead; score: number }[]): Map<string, number> {
  const byFile = new Map<string, number[]>();
  for (const { row, score } of candidates) {
    const scores = byFile.get(row.path);
    if (scores) scores.push(score);
    else byFile.set(row.path, [score]);
  }
  const out = new Map<string, number>();
  for (const [path, scores] of byFile) {
    scores.sort((a, b) => b - a);
    let rest = 0;
    for (let i = 1; i <= FILE_EVIDENCE_CHUNKS && i < scores.length; i++) rest += scores[i];
    out.set(path, scores[0] + FILE_EVIDENCE_WEIGHT * rest);
  }
  return out;
}

/**
 * Orders hits so that every file's best hit comes before any file's second hit (and so on), files by
 * their file score; within a file the hits keep their order. Ten results then name up to ten files, and
 * the chunk shown for a file is its best one.
 */
export function diversifyByFile(hits: SearchHit[], fileScore: ReadonlyMap<string, number>): SearchHit[] {
  const seen = new Map<string, number>();
  const keyed = hits.map((hit, index) => {
    const nth = seen.get(hit.path) ?? 0;
    seen.set(hit.path, nth + 1);
    return { hit, index, nth, file: fileScore.get(hit.path) ?? hit.score };
  });
  keyed.sort((a, b) => a.nth - b.nth || b.file - a.file || a.index - b.index);
  return keyed.map((k) => k.hit);
}

/**
 * Hits from one file whose line ranges touch or overlap become one hit spanning both, with the
 * better score and position; the list stays ordered by score.
 */
export function mergeAdjacent(hits: { row: ChunkRow; score: number }[]): SearchHit[] {
  const merged: { hit: SearchHit; parts: ChunkRow[] }[] = [];
  for (const { row, score } of hits) {
    const target = merged.find(
      (m) => m.hit.path === row.path && row.startLine <= m.hit.end_line + 1 && row.endLine >= m.hit.start_line - 1,
    );
    if (target) {
      target.parts.push(row);
      target.hit.start_line = Math.min(target.hit.start_line, row.startLine);
      target.hit.end_line = Math.max(target.hit.end_line, row.endLine);
      continue;
    }
    merged.push({
      hit: {
        path: row.path,
        start_line: row.startLine,
        end_line: row.endLine,
        language: row.language,
        symbol: row.symbol,
        kind: row.kind,
        score,
        snippet: '',
      },
      parts: [row],
    });
  }
  // The whole code, each line once (answers show a window of it: indexer/search/snippet-window.ts).
  return merged.map(({ hit, parts }) => {
    const lines: string[] = [];
    let covered = -Infinity;
    for (const part of parts.sort((a, b) => a.startLine - b.startLine)) {
      lines.push(...part.text.split('\n').slice(Math.max(0, covered - part.startLine + 1)));
      covered = Math.max(covered, part.endLine);
    }
    return { ...hit, snippet: lines.join('\n') };
  });
}
