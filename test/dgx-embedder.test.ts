import { afterEach, describe, expect, it } from 'vitest';
import { DgxEmbedder, DEFAULT_CODE_SEARCH_INSTRUCTION, type DgxEmbedderOptions } from '../models/dgx-embedder.js';
import { AbortError } from '../models/errors/abort-error.js';
import { EmbeddingApiError, EndpointUnreachableError, InvalidEmbeddingResponseError, TooManyValuesForCallError } from '../models/errors/embedding-errors.js';
import { planBatches } from '../indexer/run/batch-planner.js';
import { FakeEmbeddingServer, OOM_BODY, fakeEmbedding, wordTokenizer, type FakeServerOptions } from './helpers/fake-embedding-server.js';

const servers: FakeEmbeddingServer[] = [];
const embedders: DgxEmbedder[] = [];
afterEach(async () => {
  await Promise.all(embedders.splice(0).map((e) => e.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startServer(options: FakeServerOptions = {}): Promise<FakeEmbeddingServer> {
  const server = await FakeEmbeddingServer.start(options);
  servers.push(server);
  return server;
}

/** Retries fast in tests: 20 ms doubling to 100 ms. */
const FAST_BACKOFF = { initialMs: 20, maxMs: 100, factor: 2 };

function dgx(server: FakeEmbeddingServer, options: Partial<DgxEmbedderOptions> = {}): DgxEmbedder {
  const embedder = new DgxEmbedder({ endpoint: server.endpoint, tokenizer: wordTokenizer, backoff: FAST_BACKOFF, ...options });
  embedders.push(embedder);
  return embedder;
}

function texts(count: number, prefix = 'function'): string[] {
  // Varied lengths, distinct words, so a swapped vector cannot go unnoticed.
  return Array.from({ length: count }, (_, i) => `${prefix} f${i} returns value v${i} ${'x '.repeat(i % 7)}`.trim());
}

function expectVectorsOf(embeddings: Float32Array[], inputs: string[], dims: number) {
  expect(embeddings).toHaveLength(inputs.length);
  embeddings.forEach((vector, i) => {
    const expected = fakeEmbedding(inputs[i]!, dims);
    expect(vector).toBeInstanceOf(Float32Array);
    expect(vector.length).toBe(dims);
    let dot = 0;
    let norm = 0;
    for (let j = 0; j < dims; j++) {
      dot += vector[j]! * expected[j]!;
      norm += vector[j]! * vector[j]!;
    }
    expect(norm).toBeCloseTo(1, 5);
    expect(dot).toBeCloseTo(1, 5); // the vector of text i, not of a neighbour
  });
}

describe('DgxEmbedder: the seed protocol', () => {
  it('sends the seed call shape ({"texts": [...]}, batch 48) and returns one normalized vector per text, in order', async () => {
    const server = await startServer();
    const embedder = dgx(server, { batchSize: 48 });
    expect(embedder.provider).toBe('dgx');
    expect(embedder.modelId).toBe('dgx:nvidia/NV-Embed-v2');
    expect(embedder.dimensions).toBeNull();
    expect(embedder.maxBatchSize).toBe(48);
    expect(embedder.maxParallelCalls).toBe(2);

    const inputs = texts(48);
    const { embeddings } = await embedder.embed({ texts: inputs, purpose: 'passage' });

    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.path).toBe('/embed');
    expect(server.requests[0]!.keys).toEqual(['texts']);
    expect(server.requests[0]!.texts).toEqual(inputs);
    expectVectorsOf(embeddings, inputs, 4096);
    expect(embedder.dimensions).toBe(4096);
  });

  it('adds the instruction field for queries only; prefix mode writes it into the text', async () => {
    const server = await startServer({ dims: 32 });
    const field = dgx(server);
    await field.embed({ texts: ['parse a config file'], purpose: 'query' });
    await field.embed({ texts: ['def parse(): pass'], purpose: 'passage' });
    expect(server.requests[0]!.instruction).toBe(DEFAULT_CODE_SEARCH_INSTRUCTION);
    expect(server.requests[0]!.texts).toEqual(['parse a config file']);
    expect(server.requests[1]!.keys).toEqual(['texts']);

    const custom = dgx(server, { instruction: 'Find the function' });
    await custom.embed({ texts: ['q'], purpose: 'query' });
    expect(server.requests[2]!.instruction).toBe('Find the function');

    const prefix = dgx(server, { instructionMode: 'prefix' });
    await prefix.embed({ texts: ['parse a config file'], purpose: 'query' });
    await prefix.embed({ texts: ['def parse(): pass'], purpose: 'passage' });
    expect(server.requests[3]!.keys).toEqual(['texts']);
    expect(server.requests[3]!.texts).toEqual([`Instruct: ${DEFAULT_CODE_SEARCH_INSTRUCTION}\nQuery: parse a config file`]);
    expect(server.requests[4]!.texts).toEqual(['def parse(): pass']);
  });

  it('uses options.model, options.dims, and sends a bearer key when given', async () => {
    const server = await startServer({ dims: 16, apiKey: 'sekret' });
    const embedder = dgx(server, { model: 'my/model', dims: 16, apiKey: 'sekret' });
    expect(embedder.modelId).toBe('dgx:my/model');
    expect(embedder.dimensions).toBe(16);
    await embedder.embed({ texts: ['a'], purpose: 'passage' });
    expect(server.requests[0]!.authorization).toBe('Bearer sekret');
  });

  it('normalizes vectors the server did not normalize', async () => {
    const server = await startServer({ dims: 64, unnormalized: true });
    const inputs = texts(5);
    const { embeddings } = await dgx(server).embed({ texts: inputs, purpose: 'passage' });
    expectVectorsOf(embeddings, inputs, 64);
  });

  it('rejects more texts than batchSize with TooManyValuesForCallError, and returns [] for none', async () => {
    const server = await startServer({ dims: 8 });
    const embedder = dgx(server, { batchSize: 4 });
    await expect(embedder.embed({ texts: texts(5), purpose: 'passage' })).rejects.toBeInstanceOf(TooManyValuesForCallError);
    expect(await embedder.embed({ texts: [], purpose: 'passage' })).toEqual({ embeddings: [] });
    expect(server.requests).toHaveLength(0);
    expect(() => new DgxEmbedder({ endpoint: server.endpoint, batchSize: 513 })).toThrow(/batchSize/);
    expect(() => new DgxEmbedder({ endpoint: 'not a url' })).toThrow(/not a URL/);
  });
});

describe('DgxEmbedder: recovery', () => {
  it('batchSize 64 against a server failing above 48: splits, keeps every vector in order, then plans with <= 48', async () => {
    const server = await startServer({ failAboveTexts: 48 });
    const logs: string[] = [];
    const embedder = dgx(server, { batchSize: 64, log: (m) => logs.push(m) });
    const inputs = texts(64);

    const { embeddings } = await embedder.embed({ texts: inputs, purpose: 'passage' });

    expectVectorsOf(embeddings, inputs, 4096);
    expect(server.requests.map((r) => [r.texts.length, r.status])).toEqual([[64, 500], [32, 200], [32, 200]]);
    expect(embedder.maxBatchSize).toBeLessThanOrEqual(48);
    expect(embedder.tokenBudget).toBeLessThan(48 * 512);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain(server.endpoint);
    expect(logs[0]).toContain(`at most ${embedder.maxBatchSize} texts`);

    // From now on the planner plans with the learned limits, and nothing fails again.
    const more = texts(64, 'method');
    const plan = planBatches(
      more.map((text, i) => ({ key: String(i), tokens: wordTokenizer.count(text), text })),
      { maxTexts: embedder.maxBatchSize, tokenBudget: embedder.tokenBudget },
    );
    server.requests.length = 0;
    for (const batch of plan) {
      const batchTexts = batch.items.map((item) => item.text);
      expectVectorsOf((await embedder.embed({ texts: batchTexts, purpose: 'passage' })).embeddings, batchTexts, 4096);
    }
    expect(server.requests.every((r) => r.status === 200 && r.texts.length <= 48)).toBe(true);

    // A call planned with the old size is still accepted: it is split to the learned limits up front.
    server.requests.length = 0;
    expectVectorsOf((await embedder.embed({ texts: more, purpose: 'passage' })).embeddings, more, 4096);
    expect(server.requests.every((r) => r.status === 200 && r.texts.length <= 48)).toBe(true);
    expect(logs).toHaveLength(1); // logged once
  });

  it('is safe under concurrent calls while it learns the limit', async () => {
    const server = await startServer({ failAboveTexts: 20, dims: 128 });
    const embedder = dgx(server, { batchSize: 64 });
    const calls = [texts(64, 'alpha'), texts(50, 'beta'), texts(64, 'gamma')];
    const results = await Promise.all(calls.map((inputs) => embedder.embed({ texts: inputs, purpose: 'passage' })));
    results.forEach((result, i) => expectVectorsOf(result.embeddings, calls[i]!, 128));
    expect(embedder.maxBatchSize).toBeLessThanOrEqual(20);
  });

  it('stall -> timeout -> split once -> success; a timeout teaches nothing about batch size', async () => {
    const server = await startServer({ dims: 64, stallMs: 10_000, stallAboveTexts: 8 });
    const embedder = dgx(server, { requestTimeoutMs: 300 });
    const inputs = texts(16);
    const started = performance.now();
    const { embeddings } = await embedder.embed({ texts: inputs, purpose: 'passage' });
    expect(performance.now() - started).toBeLessThan(2_000);
    expectVectorsOf(embeddings, inputs, 64);
    expect(server.requests.map((r) => r.texts.length)).toEqual([16, 8, 8]);
    // Only out of memory lowers the limits: a server that is slow or stuck is not told to take less.
    expect(embedder.maxBatchSize).toBe(32);
    expect(embedder.tokenBudget).toBe(48 * 512);
  });

  it('one text that still fails fails the call, naming the endpoint and status and quoting the server', async () => {
    const server = await startServer({ dims: 8, failAboveTexts: 0 });
    const embedder = dgx(server);
    const error = await embedder.embed({ texts: ['a', 'b', 'c'], purpose: 'passage' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingApiError);
    const apiError = error as EmbeddingApiError;
    expect(apiError.status).toBe(500);
    expect(apiError.endpoint).toBe(server.endpoint);
    expect(apiError.message).toContain(server.endpoint);
    expect(apiError.message).toContain('HTTP 500');
    expect(apiError.message).toContain('CUDA out of memory. Tried to allocate 2.00 GiB');
    expect(apiError.message).toContain('single text');
    expect(server.requests.map((r) => r.texts.length)).toEqual([3, 2, 1]);
  });

  it('splits on 413 and on an OOM body with another status', async () => {
    const server = await startServer({ dims: 8 });
    server.respondNext({ status: 413, body: 'Payload Too Large' }, { status: 400, body: JSON.stringify({ detail: 'torch.OutOfMemoryError: ...' }) });
    const inputs = texts(4);
    const { embeddings } = await dgx(server).embed({ texts: inputs, purpose: 'passage' });
    expectVectorsOf(embeddings, inputs, 8);
    expect(server.requests.map((r) => [r.texts.length, r.status])).toEqual([[4, 413], [2, 400], [1, 200], [1, 200], [2, 200]]);
  });

  it('does not retry other 4xx, and says what the server said', async () => {
    const server = await startServer({ dims: 8 });
    server.respondNext({ status: 422, body: JSON.stringify({ detail: [{ msg: 'field required', loc: ['body', 'texts'] }] }) });
    const error = await dgx(server).embed({ texts: ['a', 'b'], purpose: 'passage' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingApiError);
    expect((error as EmbeddingApiError).status).toBe(422);
    expect((error as EmbeddingApiError).isRetryable).toBe(false);
    expect((error as Error).message).toContain('field required');
    expect(server.requests).toHaveLength(1);
  });

  it('backs off on 429 and 503 and then succeeds', async () => {
    const server = await startServer({ dims: 8 });
    server.respondNext({ status: 429, body: 'slow down', headers: { 'retry-after': '0' } }, { status: 503, body: 'loading model' });
    const inputs = texts(3);
    const { embeddings } = await dgx(server).embed({ texts: inputs, purpose: 'passage' });
    expectVectorsOf(embeddings, inputs, 8);
    expect(server.requests.map((r) => [r.texts.length, r.status])).toEqual([[3, 429], [3, 503], [3, 200]]);
  });

  it('connection refused, then the server comes back within the window: success', async () => {
    const server = await startServer({ dims: 32 });
    const embedder = dgx(server, { retryWindowMs: 5_000 });
    await embedder.embed({ texts: ['warm up a kept-alive connection'], purpose: 'passage' });
    await server.refuseFor(400);
    const inputs = texts(10);
    const started = performance.now();
    const { embeddings } = await embedder.embed({ texts: inputs, purpose: 'passage' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expectVectorsOf(embeddings, inputs, 32);
    expect(server.requests.at(-1)!.texts).toEqual(inputs);
  });

  it('refused for longer than the window: EndpointUnreachableError naming the endpoint, quickly', async () => {
    const server = await startServer({ dims: 32 });
    const embedder = dgx(server, { retryWindowMs: 300 });
    await server.refuseFor(60_000);
    const started = performance.now();
    const error = await embedder.embed({ texts: ['a'], purpose: 'passage' }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(EndpointUnreachableError);
    expect((error as EndpointUnreachableError).endpoint).toBe(server.endpoint);
    expect((error as Error).message).toMatch(
      new RegExp(`^Could not reach the embedding endpoint ${server.endpoint.replace(/[.]/g, '\\.')} for 0\\.3 s \\(ECONNREFUSED\\)\\. Is the server running\\?`),
    );
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1_500);
  });

  it('abort cancels promptly: during a slow request and during backoff', async () => {
    const server = await startServer({ dims: 8, stallMs: 10_000 });
    const embedder = dgx(server);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    let started = performance.now();
    await expect(embedder.embed({ texts: ['a', 'b'], purpose: 'passage', signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    expect(performance.now() - started).toBeLessThan(1_000);

    server.setFaults({});
    await server.refuseFor(60_000);
    const slowRetries = dgx(server, { backoff: { initialMs: 5_000, maxMs: 5_000, factor: 1 } });
    const second = new AbortController();
    setTimeout(() => second.abort(), 100);
    started = performance.now();
    await expect(slowRetries.embed({ texts: ['a'], purpose: 'passage', signal: second.signal })).rejects.toBeInstanceOf(AbortError);
    expect(performance.now() - started).toBeLessThan(1_000);

    const already = new AbortController();
    already.abort();
    await expect(embedder.embed({ texts: ['a'], purpose: 'passage', signal: already.signal })).rejects.toBeInstanceOf(AbortError);
  });

  it('close() aborts calls in flight', async () => {
    const server = await startServer({ dims: 8, stallMs: 10_000 });
    const embedder = dgx(server);
    const pending = embedder.embed({ texts: ['a'], purpose: 'passage' });
    setTimeout(() => void embedder.close(), 50);
    await expect(pending).rejects.toBeInstanceOf(AbortError);
  });
});

describe('DgxEmbedder: answers are validated', () => {
  async function failureOf(options: FakeServerOptions, embedderOptions: Partial<DgxEmbedderOptions> = {}, count = 4): Promise<Error> {
    const server = await startServer(options);
    const error = await dgx(server, embedderOptions).embed({ texts: texts(count), purpose: 'passage' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEmbeddingResponseError);
    expect((error as Error).message).toContain(server.endpoint);
    expect(server.requests).toHaveLength(1); // not retried
    return error as Error;
  }

  it('wrong count', async () => {
    expect((await failureOf({ dims: 8, wrongCount: -1 })).message).toContain('returned 3 vectors for 4 texts');
    expect((await failureOf({ dims: 8, wrongCount: 2 })).message).toContain('returned 6 vectors for 4 texts');
  });

  it('NaN and null values', async () => {
    expect((await failureOf({ dims: 8, nan: true })).message).toMatch(/non-finite numbers \(NaN/);
    expect((await failureOf({ dims: 8, nullValue: true })).message).toContain('returned null at position 0 of vector 0');
  });

  it('wrong dims against options.dims, and a later answer of another size', async () => {
    expect((await failureOf({ dims: 8, wrongDims: 7 }, { dims: 8 })).message).toContain('7 dims for text 0, but this index uses 8 dims');

    const server = await startServer({ dims: 8 });
    const embedder = dgx(server);
    await embedder.embed({ texts: ['a'], purpose: 'passage' });
    expect(embedder.dimensions).toBe(8);
    server.setFaults({ wrongDims: 9 });
    await expect(embedder.embed({ texts: ['a'], purpose: 'passage' })).rejects.toThrow(/9 dims for text 0, but this index uses 8 dims/);
  });

  it('a body without "embeddings", and a body that is not JSON', async () => {
    const server = await startServer({ dims: 8 });
    server.respondNext({ status: 200, body: JSON.stringify({ vectors: [[1]] }) }, { status: 200, body: '<html>proxy error</html>' });
    const embedder = dgx(server);
    await expect(embedder.embed({ texts: ['a'], purpose: 'passage' })).rejects.toThrow(/without an "embeddings" list: \{"vectors"/);
    await expect(embedder.embed({ texts: ['a'], purpose: 'passage' })).rejects.toThrow(/not JSON \(HTTP 200\): "<html>proxy error<\/html>"/);
  });
});

describe('DgxEmbedder: health', () => {
  it('reports ok with dims and latency, and not ok when refused, without hanging', async () => {
    const server = await startServer({ dims: 4096 });
    const embedder = dgx(server);
    const ok = await embedder.health();
    expect(ok.ok).toBe(true);
    expect(ok.detail).toMatch(/^endpoint http:\/\/127\.0\.0\.1:\d+\/embed reachable, 4096 dims, \d+ ms$/);

    await server.refuseFor(60_000);
    const started = performance.now();
    const down = await embedder.health();
    expect(down.ok).toBe(false);
    expect(down.detail).toContain('ECONNREFUSED');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('reports what the server said when it answers with an error', async () => {
    const server = await startServer({ dims: 8 });
    server.respondNext({ status: 500, body: OOM_BODY });
    const health = await dgx(server).health();
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('CUDA out of memory');
  });
});

describe('DgxEmbedder: tokens', () => {
  it('cuts texts longer than maxInputTokens before sending them', async () => {
    const server = await startServer({ dims: 8 });
    const long = Array.from({ length: 50 }, (_, i) => `w${i}`).join(' ');
    await dgx(server, { maxInputTokens: 10 }).embed({ texts: [long, 'short text'], purpose: 'passage' });
    const sent = server.requests[0]!.texts;
    expect(wordTokenizer.count(sent[0]!)).toBeLessThanOrEqual(10);
    expect(long.startsWith(sent[0]!)).toBe(true);
    expect(sent[1]).toBe('short text');
  });

  it("counts with Mistral-7B's tokenizer by default", () => {
    const embedder = new DgxEmbedder({ endpoint: 'http://127.0.0.1:1/embed' });
    expect(embedder.tokenizer.count('def hello_world():\n    return 42')).toBeGreaterThan(5);
    expect(embedder.tokenizer.encode('hello')).toEqual(embedder.tokenizer.encode('hello'));
  });
});
