/**
 * HNSW measures on raw hnswlib-node (the library the store wraps): recall against brute force on the
 * same vectors, query time, and the parameter grid of docs/performance.md.
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import hnswlib, { type HierarchicalNSW } from 'hnswlib-node';
import { exactTopK, mean, median, recallAtK, type ExactHit, type VectorMatrix } from './vector-math.js';

export interface QuerySet {
  name: string;
  vectors: Float32Array[];
}

/**
 * Exact top-k by brute force. hnswlib's native BruteforceSearch scans several times faster than a JS loop
 * (about 250 ms per query over 13k x 4096 in JS on the 2-core machine); exactTopK stays as the check.
 */
export function exactAnswers(matrix: VectorMatrix, queries: Float32Array[], k: number): ExactHit[][] {
  const brute = new hnswlib.BruteforceSearch('cosine', matrix.dims);
  brute.initIndex(matrix.count);
  for (let r = 0; r < matrix.count; r++) brute.addPoint(Array.from(matrix.data.subarray(r * matrix.dims, (r + 1) * matrix.dims)), matrix.labels[r]);
  return queries.map((q) => {
    const { neighbors, distances } = brute.searchKnn(Array.from(q), Math.min(k, matrix.count));
    return neighbors.map((label, i) => ({ label, similarity: 1 - distances[i] }));
  });
}

/** Same as exactAnswers, in plain JS (for checking the native path on a few queries). */
export function exactAnswersJs(matrix: VectorMatrix, queries: Float32Array[], k: number): ExactHit[][] {
  return queries.map((q) => exactTopK(matrix, q, k));
}

export interface RecallResult {
  recall: number;
  /** Median milliseconds per searchKnn call. */
  p50Ms: number;
}

export function measureRecall(index: HierarchicalNSW, ef: number, queries: Float32Array[], exact: ExactHit[][], k: number): RecallResult {
  index.setEf(ef);
  const recalls: number[] = [];
  const times: number[] = [];
  queries.forEach((q, i) => {
    const arr = Array.from(q);
    const t = performance.now();
    const { neighbors, distances } = index.searchKnn(arr, k);
    times.push(performance.now() - t);
    recalls.push(recallAtK(exact[i], neighbors.map((label, j) => ({ label, similarity: 1 - distances[j] })), k));
  });
  return { recall: mean(recalls), p50Ms: median(times) };
}

export interface GridRow {
  M: number;
  efConstruction: number;
  inserts_per_s: number;
  inserts_per_cpu_s: number;
  bytes_per_vector: number;
  /** Per ef: recall of each query set and median query time. */
  byEf: { ef: number; recall: Record<string, number>; p50_ms: number }[];
}

export const GRID_BUILDS: readonly [number, number][] = [
  [8, 100],
  [8, 200],
  [16, 100],
  [16, 200],
  [16, 400],
  [32, 200],
];
export const GRID_EFS: readonly number[] = [32, 64, 96, 128, 192, 256];

/**
 * Builds one graph per (M, efConstruction) over the same `subset` and measures each ef on it. Queries'
 * exact answers are computed within the subset.
 */
export function runGrid(
  subset: VectorMatrix,
  querySets: QuerySet[],
  tmpDir: string,
  progress: (line: string) => void,
  k = 10,
): GridRow[] {
  const exact = querySets.map((s) => exactAnswers(subset, s.vectors, k));
  const rows: GridRow[] = [];
  for (const [M, efConstruction] of GRID_BUILDS) {
    const index = new hnswlib.HierarchicalNSW('cosine', subset.dims);
    index.initIndex({ maxElements: subset.count, m: M, efConstruction, randomSeed: 100 });
    const points = Array.from({ length: subset.count }, (_, r) => Array.from(subset.data.subarray(r * subset.dims, (r + 1) * subset.dims)));
    const t = performance.now();
    const cpu = process.cpuUsage();
    for (let r = 0; r < subset.count; r++) index.addPoint(points[r], subset.labels[r]);
    const cpuUsed = process.cpuUsage(cpu);
    const insertsPerS = subset.count / ((performance.now() - t) / 1000);
    // On a shared machine wall time swings with other people's load; CPU time compares builds fairly.
    const insertsPerCpuS = subset.count / ((cpuUsed.user + cpuUsed.system) / 1e6);
    const file = join(tmpDir, `grid-${M}-${efConstruction}.hnsw`);
    index.writeIndexSync(file);
    const bytes = statSync(file).size / subset.count;
    rmSync(file, { force: true });
    const byEf = GRID_EFS.map((ef) => {
      const recall: Record<string, number> = {};
      const times: number[] = [];
      querySets.forEach((s, i) => {
        const r = measureRecall(index, ef, s.vectors, exact[i], k);
        recall[s.name] = r.recall;
        times.push(r.p50Ms);
      });
      return { ef, recall, p50_ms: mean(times) };
    });
    rows.push({ M, efConstruction, inserts_per_s: insertsPerS, inserts_per_cpu_s: insertsPerCpuS, bytes_per_vector: bytes, byEf });
    progress(
      `grid M=${M} efC=${efConstruction}: ${insertsPerS.toFixed(0)} inserts/s (${insertsPerCpuS.toFixed(0)} per CPU-second), ${(bytes / 1024).toFixed(1)} KB/vector; ` +
        byEf.map((e) => `ef ${e.ef}: ${Object.values(e.recall).map((x) => x.toFixed(3)).join('/')} ${e.p50_ms.toFixed(2)} ms`).join('; '),
    );
  }
  return rows;
}

/** A random subset of rows (seeded), for the grid. */
export function sampleRows(m: VectorMatrix, n: number, random: () => number): VectorMatrix {
  const rows = Array.from({ length: m.count }, (_, i) => i);
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  const pick = rows.slice(0, Math.min(n, m.count)).sort((a, b) => a - b);
  const data = new Float32Array(pick.length * m.dims);
  pick.forEach((r, i) => data.set(m.data.subarray(r * m.dims, (r + 1) * m.dims), i * m.dims));
  return { dims: m.dims, count: pick.length, data, labels: pick.map((r) => m.labels[r]) };
}
