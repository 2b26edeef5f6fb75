import { seededRandom } from '../../models/seeded-random.js';
/**
 * A near-zero-cost embedder for the benchmark: deterministic 4096-dim vectors from a bag of words, so the
 * pipeline measure sees the real tokenizer, batch planner and a real vector size without paying for a model.
 *
 * Vectors are built to look like real embeddings rather than noise (see docs/performance.md): real
 * embeddings are anisotropic (every vector shares a common direction) and clustered by content. Each
 * vector is the normalized sum of
 * - a sparse part: every distinct word (identifier, and its camelCase/snake_case parts) hashed to two
 *   signed coordinates, weighted 1 + ln(tf) — texts sharing rare words are close;
 * - a dense low-rank part: the same words mapped to 32-dim Gaussian vectors, summed and projected to
 *   4096 dims by a fixed matrix — broad "topic" similarity, as a model's semantic axes give;
 * - a shared unit vector — the common component that makes unrelated texts' cosine well above 0.
 */
import type { Embedder, EmbedCall, EmbedderHealth, EmbedOutput } from '../../models/embedder.js';
import { loadMistralTokenizer } from '../../models/hf-tokenizer.js';
import type { TextTokenizer } from '../../models/tokenizer.js';

export const BENCH_DIMS = 4096;
const TOPIC_DIMS = 32;
const SPARSE_WEIGHT = 1;
const TOPIC_WEIGHT = 1;
const SHARED_WEIGHT = 0.6;

const WORD = /[A-Za-z_][A-Za-z0-9_]*|[0-9]+/g;
const PART = /[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])/g;

/** FNV-1a, 32 bits. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export { seededRandom };

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Lower-cased words of `text` with term counts; identifiers also contribute their camelCase/snake_case parts. */
export function wordCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (w: string) => counts.set(w, (counts.get(w) ?? 0) + 1);
  for (const match of text.matchAll(WORD)) {
    const word = match[0];
    add(word.toLowerCase());
    const parts = word.match(PART);
    if (parts && parts.length > 1) for (const p of parts) add(p.toLowerCase());
  }
  return counts;
}

export class HashedVectors {
  readonly dims: number;
  private readonly projection: Float32Array;
  private readonly shared: Float32Array;

  constructor(dims = BENCH_DIMS, seed = 7) {
    this.dims = dims;
    const random = seededRandom(seed);
    this.projection = new Float32Array(TOPIC_DIMS * dims);
    for (let i = 0; i < this.projection.length; i++) this.projection[i] = gaussian(random);
    this.shared = new Float32Array(dims);
    for (let i = 0; i < dims; i++) this.shared[i] = gaussian(random);
    normalize(this.shared);
  }

  vector(text: string): Float32Array {
    const dims = this.dims;
    const sparse = new Float32Array(dims);
    const topic = new Float64Array(TOPIC_DIMS);
    for (const [word, tf] of wordCounts(text)) {
      const w = 1 + Math.log(tf);
      const h1 = fnv1a(word);
      const h2 = fnv1a(word, 0x9747b28c);
      sparse[h1 % dims] += h1 & 0x80000000 ? w : -w;
      sparse[h2 % dims] += h2 & 0x80000000 ? w : -w;
      // The word's topic vector is regenerated from its hash (no cache: 32 draws cost less than a lookup table's memory).
      const random = seededRandom(h1 ^ h2);
      for (let j = 0; j < TOPIC_DIMS; j++) topic[j] += w * gaussian(random);
    }
    normalize(sparse);
    const dense = new Float32Array(dims);
    for (let j = 0; j < TOPIC_DIMS; j++) {
      const t = topic[j];
      if (t === 0) continue;
      const row = j * dims;
      for (let i = 0; i < dims; i++) dense[i] += t * this.projection[row + i];
    }
    normalize(dense);
    const out = new Float32Array(dims);
    for (let i = 0; i < dims; i++) out[i] = SPARSE_WEIGHT * sparse[i] + TOPIC_WEIGHT * dense[i] + SHARED_WEIGHT * this.shared[i];
    return normalize(out);
  }
}

export function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/**
 * Wraps the Mistral tokenizer to time every call and remember the counts of multi-line texts (embedding
 * texts, a header line plus code, when the indexer counts them whole rather than taking the chunker's
 * count), so the fixed-48 pad factor can be computed in file order afterwards without tokenizing the
 * corpus again. Keyed by a 52-bit hash to keep no strings alive.
 */
export class RecordingTokenizer implements TextTokenizer {
  readonly id: string;
  /** Milliseconds spent in encode/count. */
  ms = 0;
  calls = 0;
  readonly counts = new Map<number, number>();
  /** Lets the indexer's worker threads load the same tokenizer; their calls are not timed here. */
  readonly files: TextTokenizer['files'];
  private readonly inner: TextTokenizer;

  constructor(inner: TextTokenizer) {
    this.inner = inner;
    this.id = inner.id;
    this.files = inner.files;
  }

  encode(text: string): number[] {
    const t = performance.now();
    const ids = this.inner.encode(text);
    this.ms += performance.now() - t;
    this.calls++;
    return ids;
  }

  count(text: string): number {
    const t = performance.now();
    const n = this.inner.count(text);
    this.ms += performance.now() - t;
    this.calls++;
    if (text.includes('\n')) this.counts.set(textKey(text), n);
    return n;
  }
}

export function textKey(text: string): number {
  return fnv1a(text) * 1048576 + (fnv1a(text, 0x9747b28c) & 0xfffff);
}

export interface HashedEmbedderOptions {
  /** The DGX seed protocol's batch size: what codecarto's planner packs for (test/pad-factor.test.ts uses it too). */
  maxBatchSize?: number;
  /** DgxEmbedder's default token budget, 48 x 512. */
  tokenBudget?: number;
  maxParallelCalls?: number;
  /** Vector size (default 4096, NV-Embed-v2's); smaller for probes of the store where HNSW inserts should not dominate. */
  dims?: number;
}

/**
 * Provider 'onnx' only so that the indexer embeds (it skips embedding for 'none'); nothing else reads
 * the provider. Time spent computing vectors is counted in `ms`, so it can be told apart from the pipeline.
 */
export class HashedEmbedder implements Embedder {
  readonly provider = 'onnx' as const;
  readonly modelId: string;
  readonly dimensions: number;
  readonly maxBatchSize: number;
  readonly maxInputTokens = 4096;
  readonly tokenBudget: number;
  readonly maxParallelCalls: number;
  readonly tokenizer: RecordingTokenizer;
  readonly vectors: HashedVectors;
  ms = 0;

  constructor(options: HashedEmbedderOptions = {}) {
    this.dimensions = options.dims ?? BENCH_DIMS;
    this.modelId = `bench-hashed-bow-${this.dimensions}`;
    this.vectors = new HashedVectors(this.dimensions);
    this.tokenizer = new RecordingTokenizer(loadMistralTokenizer());
    this.maxBatchSize = options.maxBatchSize ?? 48;
    this.tokenBudget = options.tokenBudget ?? 48 * 512;
    this.maxParallelCalls = options.maxParallelCalls ?? 2;
  }

  async embed(call: EmbedCall): Promise<EmbedOutput> {
    const t = performance.now();
    const embeddings = call.texts.map((text) => this.vectors.vector(text));
    this.ms += performance.now() - t;
    return { embeddings };
  }

  async health(): Promise<EmbedderHealth> {
    return { ok: true, detail: 'benchmark hashed bag-of-words vectors' };
  }

  async close(): Promise<void> {}
}

/** Answers queries with vectors computed beforehand, so search timings exclude query embedding. */
export class PrecomputedQueryEmbedder implements Embedder {
  readonly provider = 'onnx' as const;
  readonly modelId: string;
  readonly dimensions: number;
  readonly maxBatchSize = 1;
  readonly maxInputTokens = 4096;
  readonly tokenBudget = 4096;
  readonly maxParallelCalls = 1;
  readonly tokenizer: TextTokenizer;
  private readonly vectors: Map<string, Float32Array>;

  constructor(base: Embedder, vectors: Map<string, Float32Array>) {
    this.modelId = base.modelId;
    this.dimensions = base.dimensions ?? BENCH_DIMS;
    this.tokenizer = base.tokenizer;
    this.vectors = vectors;
  }

  async embed(call: EmbedCall): Promise<EmbedOutput> {
    return {
      embeddings: call.texts.map((t) => {
        const v = this.vectors.get(t);
        if (!v) throw new Error(`bench: no precomputed vector for query ${JSON.stringify(t)}`);
        return v;
      }),
    };
  }

  async health(): Promise<EmbedderHealth> {
    return { ok: true, detail: 'precomputed query vectors' };
  }

  async close(): Promise<void> {}
}
