/**
 * The SQLite half of the index store: schema, migrations and every prepared statement. SQLite is the
 * source of truth (files, chunks, texts, vectors, model, FTS); the HNSW graph is derived from the
 * `vectors` table by sqlite-index-store.ts. Nothing here touches HNSW.
 */
import { endianness } from 'node:os';
import Database from 'better-sqlite3';
import { crashPoint } from './crash-point.js';
import { decodeHalf, encodeHalf, halfCosine } from './float16.js';
import type { ChunkHead, ChunkInput, ChunkRow, FileRecord, IndexedModel, PendingText, StoreCounts } from './store-types.js';
import { ftsAnyOf, pathTokenText, tokenText } from './fts-tokens.js';
import { IndexStoreError } from './store-errors.js';
import { SYMBOL_SCHEMA, SymbolTables } from './symbol-tables.js';
import type { FileSymbols } from '../chunk/file-symbols.js';

/**
 * 2: hnsw_log (HNSW changes since the last snapshot), gc_candidates and unembedded (work lists, so an
 * incremental run never scans every text), vectors stored as float16.
 * 3: symbols and symbol_refs (symbol-tables.ts); an older codecarto must not write files without them.
 * 4: texts.embed_prefix: an embedding text that is a header before the code keeps only the header (the
 *    code was stored twice, ~1 KB per chunk).
 */
export const SCHEMA_VERSION = 4;

/** Meta keys the store owns; setMeta() refuses them so a caller cannot corrupt the store's records. */
export const RESERVED_META_KEYS: ReadonlySet<string> = new Set([
  'schema_version',
  'model_id',
  'model_dims',
  'model_distance',
  'vectors_gen',
  'hnsw_state',
  'vector_format',
]);

/** bm25 column weights, in FTS column order (path, symbol, body): names weigh more than bodies; path 4 beat 1 and 2 on history queries (docs/quality.md). */
const BM25 = 'bm25(chunks_fts, 4.0, 3.0, 1.0)';
/** Ids per json_each batch: keeps each statement's JSON small and its plan a PK lookup per id. */
const ID_BATCH = 500;

/** A statement that takes a JSON array of keys (json_each), run over `keys` ID_BATCH at a time: its rows, batch after batch. */
function* rowsOfKeys<R>(statement: Database.Statement, keys: readonly unknown[]): Generator<R> {
  for (let i = 0; i < keys.length; i += ID_BATCH) yield* statement.all(JSON.stringify(keys.slice(i, i + ID_BATCH))) as R[];
}
/** Lexical reads up to this many rows rank in FTS5 before joining (SqliteStore.lexicalTop); longer reads (a filter's) stream. */
const LEXICAL_TWO_STEP_MAX = 1000;
/** Past this many matching rows, a query's commonest terms only score the rows of its rarer ones (SqliteStore.lexicalRareFirst). */
const SCORED_MATCHES_MAX = 5_000;
/** Terms' matching rows are counted up to this (enough to tell whether they pass SCORED_MATCHES_MAX). */
const TERM_ROWS_UP_TO = SCORED_MATCHES_MAX + 1;
/** Terms whose counts are remembered at most (a query has a few; the memo is cleared past this). */
const TERM_ROWS_MEMO_MAX = 10_000;

function compareUtf8(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS files (
  id       INTEGER PRIMARY KEY,
  path     TEXT NOT NULL UNIQUE,
  size     INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  hash     TEXT NOT NULL,
  language TEXT NOT NULL
);

-- One row per distinct embedding text (header + code, keyed by its sha256), however many chunks share it.
CREATE TABLE IF NOT EXISTS texts (
  hash       TEXT PRIMARY KEY,
  text       TEXT NOT NULL,
  embed_text TEXT NOT NULL
);

-- AUTOINCREMENT: a chunk id is never reused, so a stale search hit cannot name another chunk.
CREATE TABLE IF NOT EXISTS chunks (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  file_id    INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  start_line INTEGER NOT NULL,
  end_line   INTEGER NOT NULL,
  symbol     TEXT,
  kind       TEXT NOT NULL,
  language   TEXT NOT NULL,
  text_hash  TEXT NOT NULL REFERENCES texts(hash)
);
CREATE INDEX IF NOT EXISTS chunks_file_id ON chunks(file_id);
CREATE INDEX IF NOT EXISTS chunks_text_hash ON chunks(text_hash);

-- label = HNSW label. AUTOINCREMENT: labels are never reused, so an HNSW file can be matched to
-- SQLite by (vector count, max label, generation) without reading vectors back.
-- vector: float32 little-endian, model dims long.
CREATE TABLE IF NOT EXISTS vectors (
  label     INTEGER PRIMARY KEY AUTOINCREMENT,
  text_hash TEXT NOT NULL UNIQUE REFERENCES texts(hash),
  vector    BLOB NOT NULL
);
`;

/**
 * Work lists kept in the same transactions as the rows they describe, so that what an incremental run
 * looks at grows with the change, not with the index (issue 20).
 * - hnsw_log: vectors added (op 1) or deleted (op 0) since the HNSW snapshot was written; the snapshot
 *   records the last seq it includes, open replays the rest, writing a snapshot truncates it.
 * - gc_candidates: texts that lost a chunk since the last garbage collection (the only possible orphans).
 * - unembedded: texts without a vector (pending work, when a chunk still uses them).
 */
const WORK_SCHEMA = `
CREATE TABLE IF NOT EXISTS hnsw_log (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  op    INTEGER NOT NULL,
  label INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS gc_candidates (hash TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS unembedded (hash TEXT PRIMARY KEY) WITHOUT ROWID;
`;

/**
 * Row counts of texts and vectors, kept by triggers in the transactions that change them: count(*) walks a
 * table's smallest index, for these the 64-character text hashes (~9 ms each at 200k rows), and every index
 * run ends by counting (SqliteStore.counts). Filled from count(*) where missing (a database made before).
 */
const ROW_COUNT_SCHEMA = `
CREATE TABLE IF NOT EXISTS row_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO row_counts(name, n) SELECT 'texts', count(*) FROM texts WHERE NOT EXISTS (SELECT 1 FROM row_counts WHERE name = 'texts');
INSERT OR IGNORE INTO row_counts(name, n) SELECT 'vectors', count(*) FROM vectors WHERE NOT EXISTS (SELECT 1 FROM row_counts WHERE name = 'vectors');
CREATE TRIGGER IF NOT EXISTS texts_count_insert AFTER INSERT ON texts BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'texts'; END;
CREATE TRIGGER IF NOT EXISTS texts_count_delete AFTER DELETE ON texts BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'texts'; END;
CREATE TRIGGER IF NOT EXISTS vectors_count_insert AFTER INSERT ON vectors BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'vectors'; END;
CREATE TRIGGER IF NOT EXISTS vectors_count_delete AFTER DELETE ON vectors BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'vectors'; END;
`;
const LOG_ADD = 1;
const LOG_DELETE = 0;

/**
 * rowid = chunks.id; columns hold identifier-split token text. It keeps its own copy of that text (about
 * the size of the code) because bm25 needs exact totals: a contentless_delete table drops a deleted row's
 * postings but never subtracts it from the row count and column sizes, so incremental runs drifted from a
 * clean index; and a contentless table's 'delete' needs the inserted text back, which re-tokenizing after
 * an upgrade (tokenizer, Unicode tables) might not reproduce.
 */
const FTS_SCHEMA = `
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  path, symbol, body,
  tokenize = 'porter unicode61 remove_diacritics 2'
);
`;
/** Chunks re-tokenized per statement when the FTS table is rebuilt. */
const FTS_REBUILD_BATCH = 1000;

export interface LexicalCandidate {
  id: number;
  score: number;
  path: string;
  language: string;
}

export interface LabelChunk {
  label: number;
  id: number;
  path: string;
  language: string;
}

export interface VectorStats {
  count: number;
  maxLabel: number;
  /** Bumped in every transaction that adds or removes vectors. */
  gen: number;
}

/** What the HNSW snapshot file holds (meta `hnsw_state`); the store trusts it only as far as SQLite agrees. */
export interface SnapshotRecord {
  /** The last hnsw_log seq the snapshot includes; later entries are replayed on open. */
  seq: number;
  /** File name in the data directory; null for an empty snapshot (no file). */
  file: string | null;
  /** Points in the file, deleted ones included (what hnswlib's getCurrentCount() reads back). */
  points: number;
  /** Live points in the file. */
  live: number;
  dims: number;
  /** The graph's dims (fewer than `dims` when vectors are projected); absent in records written before projection, whose graphs hold `dims`. */
  graphDims?: number;
  /** The efConstruction the graph was built with; absent in records written before it was recorded, whose graphs were built with 100. */
  efConstruction?: number;
}

/** HNSW changes recorded since a snapshot: labels added (their vectors still stored) and deleted. */
export interface LogTail {
  added: number[];
  deleted: number[];
}

/** Opens (creating if needed) `file` with WAL, synchronous=NORMAL and foreign keys, and migrates it. */
export function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  try {
    // First: every statement after it, the journal mode's included, waits for another process's lock.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // The write-ahead log keeps its largest size until truncated; a long run's would otherwise stay on disk.
    db.pragma('journal_size_limit = 67108864');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Database.Database): void {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
  const version = hasMeta
    ? (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined)?.value
    : undefined;
  if (version !== undefined && !(Number(version) <= SCHEMA_VERSION)) {
    throw new IndexStoreError(
      `Index database has schema version ${version}, this codecarto reads version ${SCHEMA_VERSION}; ` +
        'delete the project data directory to re-index, or use the codecarto version that wrote it.',
    );
  }
  let compact = false;
  // Writing transactions begin IMMEDIATE: a deferred one reads first, and when another process commits before
  // it writes, SQLite answers SQLITE_BUSY at once ("database is locked") instead of waiting.
  db.transaction(() => {
    db.exec(SCHEMA);
    migrateFts(db);
    db.exec(WORK_SCHEMA);
    db.exec(ROW_COUNT_SCHEMA);
    // Files indexed before version 3 get their symbols when the next run reads them again (SYMBOL_TABLE_META).
    db.exec(SYMBOL_SCHEMA);
    // Version 1 kept no work lists: fill them once from a full scan (a new database starts with them empty).
    if (version !== undefined && Number(version) < 2) {
      db.exec(`INSERT OR IGNORE INTO gc_candidates SELECT hash FROM texts t WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.text_hash = t.hash);
        INSERT OR IGNORE INTO unembedded SELECT hash FROM texts t WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.text_hash = t.hash);`);
    }
    const textColumns = db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('texts') as string[];
    if (!textColumns.includes('embed_prefix')) db.exec('ALTER TABLE texts ADD COLUMN embed_prefix TEXT');
    if (version !== undefined && Number(version) < 4) {
      // Earlier versions stored every embedding text whole: keep only the header of those that end with their code.
      compact = db.prepare(`UPDATE texts SET embed_prefix = substr(embed_text, 1, length(embed_text) - length(text)), embed_text = ''
        WHERE embed_prefix IS NULL AND length(embed_text) >= length(text) AND substr(embed_text, length(embed_text) - length(text) + 1) = text`).run().changes > 0;
    }
    // Version 1 stored float32 vectors; convertVectorsToHalf() rewrites them after the migration.
    const format = version === undefined || Number(version) >= 2 ? 'float16' : 'float32';
    db.prepare("INSERT OR IGNORE INTO meta(key, value) VALUES ('vector_format', ?)").run(format);
    db.prepare("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
    db.prepare("INSERT OR IGNORE INTO meta(key, value) VALUES ('vectors_gen', '0')").run();
  }).immediate();
  if (compact) {
    try {
      db.exec('VACUUM');
    } catch {
      // Another connection is reading: the freed pages are reused by later writes instead.
    }
  }
}

/**
 * Creates chunks_fts, or rebuilds it from chunks, files and texts when an earlier version made it: the
 * contentless_delete table (whose bm25 statistics still count every row ever deleted) or a table without
 * the porter stemmer (its tokens are unstemmed, so stemmed queries would miss them). It runs inside
 * migrate()'s transaction: a crash leaves the old table or the whole new one.
 */
function migrateFts(db: Database.Database): void {
  const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'chunks_fts'").pluck().get() as string | undefined;
  if (sql !== undefined && !/contentless_delete/i.test(sql) && /porter/i.test(sql)) return;
  if (sql !== undefined) db.exec('DROP TABLE chunks_fts');
  db.exec(FTS_SCHEMA);
  if (sql === undefined) return;
  const rows = db.prepare(
    `SELECT c.id AS id, f.path AS path, c.symbol AS symbol, t.text AS text
     FROM chunks c JOIN files f ON f.id = c.file_id JOIN texts t ON t.hash = c.text_hash
     WHERE c.id > ? ORDER BY c.id LIMIT ?`,
  );
  const insert = db.prepare(INSERT_FTS);
  for (let after = 0; ; ) {
    const batch = rows.all(after, FTS_REBUILD_BATCH) as { id: number; path: string; symbol: string | null; text: string }[];
    if (batch.length === 0) break;
    for (const row of batch) insert.run(row.id, pathTokenText(row.path), row.symbol ? tokenText(row.symbol) : '', tokenText(row.text));
    after = batch[batch.length - 1].id;
  }
}

const INSERT_FTS = 'INSERT INTO chunks_fts(rowid, path, symbol, body) VALUES (?, ?, ?, ?)';
/** A text row's embedding text: its header and code, or (stored before version 4, or not ending with the code) whole. */
export const EMBED_TEXT = 'coalesce(t.embed_prefix || t.text, t.embed_text)';
/** Candidates no chunk uses any more: the texts garbage collection deletes. */
const ORPHAN_CANDIDATES = 'SELECT g.hash FROM gc_candidates g WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.text_hash = g.hash)';
/** Vectors converted from float32 per transaction when a version 1 database is upgraded. */
const CONVERT_BATCH = 500;

const LITTLE_ENDIAN = endianness() === 'LE';

/** float16 little-endian bytes of a vector (the `vectors.vector` format since schema version 2). */
export function encodeVector(vector: Float32Array): Buffer {
  return encodeHalf(vector);
}

/** float32 little-endian bytes (the format of schema version 1, still read until converted). */
export function encodeVectorFloat32(vector: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(Float32Array.from(vector).buffer);
  const buf = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) buf.writeFloatLE(vector[i], i * 4);
  return buf;
}

/** Cosine similarity of a stored vector of `dims` dims to `unitQuery` (length 1). */
export function storedCosine(blob: Buffer, dims: number, unitQuery: Float32Array): number {
  if (blob.length === dims * 2) return halfCosine(blob, unitQuery);
  const vector = decodeVector(blob, dims);
  let dot = 0;
  let squares = 0;
  for (let i = 0; i < vector.length; i++) {
    dot += vector[i] * unitQuery[i];
    squares += vector[i] * vector[i];
  }
  return dot / (Math.sqrt(squares) || 1);
}

/** A stored vector of `dims` dims: float16, or float32 when written by schema version 1. */
export function decodeVector(blob: Buffer, dims: number): Float32Array {
  if (blob.length === dims * 2) return decodeHalf(blob);
  if (blob.length !== dims * 4) throw new IndexStoreError(`Stored vector blob of ${blob.length} bytes holds neither ${dims} float16 nor float32 values`);
  if (LITTLE_ENDIAN) {
    // Copy: the blob's byteOffset need not be 4-aligned.
    return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.length));
  }
  const out = new Float32Array(blob.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = blob.readFloatLE(i * 4);
  return out;
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    getMeta: p('SELECT value FROM meta WHERE key = ?').pluck(),
    setMeta: p('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    deleteMeta: p('DELETE FROM meta WHERE key = ?'),
    bumpGen: p("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'vectors_gen'"),

    listFiles: p('SELECT path, size, mtime_ms AS mtimeMs, hash, language FROM files'),
    // The path itself, then the range of paths below it as a directory ('/' + 1 is '0'); both use path's index.
    listFilesAt: p(
      `SELECT path, size, mtime_ms AS mtimeMs, hash, language FROM files WHERE path = @at
       UNION ALL SELECT path, size, mtime_ms AS mtimeMs, hash, language FROM files WHERE path >= @at || '/' AND path < @at || '0'`,
    ),
    upsertFile: p(
      `INSERT INTO files(path, size, mtime_ms, hash, language) VALUES (@path, @size, @mtimeMs, @hash, @language)
       ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms,
         hash = excluded.hash, language = excluded.language
       RETURNING id`,
    ).pluck(),
    touchFile: p('UPDATE files SET size = ?, mtime_ms = ? WHERE path = ?'),
    fileId: p('SELECT id FROM files WHERE path = ?').pluck(),
    deleteFile: p('DELETE FROM files WHERE id = ?'),
    deleteFtsOfFile: p('DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?)'),
    deleteChunksOfFile: p('DELETE FROM chunks WHERE file_id = ?'),
    insertText: p('INSERT INTO texts(hash, text, embed_text, embed_prefix) VALUES (?, ?, ?, ?) ON CONFLICT(hash) DO NOTHING'),
    insertChunk: p(
      `INSERT INTO chunks(file_id, start_line, end_line, symbol, kind, language, text_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertFts: p(INSERT_FTS),

    // Garbage collection looks only at texts that lost a chunk since the last one. CROSS JOIN keeps the
    // small work list as the outer loop (without statistics the planner would scan every vector).
    noteGcCandidates: p('INSERT OR IGNORE INTO gc_candidates SELECT text_hash FROM chunks WHERE file_id = ?'),
    orphanVectorLabels: p(
      `SELECT v.label FROM gc_candidates g CROSS JOIN vectors v ON v.text_hash = g.hash
       WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.text_hash = g.hash)`,
    ).pluck(),
    deleteOrphanVectors: p(`DELETE FROM vectors WHERE text_hash IN (${ORPHAN_CANDIDATES})`),
    deleteOrphanUnembedded: p(`DELETE FROM unembedded WHERE hash IN (${ORPHAN_CANDIDATES})`),
    deleteOrphanTexts: p(`DELETE FROM texts WHERE hash IN (${ORPHAN_CANDIDATES})`),
    clearGcCandidates: p('DELETE FROM gc_candidates'),

    insertUnembedded: p('INSERT OR IGNORE INTO unembedded(hash) VALUES (?)'),
    unembedAll: p('INSERT OR IGNORE INTO unembedded SELECT hash FROM texts'),
    pendingTexts: p(
      `SELECT t.hash AS textHash, ${EMBED_TEXT} AS embedText FROM unembedded u JOIN texts t ON t.hash = u.hash
       WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.text_hash = u.hash)
       ORDER BY u.hash LIMIT ?`,
    ),
    countPending: p(
      'SELECT count(*) FROM unembedded u WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.text_hash = u.hash)',
    ).pluck(),
    deleteUnembedded: p('DELETE FROM unembedded WHERE hash = ?'),

    logChange: p('INSERT INTO hnsw_log(op, label) VALUES (?, ?)'),
    logHead: p("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'hnsw_log'), 0)").pluck(),
    logAfter: p('SELECT op, label FROM hnsw_log WHERE seq > ? ORDER BY seq'),
    logCounts: p(
      `SELECT coalesce(sum(op = ${LOG_ADD}), 0) AS adds, coalesce(sum(op = ${LOG_DELETE}), 0) AS deletes
       FROM hnsw_log WHERE seq > ?`,
    ),
    truncateLog: p('DELETE FROM hnsw_log WHERE seq <= ?'),
    vectorsOfLabels: p('SELECT v.label AS label, v.vector AS vector FROM json_each(?) j JOIN vectors v ON v.label = j.value'),
    legacyVectors: p('SELECT label, vector FROM vectors WHERE label > ? ORDER BY label LIMIT ?'),
    rewriteVector: p('UPDATE vectors SET vector = ? WHERE label = ?'),

    insertVector: p(
      `INSERT INTO vectors(text_hash, vector) SELECT @hash, @vector
       WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.text_hash = @hash)
       ON CONFLICT(text_hash) DO NOTHING
       RETURNING label`,
    ).pluck(),
    missingVectors: p(
      'SELECT j.value FROM json_each(?) j WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.text_hash = j.value)',
    ).pluck(),
    chunksOfTexts: p('SELECT count(*) AS chunks, count(DISTINCT c.text_hash) AS texts FROM json_each(?) j JOIN chunks c ON c.text_hash = j.value'),
    deleteAllVectors: p('DELETE FROM vectors'),
    vectorStats: p(
      `SELECT (SELECT n FROM row_counts WHERE name = 'vectors') AS count, coalesce((SELECT max(label) FROM vectors), 0) AS maxLabel,
         (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'vectors_gen') AS gen`,
    ),
    iterateVectors: p('SELECT label, vector FROM vectors ORDER BY label'),

    // Equal scores (duplicated code) go by path and line, not by chunk id, which depends on the index's history.
    lexical: p(
      `SELECT chunks_fts.rowid AS id, -${BM25} AS score, f.path AS path, c.language AS language
       FROM chunks_fts
       JOIN chunks c ON c.id = chunks_fts.rowid
       JOIN files f ON f.id = c.file_id
       WHERE chunks_fts MATCH ?
       ORDER BY ${BM25}, f.path, c.start_line
       LIMIT ?`,
    ),
    // The lexical statement's order in two steps (SqliteStore.lexicalTop): bm25 in FTS5 alone, then the winners joined.
    lexicalRanks: p(`SELECT rowid AS id, ${BM25} AS bm25 FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25 LIMIT ?`),
    // Without bm25 a match costs a tenth as much; the limit bounds a common term's count.
    matchCountUpTo: p('SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)').pluck(),
    chunkCount: p('SELECT count(*) FROM chunks').pluck(),
    // Changes when this connection writes a row (total_changes) or another connection commits (data_version).
    writeMark: p("SELECT total_changes() || ':' || data_version FROM pragma_data_version").pluck(),
    lexicalRows: p(
      `SELECT c.id AS id, f.path AS path, c.language AS language, c.start_line AS startLine
       FROM json_each(?) j
       JOIN chunks c ON c.id = j.value
       JOIN files f ON f.id = c.file_id`,
    ),
    vectorsOfChunks: p(
      `SELECT c.id AS id, v.vector AS vector
       FROM json_each(?) j
       JOIN chunks c ON c.id = j.value
       JOIN vectors v ON v.text_hash = c.text_hash`,
    ),
    chunksOfLabels: p(
      `SELECT v.label AS label, c.id AS id, f.path AS path, c.language AS language
       FROM json_each(?) j
       JOIN vectors v ON v.label = j.value
       JOIN chunks c ON c.text_hash = v.text_hash
       JOIN files f ON f.id = c.file_id`,
    ),
    getChunks: p(
      `SELECT c.id AS id, f.path AS path, c.language AS language, c.symbol AS symbol, c.kind AS kind,
         c.start_line AS startLine, c.end_line AS endLine, c.text_hash AS textHash, t.text AS text
       FROM json_each(?) j
       JOIN chunks c ON c.id = j.value
       JOIN files f ON f.id = c.file_id
       JOIN texts t ON t.hash = c.text_hash`,
    ),
    getChunkHeads: p(
      `SELECT c.id AS id, f.path AS path, c.language AS language, c.symbol AS symbol, c.kind AS kind,
         c.start_line AS startLine, c.end_line AS endLine, c.text_hash AS textHash
       FROM json_each(?) j
       JOIN chunks c ON c.id = j.value
       JOIN files f ON f.id = c.file_id`,
    ),
    hasVectors: p('SELECT EXISTS (SELECT 1 FROM vectors) AS present').pluck(),
    // From the work lists rather than a scan of every chunk: texts without a vector are in unembedded,
    // texts no chunk uses any more are among gc_candidates.
    counts: p(
      `SELECT (SELECT count(*) FROM files) AS files,
         (SELECT count(*) FROM chunks) AS chunks,
         (SELECT count(*) FROM unembedded u CROSS JOIN chunks c ON c.text_hash = u.hash) AS chunksUnembedded,
         (SELECT n FROM row_counts WHERE name = 'texts') - (SELECT count(*) FROM (${ORPHAN_CANDIDATES})) AS texts,
         (SELECT n FROM row_counts WHERE name = 'vectors') AS vectors`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** All SQL of the index store, as prepared statements and small transactions. */
export class SqliteStore {
  readonly db: Database.Database;
  private readonly s: Statements;

  /** Definitions and identifier occurrences, written with each file's chunks. */
  readonly symbols: SymbolTables;

  /**
   * Rows matching each term, counted up to TERM_ROWS_UP_TO, as of `termRowsMark`: a search counts its words
   * twice (lexicalRareFirst, then the name weights of rare-word-names.ts), and a common word's count costs
   * ~0.7 ms at 200k chunks. Cleared by any write.
   */
  private readonly termRowsMemo = new Map<string, number>();
  private termRowsMark = '';

  constructor(db: Database.Database) {
    this.db = db;
    this.s = prepareStatements(db);
    this.symbols = new SymbolTables(db);
  }

  getMeta(key: string): string | null {
    return (this.s.getMeta.get(key) as string | undefined) ?? null;
  }

  setMeta(key: string, value: string): void {
    this.s.setMeta.run(key, value);
  }

  deleteMeta(key: string): void {
    this.s.deleteMeta.run(key);
  }

  getModel(): IndexedModel | null {
    const modelId = this.getMeta('model_id');
    const dims = this.getMeta('model_dims');
    if (modelId === null || dims === null) return null;
    return { modelId, dims: Number(dims), distance: 'cosine' };
  }

  /** Records the model; when `dropVectors`, deletes every vector in the same transaction. */
  writeModel(model: IndexedModel, dropVectors: boolean): void {
    this.db.transaction(() => {
      if (dropVectors) this.deleteAllVectorsInTx();
      this.setMeta('model_id', model.modelId);
      this.setMeta('model_dims', String(model.dims));
      this.setMeta('model_distance', model.distance);
    }).immediate();
  }

  deleteAllVectors(): void {
    this.db.transaction(() => this.deleteAllVectorsInTx()).immediate();
  }

  /** Every vector goes, every text becomes unembedded, and the HNSW snapshot becomes the empty one. */
  private deleteAllVectorsInTx(): void {
    if (this.s.deleteAllVectors.run().changes > 0) this.s.bumpGen.run();
    this.s.unembedAll.run();
    // A new log head (inserted and dropped) tells another process's graph that it is out of date.
    this.s.logChange.run(LOG_DELETE, 0);
    const seq = this.logHead();
    this.recordSnapshotInTx({ seq, file: null, points: 0, live: 0, dims: 0 });
  }

  /** The last hnsw_log seq ever written (0 if none); it only grows. */
  logHead(): number {
    return this.s.logHead.get() as number;
  }

  /** The snapshot record, or null when none was ever written (an empty snapshot at seq 0) or it is unreadable. */
  readSnapshot(): { record: SnapshotRecord | null; raw: string | null } {
    const raw = this.getMeta('hnsw_state');
    if (raw === null) return { record: null, raw };
    try {
      const r = JSON.parse(raw) as Partial<SnapshotRecord>;
      const numbers = [r.seq, r.points, r.live, r.dims];
      const ok = numbers.every((v) => typeof v === 'number' && Number.isFinite(v)) && (r.file === null || typeof r.file === 'string');
      return { record: ok ? (r as SnapshotRecord) : null, raw };
    } catch {
      return { record: null, raw };
    }
  }

  /** Records that the snapshot now holds `record` and drops the log entries it includes, in one transaction. */
  recordSnapshot(record: SnapshotRecord): void {
    this.db.transaction(() => this.recordSnapshotInTx(record)).immediate();
  }

  private recordSnapshotInTx(record: SnapshotRecord): void {
    this.setMeta('hnsw_state', JSON.stringify(record));
    this.s.truncateLog.run(record.seq);
  }

  /** Changes logged after `seq`, reduced to their net effect (a label added then deleted is in neither list). */
  logAfter(seq: number): LogTail {
    const added = new Set<number>();
    const deleted: number[] = [];
    for (const row of this.s.logAfter.iterate(seq) as IterableIterator<{ op: number; label: number }>) {
      if (row.op === LOG_ADD) added.add(row.label);
      else if (row.label !== 0 && !added.delete(row.label)) deleted.push(row.label);
    }
    return { added: [...added], deleted };
  }

  logCounts(seq: number): { adds: number; deletes: number } {
    return this.s.logCounts.get(seq) as { adds: number; deletes: number };
  }

  /** Stored vectors of these labels (labels without one are left out). */
  vectorsOfLabels(labels: number[], dims: number): { label: number; vector: Float32Array }[] {
    return [...rowsOfKeys<{ label: number; vector: Buffer }>(this.s.vectorsOfLabels, labels)].map((row) => ({ label: row.label, vector: decodeVector(row.vector, dims) }));
  }

  /** Cosine similarity of these labels' stored vectors to `unitQuery` (length 1); labels without one are left out. */
  similaritiesOfLabels(labels: number[], unitQuery: Float32Array): { label: number; similarity: number }[] {
    return [...rowsOfKeys<{ label: number; vector: Buffer }>(this.s.vectorsOfLabels, labels)].map((row) => ({ label: row.label, similarity: storedCosine(row.vector, unitQuery.length, unitQuery) }));
  }

  /**
   * Rewrites float32 vectors of schema version 1 as float16, a batch per transaction (a crash leaves both
   * formats, which read fine, and the next open goes on); returns how many it converted.
   */
  convertVectorsToHalf(dims: number): number {
    let converted = 0;
    for (let after = 0; ; ) {
      const rows = this.s.legacyVectors.all(after, CONVERT_BATCH) as { label: number; vector: Buffer }[];
      if (rows.length === 0) break;
      this.db.transaction(() => {
        for (const row of rows) {
          if (row.vector.length !== dims * 4) continue;
          this.s.rewriteVector.run(encodeVector(decodeVector(row.vector, dims)), row.label);
          converted++;
        }
      }).immediate();
      crashPoint('vectors-converted');
      after = rows[rows.length - 1].label;
    }
    this.setMeta('vector_format', 'float16');
    return converted;
  }

  listFiles(under?: readonly string[]): Map<string, FileRecord> {
    const out = new Map<string, FileRecord>();
    if (under) {
      for (const at of under) for (const row of this.s.listFilesAt.all({ at }) as FileRecord[]) out.set(row.path, row);
      return out;
    }
    for (const row of this.s.listFiles.all() as FileRecord[]) out.set(row.path, row);
    return out;
  }

  upsertFile(file: FileRecord, chunks: ChunkInput[], symbols?: FileSymbols | null): void {
    const pathTokens = pathTokenText(file.path);
    this.db.transaction(() => {
      const fileId = this.s.upsertFile.get(file) as number;
      this.symbols.replace(fileId, symbols);
      this.s.deleteFtsOfFile.run(fileId);
      this.s.noteGcCandidates.run(fileId);
      this.s.deleteChunksOfFile.run(fileId);
      const bodyTokens = new Map<string, string>();
      for (const chunk of chunks) {
        // A new text has no vector yet (a vector's text row exists as long as the vector does).
        const prefixed = chunk.embedText.endsWith(chunk.text);
        const inserted = prefixed
          ? this.s.insertText.run(chunk.textHash, chunk.text, '', chunk.embedText.slice(0, chunk.embedText.length - chunk.text.length))
          : this.s.insertText.run(chunk.textHash, chunk.text, chunk.embedText, null);
        if (inserted.changes > 0) this.s.insertUnembedded.run(chunk.textHash);
        const id = this.s.insertChunk.run(
          fileId,
          chunk.startLine,
          chunk.endLine,
          chunk.symbol,
          chunk.kind,
          chunk.language,
          chunk.textHash,
        ).lastInsertRowid;
        let body = bodyTokens.get(chunk.textHash);
        if (body === undefined) {
          body = tokenText(chunk.text);
          bodyTokens.set(chunk.textHash, body);
        }
        this.s.insertFts.run(id, pathTokens, chunk.symbol ? tokenText(chunk.symbol) : '', body);
      }
    }).immediate();
  }

  touchFile(path: string, size: number, mtimeMs: number): void {
    this.s.touchFile.run(size, mtimeMs, path);
  }

  /** Deletes files with their chunks (cascade) and FTS rows; returns the number of chunks deleted. */
  removeFiles(paths: string[]): number {
    return this.db.transaction(() => {
      let removed = 0;
      for (const path of paths) {
        const id = this.s.fileId.get(path) as number | undefined;
        if (id === undefined) continue;
        this.s.deleteFtsOfFile.run(id);
        this.s.noteGcCandidates.run(id);
        removed += this.s.deleteChunksOfFile.run(id).changes;
        this.s.deleteFile.run(id);
      }
      return removed;
    }).immediate();
  }

  /**
   * Deletes texts no chunk uses any more, with their vectors (each logged for HNSW), looking only at texts
   * that lost a chunk since the last collection; returns the texts deleted and the vector labels removed.
   */
  collectGarbage(): { texts: number; labels: number[] } {
    return this.db.transaction(() => {
      const labels = this.s.orphanVectorLabels.all() as number[];
      if (labels.length > 0) {
        this.s.deleteOrphanVectors.run();
        for (const label of labels) this.s.logChange.run(LOG_DELETE, label);
        this.s.bumpGen.run();
      }
      this.s.deleteOrphanUnembedded.run();
      const texts = this.s.deleteOrphanTexts.run().changes;
      this.s.clearGcCandidates.run();
      return { texts, labels };
    }).immediate();
  }

  pendingTexts(limit?: number): PendingText[] {
    const n = limit === undefined ? -1 : Math.max(0, Math.floor(limit));
    return this.s.pendingTexts.all(n) as PendingText[];
  }

  countPending(): number {
    return this.s.countPending.get() as number;
  }

  /** The hashes among `textHashes` without a stored vector, in the order given. */
  missingVectors(textHashes: string[]): string[] {
    return [...rowsOfKeys<string>(this.s.missingVectors, textHashes)];
  }

  /** Chunks using one of these distinct texts, and how many of the texts are used (batched like missingVectors). */
  countChunksOfTexts(textHashes: string[]): { chunks: number; texts: number } {
    const total = { chunks: 0, texts: 0 };
    for (let i = 0; i < textHashes.length; i += ID_BATCH) {
      const row = this.s.chunksOfTexts.get(JSON.stringify(textHashes.slice(i, i + ID_BATCH))) as { chunks: number; texts: number };
      total.chunks += row.chunks;
      total.texts += row.texts;
    }
    return total;
  }

  /**
   * Inserts vectors for hashes still referenced by a chunk and without a vector (others are skipped), and
   * logs each for HNSW, in one transaction; returns the labels assigned with their vectors as stored
   * (float16, read back as float32), in input order, and the log head after them.
   */
  insertVectors(items: { textHash: string; vector: Float32Array }[]): { labels: number[]; vectors: Float32Array[]; seq: number } {
    return this.db.transaction(() => {
      const labels: number[] = [];
      const vectors: Float32Array[] = [];
      for (const item of items) {
        const blob = encodeVector(item.vector);
        const label = this.s.insertVector.get({ hash: item.textHash, vector: blob }) as number | undefined;
        if (label === undefined) continue;
        this.s.deleteUnembedded.run(item.textHash);
        this.s.logChange.run(LOG_ADD, label);
        labels.push(label);
        vectors.push(decodeVector(blob, item.vector.length));
      }
      if (labels.length > 0) this.s.bumpGen.run();
      return { labels, vectors, seq: this.logHead() };
    }).immediate();
  }

  hasVectors(): boolean {
    return this.s.hasVectors.get() === 1;
  }

  vectorStats(): VectorStats {
    return this.s.vectorStats.get() as VectorStats;
  }

  /** Every stored vector in label order, streamed (the caller must not write to the DB meanwhile). */
  *iterateVectors(dims: number): IterableIterator<{ label: number; vector: Float32Array }> {
    for (const row of this.s.iterateVectors.iterate() as IterableIterator<{ label: number; vector: Buffer }>) {
      yield { label: row.label, vector: decodeVector(row.vector, dims) };
    }
  }

  /** How many chunks' FTS rows hold each term (as MATCH reads it: stemmed, any column), counted up to `upTo`, and how many chunks there are. */
  termChunkCounts(terms: readonly string[], upTo: number): { chunks: number; counts: number[] } {
    const counts = upTo <= TERM_ROWS_UP_TO ? this.termRows(terms).map((rows) => Math.min(rows, upTo)) : terms.map((term) => this.s.matchCountUpTo.get(ftsAnyOf([term]), upTo) as number);
    return { chunks: this.s.chunkCount.get() as number, counts };
  }

  /** Each term's matching rows, up to TERM_ROWS_UP_TO (memoized until the next write). */
  private termRows(terms: readonly string[]): number[] {
    const mark = this.s.writeMark.get() as string;
    if (mark !== this.termRowsMark || this.termRowsMemo.size > TERM_ROWS_MEMO_MAX) {
      this.termRowsMemo.clear();
      this.termRowsMark = mark;
    }
    return terms.map((term) => {
      let rows = this.termRowsMemo.get(term);
      if (rows === undefined) this.termRowsMemo.set(term, (rows = this.s.matchCountUpTo.get(ftsAnyOf([term]), TERM_ROWS_UP_TO) as number));
      return rows;
    });
  }

  /**
   * The `limit` best bm25 matches of a MATCH expression, best first (ties by path, then line), score = -bm25
   * (higher is better), streamed: SQLite ranks the matches once and the caller reads as far as it needs.
   */
  *lexical(terms: readonly string[], limit: number): IterableIterator<LexicalCandidate> {
    const match = ftsAnyOf(terms);
    const bounded = Number.isInteger(limit) && limit > 0 && limit <= LEXICAL_TWO_STEP_MAX;
    const top = bounded ? (this.lexicalRareFirst(terms, limit) ?? this.lexicalTop(match, limit)) : null;
    if (top) yield* top;
    else yield* this.s.lexical.iterate(match, limit) as IterableIterator<LexicalCandidate>;
  }

  /**
   * The `limit` best rows without scoring every match, when the terms together match more than
   * SCORED_MATCHES_MAX rows (bm25 costs ~1.5 us a row, and a common word matches a tenth of a large index).
   * bm25 is a sum over the query's terms, so the rows holding one of the rarest terms are scored exactly by
   * two small queries: the rare terms alone (rows without a common term), and the common terms AND the rare
   * ones (rows with both: every term counted). Rows holding only common terms are not candidates: as in
   * Lucene's common-terms query, they rank below the rare terms' rows but for a tail (docs/performance.md
   * measures it). null when the rare terms' rows are too few to fill `limit`, or the split cannot be exact.
   */
  private lexicalRareFirst(terms: readonly string[], limit: number): LexicalCandidate[] | null {
    if (terms.length < 2) return null;
    const counts = this.termRows(terms);
    const df = terms.map((term, i) => ({ term, rows: counts[i] }));
    if (df.reduce((sum, t) => sum + t.rows, 0) <= SCORED_MATCHES_MAX) return null;
    df.sort((a, b) => a.rows - b.rows);
    const rare: string[] = [];
    let rows = 0;
    for (const t of df) {
      if (rare.length > 0 && rows + t.rows > SCORED_MATCHES_MAX) break;
      rare.push(t.term);
      rows += t.rows;
    }
    const common = df.slice(rare.length).map((t) => t.term);
    if (common.length === 0 || rows < limit) return null;
    const alone = this.lexicalTop(ftsAnyOf(rare), limit);
    const both = this.lexicalTop(`(${ftsAnyOf(common)}) AND (${ftsAnyOf(rare)})`, limit);
    if (!alone || !both || alone.length < limit) return null;
    // A row in both lists scores more in `both` (its common terms count there); each list's first `limit` hold
    // every row that can be among the first `limit` of the two together.
    const best = new Map(alone.map((c) => [c.id, c]));
    for (const c of both) best.set(c.id, c);
    return [...best.values()].sort((a, b) => b.score - a.score || compareUtf8(a.path, b.path) || a.startLine - b.startLine).slice(0, limit);
  }

  /**
   * The `lexical` statement's rows, with only the `limit` best by bm25 joined to chunks and files: joining
   * every match before sorting was a third of the query, and the matches grow with the index. null (use
   * the statement) where the two could differ: a full tie, a match without a chunk, a bm25 tie past 4x the cut.
   */
  private lexicalTop(match: string, limit: number): (LexicalCandidate & { startLine: number })[] | null {
    // Rows past the cut say whether bm25 ties cross it; then read on until the tie ends and rank the whole tie.
    let fetch = 2 * limit + 1;
    let ranked = this.s.lexicalRanks.all(match, fetch) as { id: number; bm25: number }[];
    while (ranked.length === fetch && ranked[fetch - 1].bm25 === ranked[limit - 1].bm25) {
      if (fetch > LEXICAL_TWO_STEP_MAX * 4) return null;
      fetch *= 4;
      ranked = this.s.lexicalRanks.all(match, fetch) as { id: number; bm25: number }[];
    }
    if (ranked.length > limit) {
      const cut = ranked[limit - 1].bm25;
      ranked = ranked.filter((r) => r.bm25 <= cut);
    }
    if (ranked.length === 0) return [];
    const rows = new Map<number, { id: number; path: string; language: string; startLine: number }>();
    for (const row of this.s.lexicalRows.all(JSON.stringify(ranked.map((r) => r.id))) as { id: number; path: string; language: string; startLine: number }[]) rows.set(row.id, row);
    if (rows.size !== ranked.length) return null;
    const out = ranked.map((r) => ({ bm25: r.bm25, row: rows.get(r.id)! }));
    // ORDER BY bm25, f.path, c.start_line; paths compare as SQLite's BINARY collation does, by UTF-8 bytes.
    out.sort((a, b) => a.bm25 - b.bm25 || compareUtf8(a.row.path, b.row.path) || a.row.startLine - b.row.startLine);
    for (let i = 1; i < out.length; i++) {
      const [a, b] = [out[i - 1], out[i]];
      if (a.bm25 === b.bm25 && a.row.path === b.row.path && a.row.startLine === b.row.startLine) return null;
    }
    return out.slice(0, limit).map(({ bm25, row }) => ({ id: row.id, score: -bm25, path: row.path, language: row.language, startLine: row.startLine }));
  }

  /** Cosine similarity of these chunks' stored vectors to `unitQuery` (length 1); chunks without one are left out. */
  similaritiesOfChunks(ids: number[], unitQuery: Float32Array): { id: number; similarity: number }[] {
    return [...rowsOfKeys<{ id: number; vector: Buffer }>(this.s.vectorsOfChunks, ids)].map((row) => ({ id: row.id, similarity: storedCosine(row.vector, unitQuery.length, unitQuery) }));
  }

  /** Every chunk whose text has one of these vector labels (a label can map to several chunks). */
  chunksOfLabels(labels: number[]): LabelChunk[] {
    return [...rowsOfKeys<LabelChunk>(this.s.chunksOfLabels, labels)];
  }

  getChunks(ids: number[]): ChunkRow[] {
    return this.rowsInOrder(this.s.getChunks, ids);
  }

  getChunkHeads(ids: number[]): ChunkHead[] {
    return this.rowsInOrder(this.s.getChunkHeads, ids);
  }

  /** A by-id statement's rows in the order of `ids` (ids without a row left out, repeats repeated). */
  private rowsInOrder<R extends { id: number }>(statement: Database.Statement, ids: number[]): R[] {
    const byId = new Map<number, R>();
    for (const row of rowsOfKeys<R>(statement, [...new Set(ids)])) byId.set(row.id, row);
    const out: R[] = [];
    for (const id of ids) {
      const row = byId.get(id);
      if (row) out.push(row);
    }
    return out;
  }

  counts(): StoreCounts {
    const row = this.s.counts.get() as Omit<StoreCounts, 'chunksWithVectors'> & { chunksUnembedded: number };
    const { chunksUnembedded, ...rest } = row;
    return { files: rest.files, chunks: rest.chunks, chunksWithVectors: rest.chunks - chunksUnembedded, texts: rest.texts, vectors: rest.vectors };
  }

  close(): void {
    this.db.close();
  }
}
