/** Shapes the index store reads and writes. SQLite is the source of truth; HNSW is derived from it. */
import type { Chunk } from '../chunk/chunk.js';
import type { FileSymbols } from '../chunk/file-symbols.js';
import type { SymbolTables } from './symbol-tables.js';

export interface FileRecord {
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 hex of the file's bytes. */
  hash: string;
  language: string;
}

/**
 * A chunk as the store writes it: the chunker's fields (indexer/chunk/chunk.ts; the path is the file's), plus
 * what its vector is keyed by. `text` is stored once per distinct textHash.
 */
export interface ChunkInput extends Omit<Chunk, 'path' | 'tokens'>, PendingText {}

/** A stored chunk as read back: the chunker's fields with its row id and text hash. */
export interface ChunkRow extends Omit<Chunk, 'tokens'>, Pick<PendingText, 'textHash'> {
  id: number;
}

/** A stored chunk without its text: what ranking reads for every candidate (the text is read for the hits shown). */
export type ChunkHead = Omit<ChunkRow, 'text'>;

export interface PendingText {
  /**
   * sha256 hex of `embedText` (the vector cache key): a vector is reused only for the same header and code,
   * so a renamed file's chunks are embedded again with their new path (docs/quality.md, "The path header").
   */
  textHash: string;
  /** Header + code, as sent to the embedder; stored beside the text for embedding later. */
  embedText: string;
}

export interface IndexedModel {
  modelId: string;
  dims: number;
  distance: 'cosine';
}

export interface StoreCounts {
  files: number;
  chunks: number;
  /** Chunks whose text has a vector. */
  chunksWithVectors: number;
  /** Distinct chunk texts. */
  texts: number;
  vectors: number;
}

export interface SearchFilter {
  /** Keep only chunks whose path matches this predicate. */
  pathFilter?: (path: string) => boolean;
  /** Keep only chunks in these languages. */
  languages?: string[];
}

export interface FlushOptions {
  /** Write a snapshot whatever the log holds. */
  force?: boolean;
  /** Called during a long run: wait for a longer log (a share of the index), so a full build writes few snapshots. */
  periodic?: boolean;
}

export interface ScoredChunkId {
  chunkId: number;
  /** Higher is better (BM25 negated for lexical, 1 - cosine distance for semantic). */
  score: number;
}

/**
 * The project's index: SQLite (WAL) holds files, chunks, chunk texts (once per distinct text), vectors
 * and the model; an FTS5 table serves lexical search; an HNSW index derived from the vectors serves
 * semantic search and is rebuilt from SQLite when missing or inconsistent.
 */
export interface IndexStore {
  readonly dataDir: string;

  /** The model whose vectors this index holds, or null before the first vector. */
  getModel(): IndexedModel | null;
  /** Records the model. A different model id or dims first drops every vector; returns true if it did. */
  setModel(model: IndexedModel): boolean;
  /** Drops all vectors (SQLite rows and the HNSW index); chunks and texts stay. */
  clearVectors(): void;

  /**
   * Every indexed file, keyed by path; with `under`, only the files at these repo-relative paths or below
   * them as directories (a watcher's run looks up its changed paths, not the whole catalog).
   */
  listFiles(under?: readonly string[]): Map<string, FileRecord>;
  /**
   * One transaction: the file's row, all its chunks (FTS rows too) and its symbols (none when null or left
   * out) are replaced; new texts are stored.
   */
  upsertFile(file: FileRecord, chunks: ChunkInput[], symbols?: FileSymbols | null): void;
  /** The symbol table: definitions and identifier occurrences, as fresh as the chunks (read it; upsertFile writes it). */
  readonly symbols: Omit<SymbolTables, 'replace'>;
  /** Records a new size/mtime for a file whose content hash did not change. */
  touchFile(path: string, size: number, mtimeMs: number): void;
  /** Removes files with their chunks and FTS rows; returns the number of chunks deleted. */
  removeFiles(paths: string[]): number;
  /** Deletes texts no chunk references any more, with their vectors (marked deleted in HNSW). */
  collectGarbage(): number;

  /** Texts referenced by some chunk that have no vector yet, in a stable order. */
  pendingTexts(limit?: number): PendingText[];
  countPending(): number;
  /** The hashes among `textHashes` that have no stored vector. */
  missingVectors(textHashes: string[]): string[];
  /** How many chunks use one of these (distinct) texts, and how many of the texts some chunk uses. */
  countChunksOfTexts(textHashes: string[]): { chunks: number; texts: number };
  /** Stores vectors (one SQLite transaction), then adds them to HNSW. Unknown or already-stored hashes are ignored. */
  putVectors(items: { textHash: string; vector: Float32Array }[]): void;
  /**
   * Every vector change is durable once stored (it is logged in SQLite and replayed on open); this writes a
   * new HNSW snapshot only when the log since the last one is long (or `force`), so a run that changed a few
   * vectors writes nothing big.
   */
  flushVectorIndex(options?: FlushOptions): void;

  lexicalSearch(query: string, k: number, filter?: SearchFilter): ScoredChunkId[];
  /**
   * How many chunks hold each of `terms` as lexical search matches them (stemmed, in any column), counted up to
   * `upTo` (a common word's count costs as much as a search), and how many chunks there are: a term's idf.
   */
  termChunkCounts(terms: readonly string[], upTo: number): { chunks: number; counts: number[] };
  semanticSearch(vector: Float32Array, k: number, filter?: SearchFilter): ScoredChunkId[];
  /** Exact cosine similarity of `vector` to these chunks' stored vectors, best first; chunks without one are left out. */
  scoreChunks(vector: Float32Array, chunkIds: number[]): ScoredChunkId[];
  /** Rows for chunk ids, in the order given; unknown ids are skipped. */
  getChunks(ids: number[]): ChunkRow[];
  /** getChunks without the texts (a third of its cost on a large index). */
  getChunkHeads(ids: number[]): ChunkHead[];
  counts(): StoreCounts;
  /** Whether any vector is stored; cheap, unlike counts() which scans every chunk. */
  hasVectors(): boolean;
  /** Meta key/value for the caller's own records (project settings, last index time). */
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): void;
  close(): void;
}
