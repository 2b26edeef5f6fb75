import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { AbortError } from '../models/errors/abort-error.js';
import { TooManyValuesForCallError } from '../models/errors/embedding-errors.js';
import { ModelLoadError } from '../models/errors/model-load-error.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import { OnnxEmbedder } from '../models/onnx-embedder.js';
import { makeTestModel } from '../models/test-model.js';

const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const editManifest = (dir: string, change: Record<string, unknown>): void => {
  const path = join(dir, 'codecarto.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...change }));
};

describe('OnnxEmbedder on the generated NV-Embed-shaped test model (cpu)', () => {
  const root = mkdtempSync(join(tmpdir(), 'codecarto-onnx-'));
  const modelDir = join(root, 'model');
  let embedder: OnnxEmbedder;
  let generationMs = 0;

  beforeAll(async () => {
    const started = performance.now();
    await makeTestModel(modelDir);
    generationMs = performance.now() - started;
    embedder = await OnnxEmbedder.create({ modelDir, device: 'cpu' });
  });
  afterAll(async () => {
    await embedder?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is a small, deterministic model with NV-Embed-v2 dims and interface', async () => {
    const size = statSync(join(modelDir, 'model.onnx')).size;
    console.log(`test model: ${(size / 1e6).toFixed(1)} MB, generated in ${generationMs.toFixed(0)} ms`);
    expect(size).toBeLessThan(20e6);
    expect(generationMs).toBeLessThan(10_000);
    expect(embedder.provider).toBe('onnx');
    expect(embedder.dimensions).toBe(4096);
    expect(embedder.maxInputTokens).toBe(4096);
    expect(embedder.maxParallelCalls).toBe(1);
    expect(embedder.executionProvider).toBe('cpu');
    expect(embedder.usesPoolMask).toBe(true);
    expect(embedder.modelId).toBe('codecarto-test-model-v2/h256-d4096-s42');
    expect(embedder.queryInstruction).toBe(
      'Instruct: Given a code search query, retrieve relevant code snippets that answer the query\nQuery: ',
    );
    const again = join(root, 'again');
    await makeTestModel(again);
    expect(readFileSync(join(again, 'model.onnx')).equals(readFileSync(join(modelDir, 'model.onnx')))).toBe(true);
    expect(await embedder.health()).toEqual({
      ok: true,
      detail: 'onnxruntime cpu execution provider; model codecarto-test-model-v2/h256-d4096-s42 (4096 dims)',
      executionProvider: 'cpu',
    });
  });

  it('returns one unit vector of 4096 dims per text, deterministic and in input order', async () => {
    const texts = ['def add(a, b): return a + b', 'SELECT * FROM users WHERE id = ?', 'x', '', 'fn main() { println!("hi"); }'];
    const { embeddings } = await embedder.embed({ texts, purpose: 'passage' });
    expect(embeddings).toHaveLength(texts.length);
    for (const v of embeddings) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(4096);
      expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 5);
    }
    const second = await embedder.embed({ texts, purpose: 'passage' });
    second.embeddings.forEach((v, i) => expect(maxAbsDiff(v, embeddings[i])).toBe(0));
    const reversed = await embedder.embed({ texts: [...texts].reverse(), purpose: 'passage' });
    reversed.embeddings.reverse().forEach((v, i) => expect(maxAbsDiff(v, embeddings[i])).toBeLessThan(1e-6));
    // Distinct texts get distinct vectors.
    expect(dot(embeddings[0], embeddings[1])).toBeLessThan(0.9);
  });

  it('gives the same vector in a padded batch as alone', async () => {
    const texts = ['short', 'a much longer text that will force padding of the short ones in this batch, '.repeat(8), 'medium length text here'];
    const { embeddings: batched } = await embedder.embed({ texts, purpose: 'passage' });
    for (let i = 0; i < texts.length; i++) {
      const { embeddings: alone } = await embedder.embed({ texts: [texts[i]], purpose: 'passage' });
      expect(maxAbsDiff(alone[0], batched[i])).toBeLessThan(1e-5);
    }
  });

  it('builds NV-Embed-v2 inputs: BOS + instruction masked out of pooling, EOS pooled, right padding', () => {
    const batch = embedder.prepareBatch(['x', 'hello world'], 'query');
    const instructionTokens = embedder.tokenizer.count(embedder.queryInstruction); // 23, ending in a lone "▁"
    expect(instructionTokens).toBe(23);
    // BOS + 22 instruction tokens + "▁x" + EOS: the instruction's trailing "▁" merges into "▁x".
    const helloTokens = embedder.tokenizer.count('hello world');
    expect(batch.tokenCounts).toEqual([25, 24 + helloTokens]);
    expect(batch.length).toBe(24 + helloTokens);
    const row = (a: BigInt64Array, r: number): number[] => Array.from(a.subarray(r * batch.length, (r + 1) * batch.length), Number);
    const ids = row(batch.inputIds, 0);
    expect(ids[0]).toBe(1);
    expect(ids.slice(23, 25)).toEqual([1318, 2]);
    // NV-Embed-v2 zeroes the first len(tokenize(instruction)) = 23 positions, the same as here.
    const padding = Array(helloTokens - 1).fill(0);
    expect(row(batch.poolMask, 0)).toEqual([...Array(23).fill(0), 1, 1, ...padding]);
    expect(row(batch.attentionMask, 0)).toEqual([...Array(25).fill(1), ...padding]);
    expect(row(batch.poolMask, 1)).toEqual([...Array(23).fill(0), ...Array(helloTokens + 1).fill(1)]);
    const passage = embedder.prepareBatch(['x'], 'passage');
    expect(Array.from(passage.inputIds, Number)).toEqual([1, 1318, 2]);
    expect(Array.from(passage.poolMask, Number)).toEqual([1, 1, 1]);
  });

  it('leaves the instruction out of a query vector when the graph has a pool mask', async () => {
    const text = 'parse the json config file';
    const [query] = (await embedder.embed({ texts: [text], purpose: 'query' })).embeddings;
    const [passage] = (await embedder.embed({ texts: [text], purpose: 'passage' })).embeddings;
    // They differ only by BOS, which a passage pools and a query (like NV-Embed-v2's) does not.
    expect(maxAbsDiff(query, passage)).toBeGreaterThan(1e-4);
    expect(dot(query, passage)).toBeGreaterThan(0.9);

    // Same weights without BOS: the passage pools exactly the query's tokens (text + EOS).
    const noBos = join(root, 'no-bos');
    await makeTestModel(noBos);
    editManifest(noBos, { add_bos: false });
    const plain = await OnnxEmbedder.create({ modelDir: noBos, device: 'cpu' });
    try {
      const [passageNoBos] = (await plain.embed({ texts: [text], purpose: 'passage' })).embeddings;
      const [queryNoBos] = (await plain.embed({ texts: [text], purpose: 'query' })).embeddings;
      expect(maxAbsDiff(query, passageNoBos)).toBeLessThan(1e-6);
      expect(maxAbsDiff(query, queryNoBos)).toBeLessThan(1e-6);
    } finally {
      await plain.close();
    }

    // Same weights, graph without pool_mask: the 22 instruction tokens dominate the mean.
    const noPool = join(root, 'no-pool');
    await makeTestModel(noPool, { poolMask: false });
    const pooled = await OnnxEmbedder.create({ modelDir: noPool, device: 'cpu' });
    try {
      expect(pooled.usesPoolMask).toBe(false);
      const [q] = (await pooled.embed({ texts: [text], purpose: 'query' })).embeddings;
      const [p] = (await pooled.embed({ texts: [text], purpose: 'passage' })).embeddings;
      expect(maxAbsDiff(p, passage)).toBeLessThan(1e-6);
      expect(dot(q, p)).toBeLessThan(0.7);
    } finally {
      await pooled.close();
    }
  });

  it('ranks a chunk sharing the query words above unrelated chunks', async () => {
    const chunks = [
      'class Matrix:\n    def multiply(self, other):\n        return [[sum(a * b for a, b in zip(r, c)) for c in zip(*other)] for r in self.rows]',
      'INSERT INTO users (name, email) VALUES (?, ?);',
      '// parse the json config file and return its settings\nfunction loadSettings(path) {\n  return JSON.parse(fs.readFileSync(path, "utf8"));\n}',
      'button.addEventListener("click", () => render(<Modal open />));',
      'fn fibonacci(n: u64) -> u64 { if n < 2 { n } else { fibonacci(n - 1) + fibonacci(n - 2) } }',
    ];
    const { embeddings } = await embedder.embed({ texts: chunks, purpose: 'passage' });
    const [query] = (await embedder.embed({ texts: ['parse json config file settings'], purpose: 'query' })).embeddings;
    const scores = embeddings.map((v) => dot(query, v));
    const best = scores.indexOf(Math.max(...scores));
    expect(best).toBe(2);
    const others = scores.filter((_, i) => i !== 2);
    expect(scores[2] - Math.max(...others)).toBeGreaterThan(0.15);
  });

  it('rejects more than maxBatchSize texts with a typed error', async () => {
    const small = await OnnxEmbedder.create({ modelDir, device: 'cpu', maxBatchSize: 4, tokenBudget: 1000 });
    try {
      expect(small.maxBatchSize).toBe(4);
      expect(small.tokenBudget).toBe(1000);
      const call = small.embed({ texts: ['a', 'b', 'c', 'd', 'e'], purpose: 'passage' });
      await expect(call).rejects.toBeInstanceOf(TooManyValuesForCallError);
      await expect(call).rejects.toMatchObject({ maxBatchSize: 4, count: 5 });
      expect((await small.embed({ texts: ['a', 'b', 'c', 'd'], purpose: 'passage' })).embeddings).toHaveLength(4);
    } finally {
      await small.close();
    }
  });

  it('honours an aborted signal before running, and serializes concurrent calls', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(embedder.embed({ texts: ['a'], purpose: 'passage', signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    const texts = Array.from({ length: 6 }, (_, i) => `text number ${i} about topic ${i * 7}`);
    const sequential: Float32Array[] = [];
    for (const t of texts) sequential.push((await embedder.embed({ texts: [t], purpose: 'passage' })).embeddings[0]);
    const concurrent = await Promise.all(texts.map((t) => embedder.embed({ texts: [t], purpose: 'passage' })));
    concurrent.forEach((out, i) => expect(maxAbsDiff(out.embeddings[0], sequential[i])).toBe(0));
  });

  it("device 'cuda' without a loadable CUDA provider is a ModelLoadError that says what to do", async () => {
    let error: unknown;
    try {
      await OnnxEmbedder.create({ modelDir, device: 'cuda' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ModelLoadError);
    const message = (error as Error).message;
    expect(message).toMatch(/CUDA execution provider could not load .*model\.onnx/);
    expect(message).toMatch(/\(.*(shared library|cuda|CUDA).*\)/);
    expect(message).toContain('docs/gb10.md');
    expect(message).toContain('set device "cpu"');
  });

  it("device 'auto' falls back to cpu and says so", async () => {
    const logs: string[] = [];
    const auto = await OnnxEmbedder.create({ modelDir, device: 'auto', log: (m) => logs.push(m) });
    try {
      expect(auto.executionProvider).toBe('cpu');
      const health = await auto.health();
      expect(health.ok).toBe(true);
      expect(health.executionProvider).toBe('cpu');
      expect(health.detail).toMatch(/^cuda unavailable \(.+\), using cpu/);
      expect(logs.some((m) => /cuda unavailable \(.+\), using cpu/.test(m))).toBe(true);
      expect(auto.tokenBudget).toBe(8192);
    } finally {
      await auto.close();
    }
  });

  it('says when the manifest does not match the graph', async () => {
    const wrong = join(root, 'wrong');
    await makeTestModel(wrong);
    editManifest(wrong, { output: 'sentence_embeddings', inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask' } });
    await expect(OnnxEmbedder.create({ modelDir: wrong, device: 'cpu' })).rejects.toThrow(
      /does not match model\.onnx: the graph takes inputs that the manifest does not map: pool_mask; output is "sentence_embeddings", which the graph does not produce/,
    );
    editManifest(wrong, { output: 'embedding', inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', pool_mask: 'pool_mask' }, dims: 1024 });
    const misdeclared = await OnnxEmbedder.create({ modelDir: wrong, device: 'cpu' });
    try {
      await expect(misdeclared.embed({ texts: ['a'], purpose: 'passage' })).rejects.toThrow(/has 4096 dims but .* says 1024/);
    } finally {
      await misdeclared.close();
    }
  });

  it('truncates to max_tokens and keeps BOS and EOS', async () => {
    const short = join(root, 'short');
    await makeTestModel(short);
    editManifest(short, { max_tokens: 8 });
    const e = await OnnxEmbedder.create({ modelDir: short, device: 'cpu' });
    try {
      expect(e.maxInputTokens).toBe(8);
      const long = 'one two three four five six seven eight nine ten';
      const batch = e.prepareBatch([long], 'passage');
      expect(Array.from(batch.inputIds, Number)).toEqual([1, ...e.tokenizer.encode(long).slice(0, 6), 2]);
      // The instruction alone overflows: only EOS is left to pool.
      const query = e.prepareBatch([long], 'query');
      expect(query.tokenCounts).toEqual([8]);
      expect(Array.from(query.poolMask, Number)).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
      const [v] = (await e.embed({ texts: [long], purpose: 'query' })).embeddings;
      expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 5);
    } finally {
      await e.close();
    }
  });

  it('falls back to a derived model id when the manifest has none', async () => {
    const anonymous = join(root, 'anonymous');
    await makeTestModel(anonymous);
    const manifest = JSON.parse(readFileSync(join(anonymous, 'codecarto.json'), 'utf8'));
    delete manifest.id;
    writeFileSync(join(anonymous, 'codecarto.json'), JSON.stringify(manifest));
    const e = await OnnxEmbedder.create({ modelDir: anonymous, device: 'cpu' });
    try {
      expect(e.modelId).toMatch(/^anonymous@[0-9a-f]{12}$/);
    } finally {
      await e.close();
    }
  });

  it('embeds 48 texts of ~200 tokens (throughput on cpu)', async () => {
    const words = 'const value = compute(input, options); if (value > limit) { throw new Error("too big"); } return value * factor;'.split(' ');
    const texts = Array.from({ length: 48 }, (_, i) => {
      const parts: string[] = [];
      for (let j = 0; parts.length < 80; j++) parts.push(words[(i * 7 + j * 3) % words.length] + (j % 5 === 0 ? `${i}_${j}` : ''));
      return parts.join(' ');
    });
    const tokens = texts.reduce((n, t) => n + embedder.tokenizer.count(t) + 2, 0);
    const started = performance.now();
    const { embeddings } = await embedder.embed({ texts, purpose: 'passage' });
    const ms = performance.now() - started;
    console.log(`48 texts, ${(tokens / 48).toFixed(0)} tokens each: ${ms.toFixed(0)} ms (${((tokens / ms) * 1000).toFixed(0)} tokens/s, tokenizing included)`);
    expect(embeddings).toHaveLength(48);
  });

  it('closes: later calls fail with a clear error and health says closed', async () => {
    const e = await OnnxEmbedder.create({ modelDir, device: 'cpu' });
    await e.close();
    await e.close();
    await expect(e.embed({ texts: ['a'], purpose: 'passage' })).rejects.toThrow(/closed; create a new one/);
    expect((await e.health()).ok).toBe(false);
  });
});

describe('NoneEmbedder', () => {
  it('does lexical search only and says how to embed', async () => {
    const none = new NoneEmbedder();
    expect(none.provider).toBe('none');
    expect(none.modelId).toBe('none');
    expect(none.dimensions).toBeNull();
    expect(none.tokenizer.encode('Hello world!')).toEqual([22557, 1526, 28808]);
    const call = none.embed();
    await expect(call).rejects.toBeInstanceOf(CodecartoError);
    await expect(call).rejects.toThrow('provider none does lexical search only; call set_project with provider dgx, onnx or openai to embed');
    expect(await none.health()).toEqual({ ok: true, detail: 'lexical search only (no embedding provider)' });
  });
});
