/**
 * Issue 16.4: an endpoint that does not answer. A request waits a timeout that adapts to the
 * endpoint's answers; a timeout splits a batch at most once; an endpoint that never answers fails a
 * call (and so an index) after two timeouts, saying so; health answers within a second at any time.
 * Real HTTP servers on 127.0.0.1 that accept and never answer, with timeouts scaled down.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DgxEmbedder, type DgxEmbedderOptions } from '../models/dgx-embedder.js';
import { OpenAIEmbedder } from '../models/openai-embedder.js';
import { EmbeddingApiError, EndpointUnreachableError } from '../models/errors/embedding-errors.js';
import { runIndex } from '../indexer/run/run-index.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { FakeEmbeddingServer, wordTokenizer, type FakeServerOptions } from './helpers/fake-embedding-server.js';
import { connectInProcess, type InProcessSession } from './helpers/in-process.js';
import { tempDir } from './helpers/stdio-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(options: FakeServerOptions = {}): Promise<FakeEmbeddingServer> {
  const server = await FakeEmbeddingServer.start(options);
  cleanups.push(() => server.close());
  return server;
}

function dgx(server: FakeEmbeddingServer, options: Partial<DgxEmbedderOptions> = {}): DgxEmbedder {
  const embedder = new DgxEmbedder({ endpoint: server.endpoint, tokenizer: wordTokenizer, backoff: { initialMs: 20, maxMs: 100, factor: 2 }, ...options });
  cleanups.push(() => embedder.close());
  return embedder;
}

function texts(count: number, prefix = 'function'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix} f${i} returns value v${i}`);
}

async function failureOf(promise: Promise<unknown>): Promise<EmbeddingApiError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EmbeddingApiError);
  return error as EmbeddingApiError;
}

describe('an endpoint that accepts and never answers', () => {
  it('fails a call after two timeouts of the same texts, split once (32, 16), saying what to check', async () => {
    const server = await startServer({ dims: 8, hang: true });
    const embedder = dgx(server, { requestTimeoutMs: 300 });
    const started = performance.now();
    const error = await failureOf(embedder.embed({ texts: texts(32), purpose: 'passage' }));
    const elapsed = performance.now() - started;

    // Not 32, 16, 8, 4, 2, 1 each waiting the full timeout: one split, then the call fails.
    expect(server.requests.map((r) => r.texts.length)).toEqual([32, 16]);
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(2_000);
    expect(error.endpoint).toBe(server.endpoint);
    expect(error.isRetryable).toBe(false);
    expect(error.message).toContain(`Embedding endpoint ${server.endpoint} did not answer`);
    expect(error.message).toContain('within 0.3 s');
    expect(error.message).toMatch(/running and not stuck/);
    expect(error.message).toContain('CODECARTO_EMBED_TIMEOUT_MS (now 300 ms)');
    // A timeout is not out of memory: the limits stay as configured.
    expect(embedder.maxBatchSize).toBe(32);
    expect(embedder.endpointState().state).toBe('down');
  });

  it('a single text is sent twice, then the call fails', async () => {
    const server = await startServer({ dims: 8, hang: true });
    const error = await failureOf(dgx(server, { requestTimeoutMs: 200 }).embed({ texts: ['only one'], purpose: 'query' }));
    expect(server.requests.map((r) => r.texts)).toEqual([['only one'], ['only one']]);
    expect(error.message).toContain('did not answer');
  });

  it('the halves go with the same timeout: the second half timing out again ends the call', async () => {
    const inputs = texts(16);
    const stuck = inputs[12]!;
    const server = await startServer({ dims: 8, hang: (batch) => batch.includes(stuck) });
    const error = await failureOf(dgx(server, { requestTimeoutMs: 250 }).embed({ texts: inputs, purpose: 'passage' }));
    expect(server.requests.map((r) => [r.texts.length, r.status])).toEqual([
      [16, 0],
      [8, 200],
      [8, 0],
    ]);
    expect(error.message).toContain('did not answer');
  });

  it('an index against it fails within two timeouts, saying so; the requests it sends are bounded', async () => {
    const server = await startServer({ dims: 8, hang: true });
    const repo = join(tempDir('hung'), 'repo');
    mkdirSync(repo, { recursive: true });
    for (let i = 0; i < 60; i++) writeFileSync(join(repo, `f${i}.py`), `def function_${i}(x):\n    return x * ${i} + ${i * 7}\n`);
    const store = openIndexStore(tempDir('hung-data'));
    cleanups.push(() => store.close());
    const embedder = dgx(server, { requestTimeoutMs: 400, batchSize: 8 });
    const started = performance.now();
    const summary = await runIndex({ root: repo, store, embedder, prepareWorkers: 0 });
    const elapsed = performance.now() - started;

    expect(summary.state).toBe('failed');
    expect(summary.error).toContain(`Embedding endpoint ${server.endpoint} did not answer`);
    // Each of the (at most maxParallelCalls = 2) calls in flight sends its batch and one half.
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    expect(server.requests.length).toBeLessThanOrEqual(2 * embedder.maxParallelCalls);
    expect(elapsed).toBeLessThan(2 * 400 + 2_500);
  });

  it('the defaults keep an index against it under 3 minutes: 60 s for an answer, twice', () => {
    // The scaled-down test above shows a call waits at most two timeouts; these are the real numbers.
    for (const embedder of [new DgxEmbedder({ endpoint: 'http://127.0.0.1:9/embed' }), new OpenAIEmbedder({ baseUrl: 'http://127.0.0.1:9', model: 'm' })]) {
      expect(embedder.requestTimeoutMs).toBe(60_000);
      expect(embedder.noAnswerLimitMs).toBe(120_000);
      expect(embedder.noAnswerLimitMs).toBeLessThan(180_000);
    }
  });
});

describe('a slow endpoint', () => {
  it('answers slowly but within the timeout: every batch succeeds whole, none is split', async () => {
    const server = await startServer({ dims: 8, stallMs: 400 });
    // After the first answer the timeout is 5 x 0.4 s (the minimum, 0.2 s, does not hold it up).
    const embedder = dgx(server, { requestTimeoutMs: 3_000, minRequestTimeoutMs: 200 });
    for (let round = 0; round < 3; round++) {
      const { embeddings } = await embedder.embed({ texts: texts(32, `round${round}`), purpose: 'passage' });
      expect(embeddings).toHaveLength(32);
    }
    expect(server.requests.map((r) => [r.texts.length, r.status])).toEqual([
      [32, 200],
      [32, 200],
      [32, 200],
    ]);
  });

  it('the timeout adapts to what the endpoint has shown: fast answers make a hang fail sooner', async () => {
    const server = await startServer({ dims: 8 });
    const embedder = dgx(server, { requestTimeoutMs: 5_000, minRequestTimeoutMs: 200 });
    await embedder.embed({ texts: texts(16), purpose: 'passage' });
    server.setFaults({ hang: true });
    const started = performance.now();
    const error = await failureOf(embedder.embed({ texts: texts(16, 'method'), purpose: 'passage' }));
    // Two timeouts of 0.2 s (5 x a few ms, raised to the minimum), not of the configured 5 s.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.message).toContain('within 0.2 s');
    expect(server.requests.map((r) => r.texts.length)).toEqual([16, 16, 8]);
  });
});

describe('health answers within a second at any time', () => {
  it('while the endpoint hangs, and while a batch waits for its answer', async () => {
    const server = await startServer({ dims: 8 });
    const embedder = dgx(server, { requestTimeoutMs: 20_000 });
    await embedder.embed({ texts: ['warm'], purpose: 'passage' });
    server.setFaults({ hang: true });
    const pending = embedder.embed({ texts: texts(4), purpose: 'passage' }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));

    const started = performance.now();
    const health = await embedder.health();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(health.detail).toContain('did not answer a one-text probe within 0.8 s');
    expect(health.detail).toMatch(/a request of 4 texts has waited 0\.\d s for its answer \(it gives up after \d+(\.\d)? s\)/);
    expect(health.detail).toMatch(/its last answer came \d+\.\d s ago/);
    expect(health.ok).toBe(true); // it answered before; a busy endpoint is not a broken one

    await embedder.close();
    await pending;
  });

  it('an endpoint that has never answered is not ok, and health still does not wait', async () => {
    const server = await startServer({ dims: 8, hang: true });
    const started = performance.now();
    const health = await dgx(server).health();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('it has not answered yet');
  });

  it('the status tool answers within 1 s while an index waits on a hung endpoint', async () => {
    const server = await startServer({ dims: 8, hang: true });
    const repo = join(tempDir('status-hung'), 'repo');
    mkdirSync(repo, { recursive: true });
    for (let i = 0; i < 10; i++) writeFileSync(join(repo, `f${i}.py`), `def function_${i}(x):\n    return x * ${i}\n`);
    const session: InProcessSession = await connectInProcess({ home: tempDir('status-hung-home') });
    cleanups.push(() => session.close());
    const set = await session.call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: server.endpoint, batch_size: 4 });
    expect(set.isError ?? false).toBe(false);
    const index = await session.call('index', { wait_seconds: 0 });
    expect(index.structuredContent.state).toBe('running');
    const deadline = Date.now() + 10_000;
    // set_project's own check sent a 'ping' (unanswered too); wait for the index's first batch.
    const batches = () => server.requests.filter((r) => r.texts[0] !== 'ping').length;
    while (batches() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches()).toBeGreaterThan(0);

    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const status = await session.call('status');
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(status.structuredContent.health.detail).toMatch(/has waited .* for its answer/);
    }
  });
});

describe('a down endpoint is watched in the background', () => {
  it('after a call gives up, a probe sees the endpoint come back without any other call; close stops the probes', async () => {
    const server = await startServer({ dims: 8 });
    const embedder = dgx(server, { retryWindowMs: 200, probeBackoff: { initialMs: 50, maxMs: 100, factor: 2 } });
    await server.refuseFor(600);
    const error = await embedder.embed({ texts: ['a'], purpose: 'passage' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EndpointUnreachableError);
    const down = embedder.endpointState();
    expect(down.state).toBe('down');
    expect(down.probing).toBe(true);
    expect(down.lastError).toContain(server.endpoint);

    await server.reopened;
    const deadline = Date.now() + 5_000;
    while (embedder.endpointState().state !== 'up' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const up = embedder.endpointState();
    expect(up.state).toBe('up');
    expect(up.probing).toBe(false);
    expect(server.requests.at(-1)!.texts).toEqual(['ping']);

    // Down again; once closed, nothing more reaches the server.
    server.setFaults({ hang: true });
    await embedder.close();
    const seen = server.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.requests.length).toBe(seen);
  });
});
