/**
 * A thin wrapper over hnswlib-node's HierarchicalNSW (cosine space) that hides its pitfalls: it takes plain
 * arrays, forgets ef on load, records neither space nor dims in its file, throws when full, and counts
 * deleted points in getCurrentCount(). Labels are the SQLite `vectors` rowids; this class knows nothing else.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import hnswlib, { type HierarchicalNSW } from 'hnswlib-node';

export interface HnswParams {
  /** Graph degree (hnswlib M). */
  M: number;
  efConstruction: number;
  /** Search breadth; not stored in the index file, so it is applied after every load. */
  ef: number;
}

/**
 * Chosen by measurement on 4096-dim vectors (docs/performance.md, `npm run bench -- --grid`): inserts
 * are the indexing pipeline's largest cost and efConstruction 100 halves them; ef 256 buys the recall
 * back at query time (0.999 passage-like, 0.984 three-word queries at 10k vectors, ~8 ms per query).
 */
export const DEFAULT_HNSW_PARAMS: Readonly<HnswParams> = { M: 16, efConstruction: 100, ef: 256 };

/** Capacity of a fresh index; it doubles whenever an insert would overflow it. */
const INITIAL_CAPACITY = 1024;

export interface Neighbor {
  label: number;
  /** Cosine distance, 0 (same direction) to 2. */
  distance: number;
}

export class VectorIndex {
  readonly dims: number;
  private readonly params: HnswParams;
  private index: HierarchicalNSW;
  /** Points ever added to this graph, deleted ones included (what getCurrentCount() reports). */
  private points: number;
  private deleted: number;

  private constructor(index: HierarchicalNSW, dims: number, params: HnswParams, points: number, deleted: number) {
    this.index = index;
    this.dims = dims;
    this.params = params;
    this.points = points;
    this.deleted = deleted;
    this.index.setEf(params.ef);
  }

  /** An empty index with room for `capacity` points (grown on demand). */
  static create(dims: number, params: HnswParams, capacity = INITIAL_CAPACITY): VectorIndex {
    assertDims(dims);
    const index = new hnswlib.HierarchicalNSW('cosine', dims);
    index.initIndex({ maxElements: Math.max(16, Math.ceil(capacity)), m: params.M, efConstruction: params.efConstruction });
    return new VectorIndex(index, dims, params, 0, 0);
  }

  /**
   * Reads an index file written by {@link writeAtomic}. `livePoints` is how many of its points are not
   * deleted (the file does not say; the caller's records do). Throws when the file cannot be read or holds
   * fewer points than `livePoints`.
   */
  static load(file: string, dims: number, params: HnswParams, livePoints: number): VectorIndex {
    assertDims(dims);
    const index = new hnswlib.HierarchicalNSW('cosine', dims);
    index.readIndexSync(file);
    const points = index.getCurrentCount();
    if (points < livePoints) {
      throw new Error(`HNSW file ${file} holds ${points} points, fewer than the ${livePoints} expected`);
    }
    return new VectorIndex(index, dims, params, points, points - livePoints);
  }

  /** Points that searches can return. */
  get size(): number {
    return this.points - this.deleted;
  }

  /** Points in the graph including deleted ones. */
  get pointCount(): number {
    return this.points;
  }

  get deletedCount(): number {
    return this.deleted;
  }

  get capacity(): number {
    return this.index.getMaxElements();
  }

  /** Adds points under new labels, growing the index (capacity doubles) before it would overflow. */
  add(labels: readonly number[], vectors: readonly Float32Array[]): void {
    if (labels.length !== vectors.length) throw new Error('VectorIndex.add: labels and vectors differ in length');
    this.reserve(this.points + labels.length);
    for (let i = 0; i < labels.length; i++) {
      const vector = vectors[i];
      if (vector.length !== this.dims) {
        throw new Error(`VectorIndex.add: vector for label ${labels[i]} has ${vector.length} dims, index has ${this.dims}`);
      }
      // hnswlib-node reads plain JS arrays only.
      this.index.addPoint(Array.from(vector), labels[i]);
      this.points++;
    }
  }

  /** Marks labels deleted; labels not in the index (or already deleted) are ignored. Returns how many were marked. */
  markDeleted(labels: Iterable<number>): number {
    let marked = 0;
    for (const label of labels) {
      try {
        this.index.markDelete(label);
        marked++;
      } catch {
        // Unknown or already deleted label: nothing to do.
      }
    }
    this.deleted += marked;
    return marked;
  }

  /** Up to k nearest live points, nearest first. May return fewer than k when points are deleted. */
  search(query: Float32Array, k: number): Neighbor[] {
    if (query.length !== this.dims) {
      throw new Error(`Query vector has ${query.length} dims, the index has ${this.dims}`);
    }
    const n = Math.min(Math.floor(k), this.points, this.index.getMaxElements());
    if (n <= 0 || this.size === 0) return [];
    const { neighbors, distances } = this.index.searchKnn(Array.from(query), n);
    return neighbors.map((label, i) => ({ label, distance: distances[i] }));
  }

  /** Writes the index to a temp file beside `file`, fsyncs it, then renames it over `file`. */
  writeAtomic(file: string): void {
    const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
    try {
      this.index.writeIndexSync(tmp);
      const fd = openSync(tmp, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
      fsyncDirectory(dirname(file));
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  private reserve(needed: number): void {
    let capacity = this.index.getMaxElements();
    if (needed <= capacity) return;
    while (capacity < needed) capacity *= 2;
    this.index.resizeIndex(capacity);
  }
}

/** Makes a rename durable; best effort (directories cannot be opened for fsync on every platform). */
function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not supported here; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function assertDims(dims: number): void {
  if (!Number.isInteger(dims) || dims <= 0) throw new Error(`Vector dims must be a positive integer, got ${dims}`);
}
