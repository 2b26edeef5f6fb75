/**
 * Issue 16.5: learned batch limits move only on out-of-memory answers, and grow back. Transient 5xx
 * are retried as they are. A real fake GPU server on 127.0.0.1 whose memory follows padded tokens
 * (texts x longest, in words), and batches planned the way the indexer plans them: from the queue,
 * with the embedder's current limits, before each request.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DgxEmbedder, type DgxEmbedderOptions } from '../models/dgx-embedder.js';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { EmbeddingApiError } from '../models/errors/embedding-errors.js';
import { LearnedBatchLimits } from '../models/learned-batch-limits.js';
import { planBatches } from '../indexer/run/batch-planner.js';
import { EmbeddingBatcher } from '../src/embed-server/embedding-batcher.js';
import { FakeEmbeddingServer, fakeEmbedding, paddedWords, wordTokenizer, type FakeServerOptions } from './helpers/fake-embedding-server.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(options: FakeServerOptions = {}): Promise<FakeEmbeddingServer> {
  const server = await FakeEmbeddingServer.start({ dims: 8, ...options });
  cleanups.push(() => server.close());
  return server;
}

const CONFIGURED = { batchSize: 32, tokenBudget: 300 };

function dgx(server: FakeEmbeddingServer, options: Partial<DgxEmbedderOptions> = {}): DgxEmbedder {
  const embedder = new DgxEmbedder({
    endpoint: server.endpoint,
    tokenizer: wordTokenizer,
    backoff: { initialMs: 10, maxMs: 40, factor: 2 },
    ...CONFIGURED,
    ...options,
  });
  cleanups.push(() => embedder.close());
  return embedder;
}

/** Texts of 2..17 words, each distinct. */
function corpus(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => [`${prefix}${i}`, ...Array.from({ length: 1 + ((i * 7) % 16) }, (_, j) => `w${j}`)].join(' '));
}

/** Embeds `inputs` as the indexer does: plan what is waiting with the current limits, send one batch, repeat. */
async function embedLikeIndexer(embedder: DgxEmbedder, inputs: string[], afterBatch?: () => void): Promise<void> {
  let waiting = inputs.map((text, i) => ({ key: String(i), tokens: wordTokenizer.count(text), text }));
  while (waiting.length > 0) {
    const [batch] = planBatches(waiting, { maxTexts: embedder.maxBatchSize, tokenBudget: embedder.tokenBudget });
    const texts = batch!.items.map((item) => item.text);
    const { embeddings } = await embedder.embed({ texts, purpose: 'passage' });
    expect(embeddings).toHaveLength(texts.length);
    embeddings.forEach((vector, i) => {
      const expected = fakeEmbedding(texts[i]!, 8);
      let dot = 0;
      for (let j = 0; j < 8; j++) dot += vector[j]! * expected[j]!;
      expect(dot).toBeCloseTo(1, 5); // never lost, never reordered
    });
    const sent = new Set(batch!.items);
    waiting = waiting.filter((item) => !sent.has(item));
    afterBatch?.();
  }
}

const answered = (server: FakeEmbeddingServer) => server.requests.filter((r) => r.status === 200).map((r) => paddedWords(r.texts));

describe('transient 5xx are retried as they are, never learned', () => {
  it('two plain HTTP 500s, then success: the same batches afterwards, token for token', async () => {
    const inputs = corpus(150, 'f');
    const clean = await startServer();
    await embedLikeIndexer(dgx(clean), inputs);
    const reference = answered(clean);

    const server = await startServer();
    server.respondNext({ status: 500, body: 'Internal Server Error' }, { status: 500, body: JSON.stringify({ detail: 'worker restarted' }) });
    const embedder = dgx(server);
    await embedLikeIndexer(embedder, inputs);

    // The first batch went three times, whole; everything after it is what a clean run sends.
    expect(server.requests.slice(0, 3).map((r) => r.status)).toEqual([500, 500, 200]);
    expect(server.requests[1]!.texts).toEqual(server.requests[0]!.texts);
    expect(server.requests[2]!.texts).toEqual(server.requests[0]!.texts);
    expect(answered(server)).toEqual(reference);
    expect(embedder.maxBatchSize).toBe(CONFIGURED.batchSize);
    expect(embedder.tokenBudget).toBe(CONFIGURED.tokenBudget);
  });

  it('502 and 504 are retried too; a 500 that keeps coming fails after a few tries, unsplit, saying so', async () => {
    const server = await startServer();
    server.respondNext({ status: 502, body: 'Bad Gateway' }, { status: 504, body: 'Gateway Timeout' });
    const embedder = dgx(server);
    await embedder.embed({ texts: corpus(6, 'a'), purpose: 'passage' });
    expect(server.requests.map((r) => [r.texts.length, r.status])).toEqual([
      [6, 502],
      [6, 504],
      [6, 200],
    ]);

    server.requests.length = 0;
    server.respondNext(...Array.from({ length: 10 }, () => ({ status: 500, body: 'Internal Server Error' })));
    const error = await embedder.embed({ texts: corpus(6, 'b'), purpose: 'passage' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingApiError);
    expect((error as Error).message).toContain(`Embedding endpoint ${server.endpoint} answered HTTP 500`);
    expect((error as Error).message).toMatch(/5 times in a row for the same batch .* check the server's log/);
    expect(server.requests.map((r) => r.texts.length)).toEqual([6, 6, 6, 6, 6]);
    expect(embedder.maxBatchSize).toBe(CONFIGURED.batchSize);
    expect(embedder.tokenBudget).toBe(CONFIGURED.tokenBudget);
  });
});

describe('out of memory lowers the limits, and they grow back', () => {
  it('out of memory above a padded-token threshold shrinks the budget below it; the next batches fit', async () => {
    const server = await startServer({ failAbovePaddedWords: 150 });
    const logs: string[] = [];
    const embedder = dgx(server, { log: (m) => logs.push(m) });
    await embedLikeIndexer(embedder, corpus(150, 'f'));
    expect(server.requests.some((r) => r.status === 500)).toBe(true);
    expect(embedder.tokenBudget).toBeLessThanOrEqual(150);
    expect(embedder.tokenBudget).toBeGreaterThanOrEqual(75);
    expect(logs[0]).toMatch(/failed on large batches \(out of memory\); using at most \d+ texts and \d+ padded tokens per request for now/);
    expect(logs[0]).toContain('they grow back after 8 batches in a row that work');

    // The next batches keep to the learned budget; at most one fails: the step that tries a larger one.
    const learned = embedder.tokenBudget;
    server.requests.length = 0;
    await embedLikeIndexer(embedder, corpus(100, 'g'));
    const firstFailure = server.requests.findIndex((r) => r.status !== 200);
    expect(server.requests.filter((r) => r.status !== 200).length).toBeLessThanOrEqual(1);
    const before = firstFailure < 0 ? server.requests : server.requests.slice(0, firstFailure);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((r) => paddedWords(r.texts) <= learned)).toBe(true);
  });

  it('once memory is free again, the budget grows back to the configured one within a bounded number of batches', async () => {
    const server = await startServer({ failAbovePaddedWords: 150 });
    const logs: string[] = [];
    const embedder = dgx(server, { log: (m) => logs.push(m) });
    await embedLikeIndexer(embedder, corpus(60, 'f'));
    expect(embedder.tokenBudget).toBeLessThanOrEqual(150);

    server.setFaults({}); // the other process let go of the GPU
    server.requests.length = 0;
    const budgets: number[] = [];
    await embedLikeIndexer(embedder, corpus(1500, 'g'), () => budgets.push(embedder.tokenBudget));
    const back = budgets.indexOf(CONFIGURED.tokenBudget);
    // E.g. 135 -> 218 -> 259 -> 300: three steps of 8 batches that work.
    expect(back).toBeGreaterThan(0);
    expect(back + 1).toBeLessThanOrEqual(3 * 8);
    expect(budgets.slice(back).every((b) => b === CONFIGURED.tokenBudget)).toBe(true);
    expect(Math.max(...answered(server))).toBeGreaterThan(263);
    expect(server.requests.every((r) => r.status === 200)).toBe(true);
    expect(logs.at(-1)).toMatch(/is back to the configured at most 32 texts and 300 padded tokens per request/);
  });

  it('an out-of-memory answer at a grown size shrinks again, and the next step waits twice as long', async () => {
    const server = await startServer({ failAbovePaddedWords: 240 });
    const logs: string[] = [];
    const embedder = dgx(server, { log: (m) => logs.push(m) });
    const budgets: number[] = [];
    await embedLikeIndexer(embedder, corpus(1200, 'f'), () => budgets.push(embedder.tokenBudget));
    // Never above what failed for long: every grown budget that failed was lowered again at once.
    expect(Math.max(...answered(server))).toBeLessThanOrEqual(240);
    expect(embedder.tokenBudget).toBeLessThanOrEqual(263);
    const failures = server.requests.filter((r) => r.status === 500).length;
    expect(failures).toBeGreaterThanOrEqual(2);
    // Probing the configured size again gets rarer: 8, then 16, then 32 batches between tries.
    expect(failures).toBeLessThanOrEqual(5);
    expect(logs.join('\n')).toMatch(/they grow back after 16 batches in a row that work/);
  });
});

describe('LearnedBatchLimits as data', () => {
  it('a single text says nothing; a count that already worked lowers only the tokens', () => {
    const limits = new LearnedBatchLimits({ texts: 32, tokens: 1000, growAfter: 2 });
    expect(limits.recordOutOfMemory(1, 900)).toBeNull();
    expect(limits.needsTokens).toBe(false);
    limits.recordSuccess(32);
    expect(limits.recordOutOfMemory(32, 1000)).toEqual({ kind: 'shrunk', texts: 32, tokens: 500 });
    limits.recordSuccess(16, 500);
    limits.recordSuccess(16, 500);
    expect(limits.tokens).toBe(750);
    limits.recordSuccess(20, 700);
    expect(limits.recordSuccess(20, 700)).toEqual({ kind: 'grew', texts: 32, tokens: 875 });
    limits.recordSuccess(20, 700);
    expect(limits.recordSuccess(20, 700)).toEqual({ kind: 'recovered', texts: 32, tokens: 1000 });
    // A batch that uses less than half the limit does not count towards growing it.
    limits.recordOutOfMemory(32, 1000);
    expect(limits.tokens).toBe(700); // the largest that worked below the failure
    for (let i = 0; i < 10; i++) limits.recordSuccess(2, 20);
    expect(limits.tokens).toBe(700);
  });
});

describe("the embedding server's batcher", () => {
  it('learns the same way: out of memory lowers its budget, runs that work raise it back to the configured one', async () => {
    let memory = 100; // padded tokens the model fits while another process holds the GPU
    const batcher = new EmbeddingBatcher<{ tokens: number }, number>({
      maxTexts: 16,
      tokenBudget: 400,
      run: async (items) => {
        if (items.length * Math.max(...items.map((item) => item.tokens)) > memory) throw new CodecartoError('CUDA out of memory', { isRetryable: true });
        return items.map((item) => item.tokens);
      },
      isBatchTooLarge: (error) => error instanceof CodecartoError && error.isRetryable,
    });
    const request = () => Array.from({ length: 16 }, () => ({ tokens: 25 }));
    expect(await batcher.submit(request())).toHaveLength(16);
    expect(batcher.currentTokenBudget).toBeLessThanOrEqual(100);

    memory = Infinity;
    let submits = 0;
    while (batcher.currentTokenBudget < 400 && submits < 30) {
      expect(await batcher.submit(request())).toHaveLength(16);
      submits++;
    }
    // 100 -> 250 -> 325 -> 400, each step after 8 runs that used at least half the budget.
    expect(batcher.currentTokenBudget).toBe(400);
    expect(submits).toBeLessThanOrEqual(16);
  });
});
