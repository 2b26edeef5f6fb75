import { seededRandom } from '../models/seeded-random.js';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_HNSW_PARAMS, VectorIndex } from '../indexer/store/vector-index.js';

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codecarto-vector-index-'));
  temps.push(dir);
  return dir;
}


function randomUnitVectors(n: number, dims: number, seed: number): Float32Array[] {
  const next = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const v = new Float32Array(dims);
    let norm = 0;
    for (let i = 0; i < dims; i++) {
      v[i] = next() * 2 - 1;
      norm += v[i] * v[i];
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < dims; i++) v[i] /= norm;
    return v;
  });
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe('VectorIndex', () => {
  it('finds the nearest point with score 1 - cosine distance', () => {
    const index = VectorIndex.create(8, DEFAULT_HNSW_PARAMS);
    const vectors = randomUnitVectors(50, 8, 1);
    index.add(vectors.map((_, i) => i + 1), vectors);
    const [best] = index.search(vectors[17], 1);
    expect(best.label).toBe(18);
    expect(best.distance).toBeCloseTo(0, 5);
  });

  it('grows past its capacity by doubling', () => {
    const index = VectorIndex.create(8, DEFAULT_HNSW_PARAMS, 16);
    const vectors = randomUnitVectors(100, 8, 2);
    index.add(vectors.map((_, i) => i + 1), vectors);
    expect(index.size).toBe(100);
    expect(index.capacity).toBe(128);
  });

  it('counts deleted points apart from live ones and never returns them', () => {
    const index = VectorIndex.create(8, DEFAULT_HNSW_PARAMS);
    const vectors = randomUnitVectors(20, 8, 3);
    index.add(vectors.map((_, i) => i + 1), vectors);
    expect(index.markDeleted([1, 2, 3, 999])).toBe(3);
    expect(index.markDeleted([1])).toBe(0);
    expect(index.size).toBe(17);
    expect(index.pointCount).toBe(20);
    expect(index.deletedCount).toBe(3);
    const labels = index.search(vectors[0], 20).map((n) => n.label);
    expect(labels).not.toContain(1);
    expect(labels.length).toBeLessThanOrEqual(17);
  });

  it('asking for more neighbors than points is not an error', () => {
    const index = VectorIndex.create(8, DEFAULT_HNSW_PARAMS);
    const vectors = randomUnitVectors(3, 8, 4);
    index.add([1, 2, 3], vectors);
    expect(index.search(vectors[0], 100)).toHaveLength(3);
    expect(VectorIndex.create(8, DEFAULT_HNSW_PARAMS).search(vectors[0], 5)).toEqual([]);
  });

  it('rejects vectors of the wrong size', () => {
    const index = VectorIndex.create(8, DEFAULT_HNSW_PARAMS);
    expect(() => index.add([1], [new Float32Array(7)])).toThrow(/7 dims/);
    expect(() => index.search(new Float32Array(9), 1)).toThrow(/9 dims/);
  });

  it('writes atomically and loads back with ef re-applied and deletes remembered', () => {
    const dir = tempDir();
    const file = path.join(dir, 'v.hnsw');
    const vectors = randomUnitVectors(40, 8, 5);
    const index = VectorIndex.create(8, DEFAULT_HNSW_PARAMS);
    index.add(vectors.map((_, i) => i + 1), vectors);
    index.markDeleted([5]);
    index.writeAtomic(file);
    expect(readdirSync(dir)).toEqual(['v.hnsw']);

    const loaded = VectorIndex.load(file, 8, DEFAULT_HNSW_PARAMS, 39);
    expect(loaded.pointCount).toBe(40);
    expect(loaded.size).toBe(39);
    expect(loaded.search(vectors[9], 1)[0].label).toBe(10);
    expect(loaded.search(vectors[4], 40).map((n) => n.label)).not.toContain(5);
    expect(() => VectorIndex.load(path.join(dir, 'missing.hnsw'), 8, DEFAULT_HNSW_PARAMS, 0)).toThrow();
  });

  it('4096 dims: HNSW knn recall@10 vs exact search is at least 0.95', () => {
    const dims = 4096;
    const n = 300;
    const data = randomUnitVectors(n, dims, 42);
    const queries = randomUnitVectors(20, dims, 7);
    const index = VectorIndex.create(dims, DEFAULT_HNSW_PARAMS);
    index.add(data.map((_, i) => i + 1), data);
    let found = 0;
    for (const q of queries) {
      const exact = data
        .map((v, i) => ({ label: i + 1, sim: dot(q, v) }))
        .sort((a, b) => b.sim - a.sim)
        .slice(0, 10)
        .map((r) => r.label);
      const approx = new Set(index.search(q, 10).map((r) => r.label));
      found += exact.filter((l) => approx.has(l)).length;
    }
    expect(found / (queries.length * 10)).toBeGreaterThanOrEqual(0.95);
  });
});
