/**
 * A thin wrapper over hnswlib-node's HierarchicalNSW (cosine space) that hides its pitfalls: it takes plain
 * arrays, forgets ef on load, records neither space nor dims in its file, throws when full, and counts
 * deleted points in getCurrentCount(). Labels are the SQLite `vectors` rowids; this class knows nothing else.
 *
 * Beside the graph it keeps a small flat set searched exactly: points replayed from the store's change log
 * on open go there, because inserting them into the graph costs milliseconds each at 4096 dims and would
 * make opening slow; mergeFlat() moves them into the graph before a snapshot is written.
 *
 * Long vectors (over 2,048 dims) are put in the graph projected to GRAPH_DIMS (vector-projection.ts): the
 * graph then finds candidates, and search rescores them exactly from the stored vectors (`exact`).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import hnswlib, { type HierarchicalNSW } from 'hnswlib-node';
import { unitVector } from '../../models/vector-math.js';
import { graphDimsFor, VectorProjection } from './vector-projection.js';

export interface HnswParams {
  /** Graph degree (hnswlib M). */
  M: number;
  efConstruction: number;
  /** Search breadth; not stored in the index file, so it is applied after every load. */
  ef: number;
}

/**
 * Chosen by measurement (docs/performance.md, "Growth with the index"). efConstruction 200: on the graph of
 * projected vectors (GRAPH_DIMS) an insert costs a quarter of what it did at 4096 dims, and at 204k points a
 * graph built with 200 reaches three-word queries' recall 0.982 at ef 768 where one built with 100 needs ef
 * 1536 for 0.974 (twice the search time); inserts take ~1.7x as long. ef 256 is the floor at any size.
 */
export const DEFAULT_HNSW_PARAMS: Readonly<HnswParams> = { M: 16, efConstruction: 200, ef: 256 };

/**
 * ef by the number of points in the graph, for graphs built with at least `efConstruction` (the last rule
 * also for less): at a fixed ef, three-word queries' recall@10 falls as the graph grows. Measured on graphs
 * of projected vectors (GRAPH_DIMS), candidates rescored exactly as search runs it (docs/performance.md,
 * "Growth with the index"): built with 200, at 204,363 points ef 512: 0.965, ef 768: 0.982, ef 1024: 0.988;
 * built with 100, ef 1024: 0.964, ef 1280: 0.971, ef 1536: 0.976, and 10,566 points at ef 256: 0.984.
 * Between two rows ef is interpolated in log(points); past the last it stays.
 */
export const EF_BY_POINTS: readonly { efConstruction: number; rows: readonly (readonly [points: number, ef: number])[] }[] = [
  { efConstruction: 200, rows: [[10_000, 256], [200_000, 768]] },
  // Graphs built before efConstruction 200 (their snapshots are kept, not rebuilt on upgrade).
  { efConstruction: 100, rows: [[10_000, 256], [200_000, 1536]] },
];

/** The search ef for a graph of `points` built with `efConstruction`: the EF_BY_POINTS rule, never below `floor` (HnswParams.ef). */
export function efForPoints(points: number, floor: number = DEFAULT_HNSW_PARAMS.ef, efConstruction: number = DEFAULT_HNSW_PARAMS.efConstruction): number {
  const rows = (EF_BY_POINTS.find((rule) => efConstruction >= rule.efConstruction) ?? EF_BY_POINTS[EF_BY_POINTS.length - 1]).rows;
  let ef = rows[rows.length - 1][1];
  if (points <= rows[0][0]) ef = rows[0][1];
  else {
    for (let i = 1; i < rows.length; i++) {
      const [p0, e0] = rows[i - 1];
      const [p1, e1] = rows[i];
      if (points > p1) continue;
      const t = Math.log(points / p0) / Math.log(p1 / p0);
      ef = Math.round(e0 + t * (e1 - e0));
      break;
    }
  }
  return Math.max(floor, ef);
}

/**
 * Cosine similarities of these labels' stored vectors to a unit query, to rescore a projected graph's
 * candidates exactly (labels not found are left out).
 */
export type ExactSimilarities = (labels: number[], unitQuery: Float32Array) => { label: number; similarity: number }[];

/**
 * A projected graph is asked for this many times the k wanted (at least MIN_RESCORED) and its candidates
 * are rescored exactly: the graph's distances are estimates, so the true k nearest sit among a few more.
 */
export const RESCORE_FACTOR = 2;
export const MIN_RESCORED = 100;

/** Capacity of a fresh index; it doubles whenever an insert would overflow it. */
const INITIAL_CAPACITY = 1024;

export interface Neighbor {
  label: number;
  /** Cosine distance, 0 (same direction) to 2. */
  distance: number;
}

export class VectorIndex {
  /** The vectors' dims (what add and search take). */
  readonly dims: number;
  /** The efConstruction the graph was built with (a loaded graph's own; inserts into it keep using it). */
  readonly efConstruction: number;
  /** The graph's dims: `dims`, or fewer when vectors are projected. */
  readonly graphDims: number;
  private readonly params: HnswParams;
  private readonly projection: VectorProjection | null;
  private readonly exact: ExactSimilarities | null;
  private index: HierarchicalNSW;
  /** Slots in use in the graph, deleted points included (what getCurrentCount() reports). */
  private points: number;
  /** Deleted points still in the graph; a new point takes one's slot (allowReplaceDeleted). */
  private deleted: number;
  /** Points searched exactly, not (yet) in the graph: label -> unit vector. */
  private readonly flat = new Map<number, Float32Array>();
  /** The ef last given to hnswlib (it follows the graph's size: efForPoints). */
  private ef = 0;
  /** An ef that overrides the size rule (a benchmark's sweep). */
  private pinnedEf: number | null = null;

  private constructor(index: HierarchicalNSW, dims: number, params: HnswParams, points: number, deleted: number, exact: ExactSimilarities | null, efConstruction: number) {
    this.index = index;
    this.dims = dims;
    this.efConstruction = efConstruction;
    this.graphDims = graphDimsFor(dims);
    this.projection = this.graphDims === dims ? null : new VectorProjection(dims, this.graphDims);
    if (this.projection && !exact) throw new Error(`VectorIndex: ${dims}-dim vectors are projected to ${this.graphDims} dims, so search needs the stored vectors (exact)`);
    this.exact = exact;
    this.params = params;
    this.points = points;
    this.deleted = deleted;
    this.applyEf();
  }

  /** Sets ef for the graph's live points (on load, and before a search once the graph has grown or shrunk). */
  private applyEf(): void {
    const ef = this.pinnedEf ?? efForPoints(this.points - this.deleted, this.params.ef, this.efConstruction);
    if (ef === this.ef) return;
    this.index.setEf(ef);
    this.ef = ef;
  }

  /** Searches with `ef` instead of the size rule's; null goes back to the rule. */
  pinEf(ef: number | null): void {
    this.pinnedEf = ef;
    this.applyEf();
  }

  /** The ef searches use now. */
  get searchEf(): number {
    return this.ef;
  }

  /** An empty index with room for `capacity` points (grown on demand); `exact` reads stored vectors for a projected graph. */
  static create(dims: number, params: HnswParams, capacity = INITIAL_CAPACITY, exact: ExactSimilarities | null = null): VectorIndex {
    assertDims(dims);
    const index = new hnswlib.HierarchicalNSW('cosine', graphDimsFor(dims));
    // Deleted slots are reused by later points, so an index under edits does not grow or need rebuilding.
    index.initIndex({ maxElements: Math.max(16, Math.ceil(capacity)), m: params.M, efConstruction: params.efConstruction, allowReplaceDeleted: true });
    return new VectorIndex(index, dims, params, 0, 0, exact, params.efConstruction);
  }

  /**
   * Reads an index file written by {@link writeAtomic}. `livePoints` is how many of its points are not
   * deleted and `efConstruction` what the graph was built with (the file does not say; the caller's records
   * do). Throws when the file cannot be read or holds fewer points than `livePoints`.
   */
  static load(file: string, dims: number, params: HnswParams, livePoints: number, exact: ExactSimilarities | null = null, efConstruction = params.efConstruction): VectorIndex {
    assertDims(dims);
    const index = new hnswlib.HierarchicalNSW('cosine', graphDimsFor(dims));
    index.readIndexSync(file, true);
    const points = index.getCurrentCount();
    if (points < livePoints) {
      throw new Error(`HNSW file ${file} holds ${points} points, fewer than the ${livePoints} expected`);
    }
    return new VectorIndex(index, dims, params, points, points - livePoints, exact, efConstruction);
  }

  /** Points that searches can return (graph and flat set). */
  get size(): number {
    return this.points - this.deleted + this.flat.size;
  }

  /** Points in the graph including deleted ones. */
  get pointCount(): number {
    return this.points;
  }

  /** Points in the flat set (searched exactly, not in the graph). */
  get flatCount(): number {
    return this.flat.size;
  }

  get deletedCount(): number {
    return this.deleted;
  }

  get capacity(): number {
    return this.index.getMaxElements();
  }

  /**
   * Adds points under new labels to the graph, reusing deleted points' slots first and growing the index
   * (capacity doubles) before it would overflow.
   */
  add(labels: readonly number[], vectors: readonly Float32Array[]): void {
    if (labels.length !== vectors.length) throw new Error('VectorIndex.add: labels and vectors differ in length');
    this.checkDims(labels, vectors);
    this.reserve(this.points + Math.max(0, labels.length - this.deleted));
    for (let i = 0; i < labels.length; i++) {
      // hnswlib-node reads plain JS arrays only. With replaceDeleted it takes a deleted slot when there is one.
      this.index.addPoint(Array.from(this.toGraph(vectors[i])), labels[i], true);
      if (this.deleted > 0) this.deleted--;
      else this.points++;
    }
  }

  /** Adds points under new labels to the flat set (exact search; no graph insert). */
  addFlat(labels: readonly number[], vectors: readonly Float32Array[]): void {
    if (labels.length !== vectors.length) throw new Error('VectorIndex.addFlat: labels and vectors differ in length');
    this.checkDims(labels, vectors);
    for (let i = 0; i < labels.length; i++) this.flat.set(labels[i], unitVector(vectors[i]));
  }

  /** Inserts the flat set's points into the graph (what a snapshot must hold). */
  mergeFlat(): void {
    if (this.flat.size === 0) return;
    const labels = [...this.flat.keys()];
    const vectors = [...this.flat.values()];
    this.flat.clear();
    this.add(labels, vectors);
  }

  /** Marks labels deleted; labels not in the index (or already deleted) are ignored. Returns how many were marked. */
  markDeleted(labels: Iterable<number>): number {
    let marked = 0;
    let inGraph = 0;
    for (const label of labels) {
      if (this.flat.delete(label)) {
        marked++;
        continue;
      }
      try {
        this.index.markDelete(label);
        inGraph++;
      } catch {
        // Unknown or already deleted label: nothing to do.
      }
    }
    this.deleted += inGraph;
    return marked + inGraph;
  }

  /** Up to k nearest live points, nearest first. May return fewer than k when points are deleted. */
  search(query: Float32Array, k: number): Neighbor[] {
    if (query.length !== this.dims) {
      throw new Error(`Query vector has ${query.length} dims, the index has ${this.dims}`);
    }
    const want = Math.floor(k);
    const asked = this.projection ? Math.max(want * RESCORE_FACTOR, MIN_RESCORED) : want;
    const n = Math.min(asked, this.points, this.index.getMaxElements());
    // The unit query, for the exact distances of a projected graph's candidates and of the flat set.
    const q = this.projection || this.flat.size > 0 ? unitVector(query) : query;
    let found: Neighbor[] = [];
    if (want > 0 && n > 0 && this.points > this.deleted) {
      this.applyEf();
      const { neighbors, distances } = this.index.searchKnn(Array.from(this.toGraph(query)), n);
      found = this.projection ? this.rescore(q, neighbors).slice(0, want) : neighbors.map((label, i) => ({ label, distance: distances[i] }));
    }
    if (this.flat.size === 0 || want <= 0) return found;
    for (const [label, vector] of this.flat) {
      let dot = 0;
      for (let i = 0; i < vector.length; i++) dot += vector[i] * q[i];
      found.push({ label, distance: 1 - dot });
    }
    return found.sort((a, b) => a.distance - b.distance).slice(0, want);
  }

  /** The graph's candidates with their exact cosine distances from `q` (a unit query) by the stored vectors, nearest first. */
  private rescore(q: Float32Array, labels: number[]): Neighbor[] {
    const out = (this.exact as ExactSimilarities)(labels, q).map(({ label, similarity }) => ({ label, distance: 1 - similarity }));
    return out.sort((a, b) => a.distance - b.distance || a.label - b.label);
  }

  private toGraph(vector: Float32Array): Float32Array {
    return this.projection ? this.projection.project(vector) : vector;
  }

  /** Writes the graph to a temp file beside `file`, fsyncs it, then renames it over `file`. The flat set must be merged first. */
  writeAtomic(file: string): void {
    if (this.flat.size > 0) throw new Error(`VectorIndex.writeAtomic: ${this.flat.size} flat points are not in the graph; call mergeFlat() first`);
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

  private checkDims(labels: readonly number[], vectors: readonly Float32Array[]): void {
    for (let i = 0; i < vectors.length; i++) {
      if (vectors[i].length !== this.dims) {
        throw new Error(`VectorIndex.add: vector for label ${labels[i]} has ${vectors[i].length} dims, index has ${this.dims}`);
      }
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
