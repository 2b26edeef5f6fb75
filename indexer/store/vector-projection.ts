/**
 * The HNSW graph of long vectors is built over a fixed random projection of them (a subsampled randomized
 * Hadamard transform): random signs, a Walsh-Hadamard transform, then GRAPH_DIMS of its coordinates. The
 * transform spreads every vector's energy over all coordinates, so any subset keeps inner products up to a
 * small error whatever the embedding's coordinates look like (a model's few large ones included). A graph
 * step then costs GRAPH_DIMS instead of 4096 multiply-adds, and the graph is a quarter of the memory and
 * disk; the store rescores the graph's candidates exactly from the vectors SQLite holds (VectorIndex).
 * At 204,363 points a three-word query's graph search plus rescoring took ~15 ms at recall@10 0.976 (ef 1536);
 * the 4096-dim graph's snapshot was 4x the size (docs/performance.md, "Growth with the index").
 */
import { seededRandom } from '../../models/seeded-random.js';

/** Graph dims for long vectors. */
export const GRAPH_DIMS = 1024;

/** Vectors up to this long are put in the graph as they are: projecting them would save too little. */
const PROJECT_ABOVE = 2 * GRAPH_DIMS;

/** The dims of the graph for vectors of `dims` dims. */
export function graphDimsFor(dims: number): number {
  return dims > PROJECT_ABOVE ? GRAPH_DIMS : dims;
}

/** Fixed, so a snapshot written by one process is searched with the same projection by every other. */
const SEED = 0x5eed_4a7d;

export class VectorProjection {
  readonly fromDims: number;
  readonly toDims: number;
  /** fromDims rounded up to a power of two (the transform's length; the rest is zero padding). */
  private readonly length: number;
  private readonly signs: Float32Array;
  /** Which transformed coordinates are kept, ascending. */
  private readonly kept: Int32Array;
  private readonly work: Float32Array;

  constructor(fromDims: number, toDims: number) {
    if (!(Number.isInteger(fromDims) && Number.isInteger(toDims) && toDims > 0 && toDims <= fromDims)) {
      throw new Error(`VectorProjection: cannot project ${fromDims} dims to ${toDims}`);
    }
    this.fromDims = fromDims;
    this.toDims = toDims;
    let length = 1;
    while (length < fromDims) length *= 2;
    this.length = length;
    const random = seededRandom(SEED);
    this.signs = Float32Array.from({ length }, () => (random() < 0.5 ? -1 : 1));
    const order = Array.from({ length }, (_, i) => i);
    for (let i = length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    this.kept = Int32Array.from(order.slice(0, toDims)).sort();
    this.work = new Float32Array(length);
  }

  /** The projected vector (not normalized: the graph's cosine space normalizes it). */
  project(vector: ArrayLike<number>): Float32Array {
    const n = this.length;
    const w = this.work;
    for (let i = 0; i < this.fromDims; i++) w[i] = this.signs[i] * vector[i];
    w.fill(0, this.fromDims);
    for (let h = 1; h < n; h *= 2) {
      for (let i = 0; i < n; i += 2 * h) {
        for (let j = i; j < i + h; j++) {
          const a = w[j];
          const b = w[j + h];
          w[j] = a + b;
          w[j + h] = a - b;
        }
      }
    }
    const out = new Float32Array(this.toDims);
    for (let i = 0; i < this.toDims; i++) out[i] = w[this.kept[i]];
    return out;
  }
}
