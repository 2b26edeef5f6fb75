/**
 * The index store: SQLite (source of truth, see sqlite-store.ts) plus an in-memory HNSW graph derived from
 * its `vectors` table (see vector-index.ts).
 *
 * Persistence costs what changed, not the index (issue 20): every vector added or deleted is logged in
 * `hnsw_log` in the same transaction that stores or deletes it. A snapshot of the graph
 * (`vectors-<seq>-<id>.hnsw`) is written only now and then, and meta `hnsw_state` records which log seq
 * it includes. Opening loads the snapshot and replays the log after it (added vectors go to an exact flat
 * set, deletions are marked), so a crash at any moment loses nothing and re-embeds nothing; a snapshot
 * that does not match SQLite is rebuilt from the stored vectors. The previous snapshot stays valid until
 * the new one is recorded, so a crash while writing one costs a replay, not a rebuild.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FileSymbols } from '../chunk/file-symbols.js';
import type { SymbolTables } from './symbol-tables.js';
import { crashPoint } from './crash-point.js';
import { queryTerms } from './fts-tokens.js';
import { openDatabase, RESERVED_META_KEYS, SqliteStore, type SnapshotRecord, type VectorStats } from './sqlite-store.js';
import { IndexStoreError, VectorDimensionsError } from './store-errors.js';
import type {
  ChunkInput,
  ChunkHead,
  ChunkRow,
  FileRecord,
  FlushOptions,
  IndexedModel,
  IndexStore,
  PendingText,
  ScoredChunkId,
  SearchFilter,
  StoreCounts,
} from './store-types.js';
import { unitVector } from '../../models/vector-math.js';
import { DEFAULT_HNSW_PARAMS, VectorIndex, type ExactSimilarities, type HnswParams } from './vector-index.js';
import { graphDimsFor } from './vector-projection.js';

export const INDEX_DB_FILE = 'index.db';
/** The snapshot's name before schema version 2 (still loaded once if its record matches). */
export const HNSW_FILE = 'vectors.hnsw';
/** Snapshot files: `vectors-<seq>-<id>.hnsw`, or the version 1 name. */
const SNAPSHOT_NAME = /^vectors(?:-(\d+)-[0-9a-z]+)?\.hnsw$/;
/** What graphs were built with before SnapshotRecord said: 100 until the projected graph made inserts cheaper. Kept, not rebuilt (efForPoints searches them with their own ef rule). */
const LEGACY_EF_CONSTRUCTION = 100;
/** Temp files of an atomic write: `.<name>.<pid>.tmp` (see VectorIndex.writeAtomic). */
const SNAPSHOT_TMP = /^\.vectors.*\.hnsw\.(\d+)\.tmp$/;

export interface OpenIndexStoreOptions {
  /** HNSW parameters; defaults M=16, efConstruction=100, ef=256 (measured: docs/performance.md). M and efConstruction apply to graphs built from now on. */
  hnsw?: { M?: number; efConstruction?: number; ef?: number };
  /** Diagnostics (goes to stderr in the server; never stdout). */
  log?: (msg: string) => void;
  /** Added vectors in the log after which a run writes an HNSW snapshot (default 1,024; tests use fewer to exercise snapshots on small trees). */
  snapshotAfter?: number;
}

/** Semantic over-fetch rounds when a filter or label aliasing leaves fewer than k hits; each round fetches 4x more. */
const MAX_FETCH_ROUNDS = 4;
const FETCH_GROWTH = 4;
/** Ranked lexical rows a filtered search reads at most before giving up on finding k survivors. */
const MAX_FILTERED_LEXICAL_ROWS = 100_000;
/** Deleted points beyond this share of the graph make the next snapshot rebuild it compactly. */
const MAX_DELETED_SHARE = 0.25;
/** Vectors added to HNSW per batch during a rebuild (bounds the decoded vectors held at once). */
const REBUILD_BATCH = 1000;
/**
 * A snapshot is written when the log holds this many added vectors: opening replays at most this many
 * into the exact flat set (~4 ms per search at 4096 dims) instead of inserting them (~4 ms each).
 */
const SNAPSHOT_AFTER = 1024;
/** ... or this many entries in all (deletions replay cheaply, but the log should not grow without end). */
const LOG_ENTRIES_MAX = 16_384;
/** During a long run a snapshot waits until the log holds this share of the graph, so a full build writes a few, not one a minute. */
const PERIODIC_SHARE = 0.25;
/** Opening replays up to this many added vectors into the flat set; more (after a crash mid-build) are inserted into the graph. */
const FLAT_MAX = 2048;

/** Opens (creating if needed) the index in `dataDir`: `index.db` and, when vectors exist, `vectors.hnsw`. */
export function openIndexStore(dataDir: string, options: OpenIndexStoreOptions = {}): IndexStore {
  return SqliteIndexStore.open(dataDir, options);
}

class SqliteIndexStore implements IndexStore {
  readonly dataDir: string;
  private readonly sql: SqliteStore;
  private readonly params: HnswParams;
  private readonly log: (msg: string) => void;
  private readonly snapshotAfter: number;
  /** The graph of the current model's vectors; null while no model is recorded. */
  private hnsw: VectorIndex | null = null;
  /** Set when an HNSW update failed after its SQLite commit: the graph may miss points until reloaded. */
  private hnswStale = false;
  /** The hnsw_log seq that the in-memory graph reflects; another process's writes move the log on. */
  private appliedSeq = 0;
  /** Added vectors the last snapshot load replayed from the log. */
  private replayed = 0;
  /** The snapshot record when another writer's log grew too long to follow; nothing is tried until it changes. */
  private followBlockedAt: string | null = null;

  private constructor(dataDir: string, sql: SqliteStore, params: HnswParams, log: (msg: string) => void, snapshotAfter: number) {
    this.dataDir = dataDir;
    this.snapshotAfter = snapshotAfter;
    this.sql = sql;
    this.params = params;
    this.log = log;
  }

  static open(dataDir: string, options: OpenIndexStoreOptions): SqliteIndexStore {
    const params = resolveParams(options.hnsw);
    mkdirSync(dataDir, { recursive: true });
    const sql = new SqliteStore(openDatabase(join(dataDir, INDEX_DB_FILE)));
    const snapshotAfter = options.snapshotAfter ?? SNAPSHOT_AFTER;
    if (!Number.isInteger(snapshotAfter) || snapshotAfter <= 0) {
      sql.close();
      throw new IndexStoreError(`snapshotAfter must be a positive integer, got ${snapshotAfter}.`);
    }
    const store = new SqliteIndexStore(dataDir, sql, params, options.log ?? (() => {}), snapshotAfter);
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
    if (changed) this.log(`index store: model changed from ${current.modelId} (${current.dims} dims) to ${model.modelId} (${model.dims} dims); all vectors dropped`);
    return changed;
  }

  clearVectors(): void {
    this.sql.deleteAllVectors();
    const model = this.sql.getModel();
    if (model) this.resetVectorIndex(model.dims);
    else {
      this.hnsw = null;
      this.appliedSeq = this.sql.logHead();
    }
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
    const head = this.sql.logHead();
    const added = this.sql.insertVectors(items);
    if (added.labels.length === 0) return;
    crashPoint('vectors-committed');
    // SQLite has committed (vectors and their log entries); the graph follows with the vectors as stored.
    try {
      this.hnsw ??= this.newVectorIndex(model.dims);
      this.hnsw.add(added.labels, added.vectors);
    } catch (err) {
      this.hnswStale = true;
      this.log(`index store: adding ${added.labels.length} vectors to HNSW failed (${(err as Error).message}); it will be reloaded from SQLite`);
    }
    this.advance(head, added.seq, added.labels.length);
  }

  flushVectorIndex(options: FlushOptions = {}): void {
    const model = this.sql.getModel();
    if (!model) return;
    const head = this.sql.logHead();
    // A graph that took every logged change holds exactly SQLite's vectors: no need to count them (a scan
    // of the vectors' index, the largest cost of a run that changed nothing).
    const inSync = this.hnsw !== null && !this.hnswStale && this.hnsw.dims === model.dims && this.appliedSeq === head;
    let counted: VectorStats | null = null;
    const stats = (): VectorStats => (counted ??= this.sql.vectorStats());
    const count = inSync ? (this.hnsw as VectorIndex).size : stats().count;
    const record = this.currentRecord(stats);
    if (count === 0) {
      // Nothing to snapshot: record the empty one (no file) once the log holds anything.
      if (record?.file === null && record.seq === this.sql.logHead()) return;
      this.hnsw = this.newVectorIndex(model.dims);
      this.hnswStale = false;
      this.appliedSeq = this.sql.logHead();
      this.sql.recordSnapshot({ seq: this.appliedSeq, file: null, points: 0, live: 0, dims: model.dims });
      this.removeSnapshotFiles(null);
      return;
    }
    let rebuilt = false;
    if (!inSync) {
      const problem = this.loadSnapshot(model);
      if (problem !== null) {
        this.rebuildVectorIndex(model.dims, stats(), `the in-memory graph does not match SQLite and ${problem}`);
        rebuilt = true;
      }
    }
    const hnsw = this.hnsw as VectorIndex;
    const since = record ? this.sql.logCounts(record.seq) : { adds: count, deletes: 0 };
    const addsDue = options.periodic ? Math.max(this.snapshotAfter, PERIODIC_SHARE * count) : this.snapshotAfter;
    const due = options.force || rebuilt || !record || since.adds >= addsDue || since.adds + since.deletes >= LOG_ENTRIES_MAX;
    if (!due) return;
    if (hnsw.deletedCount > MAX_DELETED_SHARE * (hnsw.pointCount + hnsw.flatCount)) {
      this.rebuildVectorIndex(model.dims, stats(), `${hnsw.deletedCount} of ${hnsw.pointCount} points are deleted`);
    }
    this.writeSnapshot(model.dims);
  }

  // ---- files and chunks ----

  get symbols(): SymbolTables {
    return this.sql.symbols;
  }

  listFiles(under?: readonly string[]): Map<string, FileRecord> {
    return this.sql.listFiles(under);
  }

  upsertFile(file: FileRecord, chunks: ChunkInput[], symbols?: FileSymbols | null): void {
    this.sql.upsertFile(file, chunks, symbols);
  }

  touchFile(path: string, size: number, mtimeMs: number): void {
    this.sql.touchFile(path, size, mtimeMs);
  }

  removeFiles(paths: string[]): number {
    if (paths.length === 0) return 0;
    return this.sql.removeFiles(paths);
  }

  collectGarbage(): number {
    const head = this.sql.logHead();
    const { texts, labels } = this.sql.collectGarbage();
    if (labels.length > 0) {
      crashPoint('garbage-committed');
      if (this.hnsw && this.hnsw.markDeleted(labels) !== labels.length) this.hnswStale = true;
      this.advance(head, this.sql.logHead(), labels.length);
    }
    return texts;
  }

  // ---- search ----

  lexicalSearch(query: string, k: number, filter?: SearchFilter): ScoredChunkId[] {
    const want = Math.floor(k);
    const terms = queryTerms(query);
    if (terms.length === 0 || !(want > 0)) return [];
    const keep = compileFilter(filter);
    // With a filter, read ranked rows until k survive (bounded).
    const hits: ScoredChunkId[] = [];
    for (const row of this.sql.lexical(terms, keep ? Math.max(want, MAX_FILTERED_LEXICAL_ROWS) : want)) {
      if (keep && !keep(row.path, row.language)) continue;
      hits.push({ chunkId: row.id, score: row.score });
      if (hits.length >= want) break;
    }
    return hits;
  }

  termChunkCounts(terms: readonly string[], upTo: number): { chunks: number; counts: number[] } {
    return this.sql.termChunkCounts(terms, upTo);
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
    const total = this.hnsw.pointCount + this.hnsw.flatCount;
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
    return this.sql
      .similaritiesOfChunks(chunkIds, unitVector(vector))
      .map(({ id, similarity }) => ({ chunkId: id, score: similarity }))
      .sort((a, b) => b.score - a.score || a.chunkId - b.chunkId);
  }

  getChunks(ids: number[]): ChunkRow[] {
    if (ids.length === 0) return [];
    return this.sql.getChunks(ids);
  }

  getChunkHeads(ids: number[]): ChunkHead[] {
    if (ids.length === 0) return [];
    return this.sql.getChunkHeads(ids);
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

  /** Closes the database. Writes no snapshot: everything since the last one is in the log, replayed on open. */
  close(): void {
    this.hnsw = null;
    this.sql.close();
  }

  // ---- HNSW lifecycle ----

  /** On open: the snapshot plus the log after it if they match SQLite, else a rebuild from the stored vectors. */
  private loadVectorIndex(): void {
    this.appliedSeq = this.sql.logHead();
    const model = this.sql.getModel();
    if (!model) return;
    if (this.sql.getMeta('vector_format') === 'float32') this.convertLegacyVectors(model.dims);
    const problem = this.loadSnapshot(model);
    const hnsw = this.hnsw as VectorIndex | null;
    if (problem === null && hnsw) {
      this.removeStaleFiles();
      this.log(`index store: loaded HNSW index with ${hnsw.size} vectors (${this.replayed} replayed from the log)`);
      // A long log (a crash during a big run) went into the graph: write it so the next open is quick.
      if (this.replayed > FLAT_MAX) this.tryWriteSnapshot(model.dims);
      return;
    }
    const stats = this.sql.vectorStats();
    this.rebuildVectorIndex(model.dims, stats, problem ?? 'no graph');
    this.tryWriteSnapshot(model.dims);
  }

  private tryWriteSnapshot(dims: number): void {
    try {
      this.writeSnapshot(dims);
    } catch (err) {
      this.log(`index store: could not write the HNSW snapshot (${(err as Error).message}); the log keeps every change`);
    }
  }

  /** The snapshot record, with a version 1 record (`vectors.hnsw`, matched by generation) read as one at seq 0. */
  private currentRecord(statsOf: () => VectorStats): SnapshotRecord | null {
    const { record, raw } = this.sql.readSnapshot();
    if (record || raw === null) return record ?? { seq: 0, file: null, points: 0, live: 0, dims: 0 };
    try {
      const old = JSON.parse(raw) as { gen?: number; vectors?: number; maxLabel?: number; points?: number; dims?: number };
      // Version 1 wrote no log: its file is current only if no vector changed since (same generation and count).
      const stats = statsOf();
      if (old.gen === stats.gen && old.vectors === stats.count && old.maxLabel === stats.maxLabel && typeof old.points === 'number' && typeof old.dims === 'number') {
        return { seq: 0, file: HNSW_FILE, points: old.points, live: old.vectors, dims: old.dims };
      }
    } catch {
      // Unreadable: no record.
    }
    return null;
  }

  /**
   * Loads the recorded snapshot and replays the log after it into a new graph, and adopts it if the result
   * holds exactly SQLite's vectors; otherwise returns why not (and keeps the graph it had).
   */
  private loadSnapshot(model: IndexedModel, follower = false): string | null {
    let problem: string | null = null;
    // A writer that records a newer snapshot meanwhile deletes the file we were about to read: try its new one.
    for (let attempt = 0; attempt < 3; attempt++) {
      const raw = this.sql.readSnapshot().raw;
      problem = this.tryLoadSnapshot(model, follower);
      if (problem === null || this.sql.readSnapshot().raw === raw) break;
    }
    return problem;
  }

  /** `follower`: a search is waiting; refuse a log too long for the flat set rather than insert it. */
  private tryLoadSnapshot(model: IndexedModel, follower: boolean): string | null {
    // Read the record, the log and the added vectors in one read transaction: a consistent view even while
    // another process writes.
    const view = this.sql.db.transaction(() => {
      const now = this.sql.vectorStats();
      const record = this.currentRecord(() => now);
      if (!record) return null;
      const tail = this.sql.logAfter(record.seq);
      if (follower && tail.added.length > FLAT_MAX) return { tooLong: tail.added.length };
      const added = this.sql.vectorsOfLabels(tail.added, model.dims);
      return { record, tail, added, head: this.sql.logHead(), count: now.count, wanted: tail.added.length };
    })();
    if (!view) return `no record says what the HNSW snapshot holds`;
    if ('tooLong' in view) return `the log holds ${view.tooLong} vectors added since the snapshot`;
    const { record, tail, added } = view;
    if (record.file !== null && record.dims !== model.dims) return `the snapshot holds ${record.dims}-dim vectors, the model has ${model.dims}`;
    const graphDims = graphDimsFor(model.dims);
    if (record.file !== null && (record.graphDims ?? record.dims) !== graphDims) {
      return `the snapshot's graph holds ${record.graphDims ?? record.dims}-dim vectors, this version builds it over ${graphDims}`;
    }

    if (added.length !== view.wanted) return `the log names ${view.wanted - added.length} added vectors that SQLite does not hold`;
    let index: VectorIndex;
    if (record.file === null) {
      index = this.newVectorIndex(model.dims, Math.max(1024, Math.ceil(view.count * 1.25)));
    } else {
      const file = join(this.dataDir, record.file);
      if (!existsSync(file)) return `${record.file} is missing`;
      try {
        index = VectorIndex.load(file, model.dims, this.params, record.live, this.exactSimilarities(), record.efConstruction ?? LEGACY_EF_CONSTRUCTION);
      } catch (err) {
        return `${record.file} is unreadable (${(err as Error).message})`;
      }
      if (index.pointCount !== record.points) return `${record.file} holds ${index.pointCount} points, its record says ${record.points}`;
    }
    if (index.markDeleted(tail.deleted) !== tail.deleted.length) return `the log deletes vectors the snapshot does not hold`;
    const labels = added.map((a) => a.label);
    const vectors = added.map((a) => a.vector);
    if (added.length <= FLAT_MAX) index.addFlat(labels, vectors);
    else {
      this.log(`index store: inserting ${added.length} vectors from the log into the HNSW graph`);
      index.add(labels, vectors);
    }
    if (index.size !== view.count) return `the snapshot and its log hold ${index.size} vectors, SQLite ${view.count}`;
    this.hnsw = index;
    this.replayed = added.length;
    this.hnswStale = false;
    this.appliedSeq = view.head;
    return null;
  }

  /**
   * Writes the graph as a new snapshot file and records it with the log seq it includes (dropping those log
   * entries) in one transaction; only then are older snapshot files deleted.
   */
  private writeSnapshot(dims: number): void {
    const hnsw = this.hnsw as VectorIndex;
    hnsw.mergeFlat();
    const seq = this.appliedSeq;
    const name = `vectors-${seq}-${Date.now().toString(36)}.hnsw`;
    hnsw.writeAtomic(join(this.dataDir, name));
    crashPoint('snapshot-written');
    this.sql.recordSnapshot({ seq, file: name, points: hnsw.pointCount, live: hnsw.size, dims, graphDims: hnsw.graphDims, efConstruction: hnsw.efConstruction });
    crashPoint('snapshot-recorded');
    this.removeSnapshotFiles(name);
  }

  /** Deletes every snapshot file but `keep` (the writer's own, just recorded). */
  private removeSnapshotFiles(keep: string | null): void {
    for (const name of readdirSync(this.dataDir)) {
      if (name !== keep && SNAPSHOT_NAME.test(name)) rmSync(join(this.dataDir, name), { force: true });
    }
  }

  /**
   * On open: deletes snapshot files older than the recorded one, and temp files of writers that died.
   * Newer unrecorded files may be another process's write in progress; that writer deletes them.
   */
  private removeStaleFiles(): void {
    const record = this.sql.readSnapshot().record;
    for (const name of readdirSync(this.dataDir)) {
      const snapshot = SNAPSHOT_NAME.exec(name);
      const tmp = SNAPSHOT_TMP.exec(name);
      const stale =
        (snapshot && record && name !== record.file && Number(snapshot[1] ?? 0) <= record.seq) || (tmp && !processAlive(Number(tmp[1])));
      if (stale) rmSync(join(this.dataDir, name), { force: true });
    }
  }

  /** The stored vectors a projected graph's candidates are rescored with. */
  private exactSimilarities(): ExactSimilarities {
    return (labels, unitQuery) => this.sql.similaritiesOfLabels(labels, unitQuery);
  }

  /** An empty graph for `dims`-dim vectors, rescored from this store's vectors when projected. */
  private newVectorIndex(dims: number, capacity?: number): VectorIndex {
    return VectorIndex.create(dims, this.params, capacity, this.exactSimilarities());
  }

  private rebuildVectorIndex(dims: number, stats: VectorStats, reason: string): void {
    const started = Date.now();
    this.log(`index store: rebuilding HNSW index from ${stats.count} stored vectors (${reason})`);
    // The log head first: the vectors read below include at least every change up to it.
    const head = this.sql.logHead();
    const index = this.newVectorIndex(dims, Math.max(1024, Math.ceil(stats.count * 1.25)));
    let labels: number[] = [];
    let vectors: Float32Array[] = [];
    for (const row of this.sql.iterateVectors(dims)) {
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
    this.appliedSeq = head;
    this.log(`index store: rebuilt HNSW index (${index.size} vectors) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  /** After a write of ours that logged `entries` changes: the graph is current unless another writer logged some too. */
  private advance(headBefore: number, headAfter: number, entries: number): void {
    if (headBefore !== this.appliedSeq || headAfter !== headBefore + entries) this.hnswStale = true;
    this.appliedSeq = headAfter;
  }

  /**
   * Another process (a second server, the CLI) may have changed vectors since the graph was built: apply
   * its log entries (added vectors to the flat set), or load its newer snapshot. If that fails, keep
   * searching the graph we have (a rebuild here would block searches for minutes on a big index).
   */
  private followOtherWriter(): void {
    const head = this.sql.logHead();
    if (head === this.appliedSeq) return;
    if (this.followBlockedAt !== null && (this.sql.readSnapshot().raw ?? '') === this.followBlockedAt) return;
    this.followBlockedAt = null;
    const model = this.sql.getModel();
    if (!model) {
      this.hnsw = null;
      this.appliedSeq = head;
      return;
    }
    const record = this.currentRecord(() => this.sql.vectorStats());
    if (this.hnsw && !this.hnswStale && this.hnsw.dims === model.dims && record && record.seq <= this.appliedSeq) {
      const update = this.sql.db.transaction(() => {
        const tail = this.sql.logAfter(this.appliedSeq);
        if (tail.added.length + this.hnsw!.flatCount > FLAT_MAX) return null;
        return { tail, added: this.sql.vectorsOfLabels(tail.added, model.dims), head: this.sql.logHead() };
      })();
      if (update) {
        this.hnsw.markDeleted(update.tail.deleted);
        this.hnsw.addFlat(
          update.added.map((a) => a.label),
          update.added.map((a) => a.vector),
        );
        this.appliedSeq = update.head;
      } else {
        // Too many to follow exactly (a build in progress): its next snapshot is loaded when it is recorded.
        this.followBlockedAt = this.sql.readSnapshot().raw ?? '';
      }
      return;
    }
    const raw = this.sql.readSnapshot().raw ?? '';
    if (this.loadSnapshot(model, true) === null) {
      this.log(`index store: loaded HNSW index with ${this.hnsw?.size ?? 0} vectors written by another process`);
    } else {
      this.followBlockedAt = raw;
    }
  }

  private resetVectorIndex(dims: number): void {
    this.hnsw = this.newVectorIndex(dims);
    this.hnswStale = false;
    this.appliedSeq = this.sql.logHead();
    this.removeSnapshotFiles(null);
  }

  /** Schema version 1 stored float32 vectors: rewrite them as float16 once, then give the space back. */
  private convertLegacyVectors(dims: number): void {
    const started = Date.now();
    const converted = this.sql.convertVectorsToHalf(dims);
    if (converted === 0) return;
    this.log(`index store: stored ${converted} vectors as float16 in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    try {
      this.sql.db.exec('VACUUM');
    } catch (err) {
      // Another connection is reading; the freed pages are reused by later writes instead.
      this.log(`index store: could not compact the database after the conversion (${(err as Error).message})`);
    }
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
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

function compileFilter(filter: SearchFilter | undefined): ((path: string, language: string) => boolean) | null {
  if (!filter) return null;
  const languages = filter.languages && filter.languages.length > 0 ? new Set(filter.languages) : null;
  const pathFilter = filter.pathFilter;
  if (!languages && !pathFilter) return null;
  return (path, language) => (!languages || languages.has(language)) && (!pathFilter || pathFilter(path));
}
