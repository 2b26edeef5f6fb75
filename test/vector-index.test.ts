import { seededRandom } from '../models/seeded-random.js';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeHalf, encodeHalf, halfCosine, roundToHalf } from '../indexer/store/float16.js';
import { cosineSimilarity } from '../models/vector-math.js';
import { DEFAULT_HNSW_PARAMS, EF_BY_POINTS, efForPoints, VectorIndex, type ExactSimilarities } from '../indexer/store/vector-index.js';
import { GRAPH_DIMS, graphDimsFor, VectorProjection } from '../indexer/store/vector-projection.js';

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

/** The stored vectors of labels 1..n, scored as the store scores them for a projected graph. */
function exactFrom(data: Float32Array[]): ExactSimilarities {
  return (labels, q) => labels.filter((l) => l >= 1 && l <= data.length).map((label) => ({ label, similarity: cosineSimilarity(data[label - 1], q) }));
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

  it('reuses deleted points\' slots, so an index under edits does not grow, and never returns a deleted point', () => {
    const index = VectorIndex.create(8, DEFAULT_HNSW_PARAMS, 128);
    const vectors = randomUnitVectors(130, 8, 11);
    index.add(vectors.slice(0, 100).map((_, i) => i + 1), vectors.slice(0, 100));
    expect(index.markDeleted(Array.from({ length: 30 }, (_, i) => i + 1))).toBe(30);
    index.add(vectors.slice(100).map((_, i) => i + 101), vectors.slice(100));
    expect({ points: index.pointCount, deleted: index.deletedCount, size: index.size, capacity: index.capacity }).toEqual({ points: 100, deleted: 0, size: 100, capacity: 128 });
    for (let i = 100; i < 130; i += 7) expect(index.search(vectors[i], 1)[0].label).toBe(i + 1);
    const labels = index.search(vectors[0], 100).map((n) => n.label);
    expect(labels.filter((l) => l <= 30)).toEqual([]);
  });

  it('flat points are searched exactly beside the graph, deleted like graph points, and merged into the graph for a snapshot', () => {
    const dir = tempDir();
    const vectors = randomUnitVectors(60, 8, 12);
    const index = VectorIndex.create(8, DEFAULT_HNSW_PARAMS);
    index.add(vectors.slice(0, 50).map((_, i) => i + 1), vectors.slice(0, 50));
    index.addFlat(vectors.slice(50).map((_, i) => i + 51), vectors.slice(50).map((v) => v.map((x) => x * 3)));
    expect({ size: index.size, points: index.pointCount, flat: index.flatCount }).toEqual({ size: 60, points: 50, flat: 10 });
    const [best] = index.search(vectors[55], 1);
    expect(best.label).toBe(56);
    expect(best.distance).toBeCloseTo(0, 5);
    // Exact over everything: the same order as a brute-force ranking.
    const q = randomUnitVectors(1, 8, 13)[0];
    const exact = vectors.map((v, i) => ({ label: i + 1, d: 1 - dot(v, q) })).sort((a, b) => a.d - b.d).slice(0, 10).map((r) => r.label);
    expect(index.search(q, 10).map((n) => n.label)).toEqual(exact);
    expect(index.markDeleted([56, 3])).toBe(2);
    expect(index.search(vectors[55], 60).map((n) => n.label)).not.toContain(56);
    expect(() => index.writeAtomic(path.join(dir, 'v.hnsw'))).toThrow(/mergeFlat/);
    index.mergeFlat();
    expect({ size: index.size, flat: index.flatCount }).toEqual({ size: 58, flat: 0 });
    index.writeAtomic(path.join(dir, 'v.hnsw'));
    const loaded = VectorIndex.load(path.join(dir, 'v.hnsw'), 8, DEFAULT_HNSW_PARAMS, 58);
    expect(loaded.search(vectors[57], 1)[0].label).toBe(58);
    expect(loaded.search(vectors[55], 60).map((n) => n.label)).not.toContain(56);
  });

  it('2048 dims (a graph of the vectors themselves): HNSW knn recall@10 vs exact search is at least 0.95', () => {
    const dims = 2048;
    expect(graphDimsFor(dims)).toBe(dims);
    const n = 300;
    const data = randomUnitVectors(n, dims, 42);
    const queries = randomUnitVectors(20, dims, 7);
    const index = VectorIndex.create(dims, DEFAULT_HNSW_PARAMS, undefined, exactFrom(data));
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

/** Vectors around `clusters` random centres (as embeddings of related code are), unit length. */
function clusteredUnitVectors(n: number, dims: number, clusters: number, seed: number): Float32Array[] {
  const centres = randomUnitVectors(clusters, dims, seed);
  const noise = randomUnitVectors(n, dims, seed + 1);
  const next = seededRandom(seed + 2);
  return noise.map((e) => {
    const c = centres[Math.floor(next() * clusters)];
    const v = c.map((x, i) => 0.8 * x + 0.6 * e[i]);
    const norm = Math.sqrt(dot(v, v));
    return v.map((x) => x / norm);
  });
}

describe('a graph of projected vectors (4096 dims, issue 20.4)', () => {
  const dims = 4096;

  it('projects 4096 dims to GRAPH_DIMS, the same way in every process, keeping inner products close', () => {
    expect(graphDimsFor(dims)).toBe(GRAPH_DIMS);
    const [a, b] = clusteredUnitVectors(2, dims, 1, 3);
    const p1 = new VectorProjection(dims, GRAPH_DIMS);
    const p2 = new VectorProjection(dims, GRAPH_DIMS);
    expect(p2.project(a)).toEqual(p1.project(a));
    const [pa, pb] = [p1.project(a), p1.project(b)];
    const cosine = dot(pa, pb) / Math.sqrt(dot(pa, pa) * dot(pb, pb));
    expect(Math.abs(cosine - dot(a, b))).toBeLessThan(0.1);
  });

  it('rescores the graph candidates exactly: distances are the true cosine distances, recall@10 at least 0.95', () => {
    const data = clusteredUnitVectors(600, dims, 40, 11);
    const queries = clusteredUnitVectors(20, dims, 40, 11).map((q, i) => q.map((x, j) => x + 0.3 * data[i * 7][j]));
    const index = VectorIndex.create(dims, DEFAULT_HNSW_PARAMS, undefined, exactFrom(data));
    expect(index.graphDims).toBe(GRAPH_DIMS);
    index.add(data.map((_, i) => i + 1), data);
    let found = 0;
    for (const q of queries) {
      const norm = Math.sqrt(dot(q, q));
      const exact = data.map((v, i) => ({ label: i + 1, sim: dot(q, v) / norm })).sort((a, b) => b.sim - a.sim);
      const hits = index.search(q, 10);
      expect(hits).toHaveLength(10);
      for (const h of hits) expect(h.distance).toBeCloseTo(1 - dot(q, data[h.label - 1]) / norm, 5);
      const top = new Set(exact.slice(0, 10).map((r) => r.label));
      found += hits.filter((h) => top.has(h.label)).length;
    }
    expect(found / (queries.length * 10)).toBeGreaterThanOrEqual(0.95);
  });

  it('a snapshot loads with the same projection; without the stored vectors a projected index is refused', () => {
    const data = clusteredUnitVectors(200, dims, 10, 5);
    const index = VectorIndex.create(dims, DEFAULT_HNSW_PARAMS, undefined, exactFrom(data));
    index.add(data.map((_, i) => i + 1), data);
    const file = path.join(tempDir(), 'p.hnsw');
    index.writeAtomic(file);
    const loaded = VectorIndex.load(file, dims, DEFAULT_HNSW_PARAMS, 200, exactFrom(data));
    for (const q of data.slice(0, 5)) expect(loaded.search(q, 5)).toEqual(index.search(q, 5));
    expect(loaded.search(data[3], 1)[0]).toMatchObject({ label: 4 });
    expect(() => VectorIndex.create(dims, DEFAULT_HNSW_PARAMS)).toThrow(/stored vectors/);
  });
});

describe('float16 vectors', () => {
  it('encodes exactly representable values exactly and rounds to the nearest half, ties to even', () => {
    const values = [0, -0, 1, -2, 0.5, 65504, 2 ** -14, 2 ** -24, -(2 ** -20)];
    expect(Array.from(roundToHalf(values))).toEqual(values);
    expect(roundToHalf([1 + 2 ** -11])[0]).toBe(1); // tie: to even (1.0)
    expect(roundToHalf([1 + 3 * 2 ** -11])[0]).toBe(1 + 2 ** -9); // tie: to even (up)
    expect(roundToHalf([1 + 2 ** -11 + 2 ** -20])[0]).toBe(1 + 2 ** -10);
    expect(roundToHalf([2 ** -26])[0]).toBe(0);
    expect(roundToHalf([3 * 2 ** -26])[0]).toBe(2 ** -24);
    expect(roundToHalf([70000])[0]).toBe(Infinity);
    expect(roundToHalf([-Infinity])[0]).toBe(-Infinity);
    expect(Number.isNaN(roundToHalf([NaN])[0])).toBe(true);
  });

  it('round-trips through bytes and keeps unit vectors within 1e-6 of their cosine', () => {
    for (const v of randomUnitVectors(20, 4096, 21)) {
      const blob = encodeHalf(v);
      expect(blob.length).toBe(8192);
      const back = decodeHalf(blob);
      expect(back).toEqual(roundToHalf(v));
      for (let i = 0; i < v.length; i += 97) expect(Math.abs(back[i] - v[i])).toBeLessThanOrEqual(Math.abs(v[i]) * 2 ** -11 + 2 ** -25);
      expect(dot(back, v) / Math.sqrt(dot(back, back))).toBeGreaterThan(1 - 1e-6);
    }
  });

  it('scores a stored half vector against a unit query as the decoded vector scores, wherever its bytes lie', () => {
    const [q, ...others] = randomUnitVectors(4, 1027, 22);
    for (const v of others.map((o) => o.map((x) => 3 * x))) {
      const blob = encodeHalf(v);
      const want = cosineSimilarity(decodeHalf(blob), q);
      expect(halfCosine(blob, q)).toBeCloseTo(want, 6);
      // Bytes at an odd offset (not 2-aligned) are read too.
      const shifted = Buffer.alloc(blob.length + 1);
      blob.copy(shifted, 1);
      expect(halfCosine(shifted.subarray(1), q)).toBeCloseTo(want, 6);
    }
    expect(halfCosine(encodeHalf(new Float32Array(1027)), q)).toBe(0);
    expect(() => halfCosine(encodeHalf(q.subarray(1)), q)).toThrow(/1026 dims, the query 1027/);
  });
});

describe('search ef grows with the graph (issue 20.4)', () => {
  it('follows EF_BY_POINTS: its rows exactly, monotone between them, held past the last, never below the floor', () => {
    for (const { efConstruction, rows } of EF_BY_POINTS) {
      for (const [points, ef] of rows) expect(efForPoints(points, DEFAULT_HNSW_PARAMS.ef, efConstruction)).toBe(Math.max(ef, DEFAULT_HNSW_PARAMS.ef));
      expect(efForPoints(10, DEFAULT_HNSW_PARAMS.ef, efConstruction)).toBe(DEFAULT_HNSW_PARAMS.ef);
      let last = 0;
      for (let points = 1_000; points <= 2_000_000; points = Math.ceil(points * 1.1)) {
        const ef = efForPoints(points, DEFAULT_HNSW_PARAMS.ef, efConstruction);
        expect(ef).toBeGreaterThanOrEqual(last);
        last = ef;
      }
      expect(efForPoints(10_000_000, DEFAULT_HNSW_PARAMS.ef, efConstruction)).toBe(rows[rows.length - 1][1]);
    }
    expect(efForPoints(10, 2_000)).toBe(2_000);
  });

  it('searches a graph built with a smaller efConstruction (an older version\'s) with that graph\'s own, larger ef', () => {
    expect(efForPoints(200_000)).toBe(768);
    expect(efForPoints(200_000, DEFAULT_HNSW_PARAMS.ef, 100)).toBe(1536);
    // Less than any rule's: the last (most careful) rule; more: the rule for the most it reaches.
    expect(efForPoints(200_000, DEFAULT_HNSW_PARAMS.ef, 50)).toBe(1536);
    expect(efForPoints(200_000, DEFAULT_HNSW_PARAMS.ef, 400)).toBe(768);
  });

  it('is applied on load and as points are added or deleted', () => {
    const first = EF_BY_POINTS[0].rows[0][0];
    const dims = 4;
    const index = VectorIndex.create(dims, DEFAULT_HNSW_PARAMS);
    const vectors = randomUnitVectors(first + 2_000, dims, 5);
    index.add(vectors.slice(0, first).map((_, i) => i + 1), vectors.slice(0, first));
    index.search(vectors[0], 10);
    expect(index.searchEf).toBe(efForPoints(first));
    index.add(vectors.slice(first).map((_, i) => first + i + 1), vectors.slice(first));
    index.search(vectors[0], 10);
    expect(index.searchEf).toBe(efForPoints(first + 2_000));
    expect(index.searchEf).toBeGreaterThan(efForPoints(first));
    const file = path.join(tempDir(), 'v.hnsw');
    index.writeAtomic(file);
    const loaded = VectorIndex.load(file, dims, DEFAULT_HNSW_PARAMS, first + 2_000);
    expect(loaded.searchEf).toBe(efForPoints(first + 2_000));
    loaded.markDeleted(Array.from({ length: 2_000 }, (_, i) => first + i + 1));
    loaded.search(vectors[0], 10);
    expect(loaded.searchEf).toBe(efForPoints(first));
  });
});
