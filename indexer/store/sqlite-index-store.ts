/**
 * The index store: SQLite (source of truth, see sqlite-store.ts) plus an in-memory HNSW graph derived from
 * its `vectors` table (see vector-index.ts). The graph is written to `vectors.hnsw` only by
 * flushVectorIndex(), which records in meta which state of SQLite the file holds; on open, a file that does
 * not match SQLite (missing, unreadable, or older than the last vector write, e.g. after a crash between a
 * commit and a flush) is rebuilt from the stored vectors. Nothing is ever re-embedded.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { toFtsMatchExpression } from './fts-tokens.js';
import { openDatabase, RESERVED_META_KEYS, SqliteStore, type VectorStats } from './sqlite-store.js';
import { IndexStoreError, VectorDimensionsError } from './store-errors.js';
import type {
  ChunkInput,
  ChunkRow,
  FileRecord,
  IndexedModel,
  IndexStore,
  PendingText,
  ScoredChunkId,
  SearchFilter,
  StoreCounts,
} from './store-types.js';
import { DEFAULT_HNSW_PARAMS, VectorIndex, type HnswParams } from './vector-index.js';

export const INDEX_DB_FILE = 'index.db';
export const HNSW_FILE = 'vectors.hnsw';

export interface OpenIndexStoreOptions {
  /** HNSW parameters; defaults M=16, efConstruction=100, ef=256 (measured: docs/performance.md). M and efConstruction apply to graphs built from now on. */
  hnsw?: { M?: number; efConstruction?: number; ef?: number };
  /** Diagnostics (goes to stderr in the server; never stdout). */
  log?: (msg: string) => void;
}

/** What flushVectorIndex() wrote, recorded in meta `hnsw_state`; the file is trusted only if SQLite still matches it. */
interface HnswFileState {
  /** meta `vectors_gen` when the file was written (bumped by every vector insert or delete). */
  gen: number;
  /** Live vectors in the file = SQLite's vector count then. */
  vectors: number;
  maxLabel: number;
  /** Points in the file including deleted ones (what hnswlib's getCurrentCount() reads back). */
  points: number;
  dims: number;
}

/** Semantic over-fetch rounds when a filter or label aliasing leaves fewer than k hits; each round fetches 4x more. */
const MAX_FETCH_ROUNDS = 4;
const FETCH_GROWTH = 4;
/** Ranked lexical rows a filtered search reads at most before giving up on finding k survivors. */
const MAX_FILTERED_LEXICAL_ROWS = 100_000;
/** Deleted points beyond this share of the graph make the next flush rebuild it compactly. */
const MAX_DELETED_SHARE = 0.25;
/** Vectors added to HNSW per batch during a rebuild (bounds the decoded vectors held at once). */
const REBUILD_BATCH = 1000;

/** Opens (creating if needed) the index in `dataDir`: `index.db` and, when vectors exist, `vectors.hnsw`. */
export function openIndexStore(dataDir: string, options: OpenIndexStoreOptions = {}): IndexStore {
  return SqliteIndexStore.open(dataDir, options);
}

class SqliteIndexStore implements IndexStore {
  readonly dataDir: string;
  private readonly sql: SqliteStore;
  private readonly params: HnswParams;
  private readonly log: (msg: string) => void;
  private readonly hnswFile: string;
  /** The graph of the current model's vectors; null while no model is recorded. */
  private hnsw: VectorIndex | null = null;
  /** Set when an HNSW update failed after its SQLite commit: the graph may miss points until rebuilt. */
  private hnswStale = false;
  /** The graph changed since the file was last written (or the file was never written). */
  private hnswDirty = false;
  /** meta `vectors_gen` that the in-memory graph reflects; another process's writes move it on. */
  private knownGen = -1;

  private constructor(dataDir: string, sql: SqliteStore, params: HnswParams, log: (msg: string) => void) {
    this.dataDir = dataDir;
    this.sql = sql;
    this.params = params;
    this.log = log;
    this.hnswFile = join(dataDir, HNSW_FILE);
  }

  static open(dataDir: string, options: OpenIndexStoreOptions): SqliteIndexStore {
    const params = resolveParams(options.hnsw);
    mkdirSync(dataDir, { recursive: true });
    const sql = new SqliteStore(openDatabase(join(dataDir, INDEX_DB_FILE)));
    const store = new SqliteIndexStore(dataDir, sql, params, options.log ?? (() => {}));
    try {
      store.loadVectorIndex();
    } catch (err) {
      sql.close();
      throw err;
    }
    return store;
  }

  // ---- model and vectors ----

  getModel(): IndexedModel | null {
    return this.sql.getModel();
  }

  setModel(model: IndexedModel): boolean {
    if (typeof model.modelId !== 'string' || model.modelId === '') {
      throw new IndexStoreError('setModel: modelId must be a non-empty string.');
    }
    if (!Number.isInteger(model.dims) || model.dims <= 0) {
      throw new IndexStoreError(`setModel: dims must be a positive integer, got ${model.dims}.`);
    }
    if (model.distance !== 'cosine') {
      throw new IndexStoreError(`setModel: only the 'cosine' distance is supported, got '${String(model.distance)}'.`);
    }
    const current = this.sql.getModel();
    if (current && current.modelId === model.modelId && current.dims === model.dims) return false;
    const changed = current !== null;
    this.sql.writeModel(model, changed || this.sql.vectorStats().count > 0);
    this.resetVectorIndex(model.dims);
    this.syncGen();
    if (changed) this.log(`index store: model changed from ${current.modelId} (${current.dims} dims) to ${model.modelId} (${model.dims} dims); all vectors dropped`);
    return changed;
  }

  clearVectors(): void {
    this.sql.deleteAllVectors();
    const model = this.sql.getModel();
    if (model) this.resetVectorIndex(model.dims);
    else this.hnsw = null;
    this.syncGen();
  }

  pendingTexts(limit?: number): PendingText[] {
    return this.sql.pendingTexts(limit);
  }

  countPending(): number {
    return this.sql.countPending();
  }

  missingVectors(textHashes: string[]): string[] {
    if (textHashes.length === 0) return [];
    return this.sql.missingVectors(textHashes);
  }

  countChunksOfTexts(textHashes: string[]): { chunks: number; texts: number } {
    if (textHashes.length === 0) return { chunks: 0, texts: 0 };
    return this.sql.countChunksOfTexts(textHashes);
  }

  putVectors(items: { textHash: string; vector: Float32Array }[]): void {
    if (items.length === 0) return;
    const model = this.sql.getModel();
    if (!model) {
      throw new IndexStoreError('putVectors: no model is recorded; call setModel() with the embedder\'s model and dims first.');
    }
    for (const { textHash, vector } of items) {
      if (vector.length !== model.dims) {
        throw new VectorDimensionsError({ expected: model.dims, actual: vector.length, what: `The vector for text ${textHash}` });
      }
      for (let i = 0; i < vector.length; i++) {
        if (!Number.isFinite(vector[i])) {
          throw new IndexStoreError(`putVectors: the vector for text ${textHash} holds ${vector[i]} at index ${i}; vectors must be finite.`);
        }
      }
    }
    const added = this.sql.insertVectors(items);
    if (added.labels.length === 0) return;
    this.syncGen();
    // SQLite has committed; the graph follows. If it fails, the next flush (or open) rebuilds from SQLite.
    try {
      this.hnsw ??= VectorIndex.create(model.dims, this.params);
      this.hnsw.add(added.labels, added.vectors);
    } catch (err) {
      this.hnswStale = true;
      this.log(`index store: adding ${added.labels.length} vectors to HNSW failed (${(err as Error).message}); it will be rebuilt from SQLite`);
    }
    this.hnswDirty = true;
  }

  flushVectorIndex(): void {
    const model = this.sql.getModel();
    const stats = this.sql.vectorStats();
    if (!model || stats.count === 0) {
      rmSync(this.hnswFile, { force: true });
      this.recordFileState({ gen: stats.gen, vectors: 0, maxLabel: stats.maxLabel, points: 0, dims: model?.dims ?? 0 });
      this.hnswDirty = false;
      return;
    }
    if (!this.hnsw || this.hnswStale || this.hnsw.size !== stats.count || this.hnsw.dims !== model.dims) {
      this.rebuildVectorIndex(model.dims, stats, 'the in-memory graph does not match SQLite');
    } else if (this.hnsw.deletedCount > MAX_DELETED_SHARE * this.hnsw.pointCount) {
      this.rebuildVectorIndex(model.dims, stats, `${this.hnsw.deletedCount} of ${this.hnsw.pointCount} points are deleted`);
    }
    if (!this.hnswDirty && existsSync(this.hnswFile)) return;
    const hnsw = this.hnsw as VectorIndex;
    // Forget the old record first: a crash between the rename and the new record then means "rebuild", never "trust".
    this.sql.deleteMeta('hnsw_state');
    hnsw.writeAtomic(this.hnswFile);
    this.recordFileState({ gen: stats.gen, vectors: stats.count, maxLabel: stats.maxLabel, points: hnsw.pointCount, dims: model.dims });
    this.hnswDirty = false;
  }

  // ---- files and chunks ----

  listFiles(): Map<string, FileRecord> {
    return this.sql.listFiles();
  }

  upsertFile(file: FileRecord, chunks: ChunkInput[]): void {
    this.sql.upsertFile(file, chunks);
  }

  touchFile(path: string, size: number, mtimeMs: number): void {
    this.sql.touchFile(path, size, mtimeMs);
  }

  removeFiles(paths: string[]): number {
    if (paths.length === 0) return 0;
    return this.sql.removeFiles(paths);
  }

  collectGarbage(): number {
    const { texts, labels } = this.sql.collectGarbage();
    this.syncGen();
    if (labels.length > 0 && this.hnsw) {
      const marked = this.hnsw.markDeleted(labels);
      if (marked !== labels.length) this.hnswStale = true;
      this.hnswDirty = true;
    }
    return texts;
  }

  // ---- search ----

  lexicalSearch(query: string, k: number, filter?: SearchFilter): ScoredChunkId[] {
    const want = Math.floor(k);
    const match = toFtsMatchExpression(query);
    if (match === null || !(want > 0)) return [];
    const keep = compileFilter(filter);
    // With a filter, read ranked rows until k survive (bounded).
    const hits: ScoredChunkId[] = [];
    for (const row of this.sql.lexical(match, keep ? Math.max(want, MAX_FILTERED_LEXICAL_ROWS) : want)) {
      if (keep && !keep(row.path, row.language)) continue;
      hits.push({ chunkId: row.id, score: row.score });
      if (hits.length >= want) break;
    }
    return hits;
  }

  semanticSearch(vector: Float32Array, k: number, filter?: SearchFilter): ScoredChunkId[] {
    this.followOtherWriter();
    const want = Math.floor(k);
    const model = this.sql.getModel();
    if (model && vector.length !== model.dims) {
      throw new VectorDimensionsError({ expected: model.dims, actual: vector.length, what: 'The query vector' });
    }
    if (!model || !this.hnsw || this.hnsw.size === 0 || !(want > 0)) return [];
    const keep = compileFilter(filter);
    const total = this.hnsw.pointCount;
    // One text can back several chunks, so k labels usually give k chunks; a filter needs more.
    let fetch = Math.min(total, keep ? Math.max(want * 4, 50) : want);
    let hits: ScoredChunkId[] = [];
    for (let round = 0; round < MAX_FETCH_ROUNDS; round++) {
      const neighbors = this.hnsw.search(vector, fetch);
      const chunksByLabel = new Map<number, { id: number; path: string; language: string }[]>();
      for (const row of this.sql.chunksOfLabels(neighbors.map((n) => n.label))) {
        let list = chunksByLabel.get(row.label);
        if (!list) chunksByLabel.set(row.label, (list = []));
        list.push(row);
      }
      hits = [];
      for (const { label, distance } of neighbors) {
        const chunks = chunksByLabel.get(label);
        if (!chunks) continue; // Text no longer referenced (garbage not collected yet).
        chunks.sort((a, b) => a.id - b.id);
        for (const chunk of chunks) {
          if (!keep || keep(chunk.path, chunk.language)) hits.push({ chunkId: chunk.id, score: 1 - distance });
        }
      }
      if (hits.length >= want || fetch >= total) break;
      fetch = Math.min(total, fetch * FETCH_GROWTH);
    }
    return hits.slice(0, want);
  }

  scoreChunks(vector: Float32Array, chunkIds: number[]): ScoredChunkId[] {
    const model = this.sql.getModel();
    if (!model || vector.length !== model.dims || chunkIds.length === 0) return [];
    let squares = 0;
    for (let i = 0; i < vector.length; i++) squares += vector[i] * vector[i];
    const queryNorm = Math.sqrt(squares) || 1;
    return this.sql
      .vectorsOfChunks(chunkIds)
      .map(({ id, vector: stored }) => {
        let dot = 0;
        let norm = 0;
        for (let i = 0; i < stored.length; i++) {
          dot += stored[i] * vector[i];
          norm += stored[i] * stored[i];
        }
        return { chunkId: id, score: dot / (queryNorm * (Math.sqrt(norm) || 1)) };
      })
      .sort((a, b) => b.score - a.score || a.chunkId - b.chunkId);
  }

  getChunks(ids: number[]): ChunkRow[] {
    if (ids.length === 0) return [];
    return this.sql.getChunks(ids);
  }

  counts(): StoreCounts {
    return this.sql.counts();
  }

  hasVectors(): boolean {
    return this.sql.hasVectors();
  }

  getMeta(key: string): string | null {
    return this.sql.getMeta(key);
  }

  setMeta(key: string, value: string): void {
    if (RESERVED_META_KEYS.has(key)) {
      throw new IndexStoreError(`setMeta: '${key}' is kept by the index store itself; use another key.`);
    }
    this.sql.setMeta(key, value);
  }

  /** Closes the database. Does not write the HNSW file: call flushVectorIndex() first to save a rebuild on next open. */
  close(): void {
    this.hnsw = null;
    this.sql.close();
  }

  // ---- HNSW lifecycle ----

  /** On open: load `vectors.hnsw` if it matches SQLite, else rebuild it from the stored vectors and write it. */
  private loadVectorIndex(): void {
    this.syncGen();
    const model = this.sql.getModel();
    if (!model) return;
    const stats = this.sql.vectorStats();
    if (stats.count === 0) {
      this.hnsw = VectorIndex.create(model.dims, this.params);
      return;
    }
    const problem = this.tryLoadFile(model, stats);
    if (problem === null) {
      this.log(`index store: loaded HNSW index with ${stats.count} vectors from ${HNSW_FILE}`);
      return;
    }
    this.rebuildVectorIndex(model.dims, stats, problem);
    try {
      this.flushVectorIndex();
    } catch (err) {
      this.log(`index store: could not write ${HNSW_FILE} after the rebuild (${(err as Error).message})`);
    }
  }

  /** Loads the file into this.hnsw if it matches SQLite; otherwise returns why not. */
  private tryLoadFile(model: IndexedModel, stats: VectorStats): string | null {
    if (!existsSync(this.hnswFile)) return `${HNSW_FILE} is missing`;
    const state = parseFileState(this.sql.getMeta('hnsw_state'));
    if (!state) return `no record says what ${HNSW_FILE} holds`;
    if (state.gen !== stats.gen || state.vectors !== stats.count || state.maxLabel !== stats.maxLabel) {
      return `${HNSW_FILE} is older than the database (it holds ${state.vectors} vectors, SQLite ${stats.count})`;
    }
    if (state.dims !== model.dims) return `${HNSW_FILE} holds ${state.dims}-dim vectors, the model has ${model.dims}`;
    let index: VectorIndex;
    try {
      index = VectorIndex.load(this.hnswFile, model.dims, this.params, stats.count);
    } catch (err) {
      return `${HNSW_FILE} is unreadable (${(err as Error).message})`;
    }
    if (index.pointCount !== state.points) {
      return `${HNSW_FILE} holds ${index.pointCount} points, its record says ${state.points}`;
    }
    this.hnsw = index;
    this.hnswStale = false;
    this.hnswDirty = false;
    return null;
  }

  private rebuildVectorIndex(dims: number, stats: VectorStats, reason: string): void {
    const started = Date.now();
    this.log(`index store: rebuilding HNSW index from ${stats.count} stored vectors (${reason})`);
    const index = VectorIndex.create(dims, this.params, Math.max(1024, Math.ceil(stats.count * 1.25)));
    let labels: number[] = [];
    let vectors: Float32Array[] = [];
    for (const row of this.sql.iterateVectors()) {
      if (row.vector.length !== dims) {
        throw new IndexStoreError(
          `Stored vector ${row.label} has ${row.vector.length} dims, the model has ${dims}; the index is corrupt: delete ${this.dataDir} and re-index.`,
        );
      }
      labels.push(row.label);
      vectors.push(row.vector);
      if (labels.length >= REBUILD_BATCH) {
        index.add(labels, vectors);
        labels = [];
        vectors = [];
      }
    }
    index.add(labels, vectors);
    this.hnsw = index;
    this.hnswStale = false;
    this.hnswDirty = true;
    this.log(`index store: rebuilt HNSW index (${index.size} vectors) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  private syncGen(): void {
    this.knownGen = Number(this.sql.getMeta('vectors_gen') ?? 0);
  }

  /**
   * Another process (a second server, the CLI) may have written vectors since the graph was built: load
   * its flushed HNSW file when it matches SQLite; until it does, keep searching the graph we have (a
   * rebuild here would block searches for minutes on a big index).
   */
  private followOtherWriter(): void {
    const gen = Number(this.sql.getMeta('vectors_gen') ?? 0);
    if (gen === this.knownGen) return;
    const model = this.sql.getModel();
    if (!model) {
      this.hnsw = null;
      this.knownGen = gen;
      return;
    }
    const stats = this.sql.vectorStats();
    if (this.tryLoadFile(model, stats) === null) {
      this.knownGen = stats.gen;
      this.log(`index store: loaded HNSW index with ${stats.count} vectors written by another process`);
    }
  }

  private resetVectorIndex(dims: number): void {
    this.hnsw = VectorIndex.create(dims, this.params);
    this.hnswStale = false;
    this.hnswDirty = true;
  }

  private recordFileState(state: HnswFileState): void {
    this.sql.setMeta('hnsw_state', JSON.stringify(state));
  }
}

function resolveParams(hnsw: OpenIndexStoreOptions['hnsw']): HnswParams {
  const params: HnswParams = {
    M: hnsw?.M ?? DEFAULT_HNSW_PARAMS.M,
    efConstruction: hnsw?.efConstruction ?? DEFAULT_HNSW_PARAMS.efConstruction,
    ef: hnsw?.ef ?? DEFAULT_HNSW_PARAMS.ef,
  };
  for (const [name, value] of Object.entries(params)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new IndexStoreError(`HNSW option ${name} must be a positive integer, got ${value}.`);
    }
  }
  return params;
}

function parseFileState(raw: string | null): HnswFileState | null {
  if (raw === null) return null;
  try {
    const s = JSON.parse(raw) as Partial<HnswFileState>;
    const fields = [s.gen, s.vectors, s.maxLabel, s.points, s.dims];
    return fields.every((v) => typeof v === 'number' && Number.isFinite(v)) ? (s as HnswFileState) : null;
  } catch {
    return null;
  }
}

function compileFilter(filter: SearchFilter | undefined): ((path: string, language: string) => boolean) | null {
  if (!filter) return null;
  const languages = filter.languages && filter.languages.length > 0 ? new Set(filter.languages) : null;
  const pathFilter = filter.pathFilter;
  if (!languages && !pathFilter) return null;
  return (path, language) => (!languages || languages.has(language)) && (!pathFilter || pathFilter(path));
}
