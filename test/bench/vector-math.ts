/** Exact nearest neighbours and percentiles for the benchmark (brute force is the recall reference). */

/** Row-major unit vectors, `count` rows of `dims`. */
export interface VectorMatrix {
  dims: number;
  count: number;
  data: Float32Array;
  /** Caller's id (the HNSW label) per row. */
  labels: number[];
}

export interface ExactHit {
  label: number;
  similarity: number;
}

/** The k rows with the highest dot product with unit vector `q`, best first. */
export function exactTopK(m: VectorMatrix, q: Float32Array, k: number): ExactHit[] {
  const { dims, count, data } = m;
  const bestSim = new Float64Array(k).fill(-Infinity);
  const bestRow = new Int32Array(k).fill(-1);
  for (let r = 0; r < count; r++) {
    const base = r * dims;
    let dot = 0;
    for (let i = 0; i < dims; i++) dot += data[base + i] * q[i];
    if (dot <= bestSim[k - 1]) continue;
    let j = k - 1;
    while (j > 0 && bestSim[j - 1] < dot) {
      bestSim[j] = bestSim[j - 1];
      bestRow[j] = bestRow[j - 1];
      j--;
    }
    bestSim[j] = dot;
    bestRow[j] = r;
  }
  const hits: ExactHit[] = [];
  for (let j = 0; j < k; j++) if (bestRow[j] >= 0) hits.push({ label: m.labels[bestRow[j]], similarity: bestSim[j] });
  return hits;
}

/**
 * Recall@k of approximate results against exact ones. An approximate hit counts when it is one of the exact
 * labels or scores at least the exact k-th similarity: texts with the same bag of words have identical
 * vectors, and any member of such a tie is a right answer.
 */
export function recallAtK(exact: ExactHit[], approx: { label: number; similarity: number }[], k: number): number {
  if (exact.length === 0) return 1;
  const want = Math.min(k, exact.length);
  const labels = new Set(exact.slice(0, want).map((h) => h.label));
  const floor = exact[want - 1].similarity - 1e-5;
  let hits = 0;
  for (const a of approx.slice(0, want)) if (labels.has(a.label) || a.similarity >= floor) hits++;
  return hits / want;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
