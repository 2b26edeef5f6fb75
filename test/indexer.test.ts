import { mkdirSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIndex } from '../indexer/run/run-index.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { IndexStore } from '../indexer/store/store-types.js';
import { DgxEmbedder } from '../models/dgx-embedder.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { tempDir } from './helpers/stdio-client.js';

/** A small repository whose files each hold distinct functions. */
function makeRepo(): string {
  const repo = join(tempDir('idx'), 'repo');
  mkdirSync(join(repo, 'src'), { recursive: true });
  writeFileSync(join(repo, 'src', 'math.py'), 'def add(a, b):\n    return a + b\n\n\ndef multiply_numbers(a, b):\n    total = 0\n    for _ in range(b):\n        total += a\n    return total\n');
  writeFileSync(join(repo, 'src', 'greet.ts'), 'export function greetUser(name: string): string {\n  return `hello ${name}`;\n}\n');
  writeFileSync(join(repo, 'README.md'), '# Demo\n\nA demo repository.\n\n## Usage\n\nRun it.\n');
  return repo;
}

describe('incremental index runs', () => {
  let server: FakeEmbeddingServer;
  let store: IndexStore;
  let repo: string;
  let embedder: DgxEmbedder;

  beforeAll(async () => {
    server = await FakeEmbeddingServer.start({ dims: 64 });
    repo = makeRepo();
    store = openIndexStore(tempDir('idx-data'));
    embedder = new DgxEmbedder({ endpoint: server.endpoint, batchSize: 8 });
  });
  afterAll(async () => {
    store.close();
    await embedder.close();
    await server.close();
  });

  const run = (extra: { full?: boolean } = {}) => runIndex({ root: repo, store, embedder, ...extra });
  const embeddedTexts = (since: number) => server.requests.slice(since).flatMap((r) => r.texts);

  it('first run embeds every chunk once and stores every vector', async () => {
    const summary = await run();
    expect(summary.state).toBe('done');
    expect(summary.files_added).toBe(3);
    expect(summary.chunks_embedded).toBe(summary.chunks_total);
    expect(summary.chunks_reused).toBe(0);
    expect(store.counts().chunksWithVectors).toBe(summary.chunks_total);
    expect(store.getModel()).toEqual({ modelId: 'dgx:nvidia/NV-Embed-v2', dims: 64, distance: 'cosine' });
    // Every embedded text starts with its one-line header.
    expect(embeddedTexts(0).some((t) => t.startsWith('src/greet.ts: greetUser\n'))).toBe(true);
  });

  it('a run with no change reads nothing and embeds nothing', async () => {
    const before = server.requests.length;
    const summary = await run();
    expect(summary).toMatchObject({ state: 'done', files_scanned: 3, files_added: 0, files_changed: 0, files_removed: 0, chunks_embedded: 0 });
    expect(server.requests.length).toBe(before);
  });

  it('a touched file with the same content embeds nothing', async () => {
    const file = join(repo, 'src', 'greet.ts');
    const { readFileSync, utimesSync } = await import('node:fs');
    writeFileSync(file, readFileSync(file));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const summary = await run();
    expect(summary.files_changed).toBe(0);
    expect(summary.chunks_embedded).toBe(0);
  });

  it('a renamed file is embedded again under its new path (the header is part of what is embedded), and nothing else is', async () => {
    const before = server.requests.length;
    renameSync(join(repo, 'src', 'math.py'), join(repo, 'src', 'arithmetic.py'));
    const summary = await run();
    expect(summary).toMatchObject({ files_added: 1, files_removed: 1, chunks_reused: 0 });
    expect(summary.chunks_embedded).toBeGreaterThan(0);
    expect(embeddedTexts(before)).toHaveLength(summary.chunks_embedded);
    expect(embeddedTexts(before).every((t) => t.startsWith('src/arithmetic.py'))).toBe(true);
    const hits = store.getChunks(store.lexicalSearch('multiply numbers', 5).map((h) => h.chunkId));
    expect(hits[0].path).toBe('src/arithmetic.py');
  });

  it('an edit embeds only the changed chunk; a removal drops chunks, FTS rows and vectors', async () => {
    const before = server.requests.length;
    appendFileSync(join(repo, 'src', 'greet.ts'), '\nexport function farewellUser(name: string): string {\n  return `goodbye ${name}, see you soon`;\n}\n');
    const edited = await run();
    expect(edited.files_changed).toBe(1);
    expect(edited.chunks_embedded).toBeGreaterThanOrEqual(1);
    expect(embeddedTexts(before).every((t) => t.includes('farewellUser'))).toBe(true);

    rmSync(join(repo, 'src', 'arithmetic.py'));
    const removed = await run();
    expect(removed.files_removed).toBe(1);
    expect(removed.chunks_deleted).toBeGreaterThan(0);
    expect(store.lexicalSearch('multiply numbers', 5)).toEqual([]);
    const counts = store.counts();
    expect(counts.vectors).toBe(counts.texts);
    expect(counts.chunksWithVectors).toBe(counts.chunks);
  });

  it('full: true re-embeds everything', async () => {
    const summary = await run({ full: true });
    expect(summary.chunks_embedded).toBe(store.counts().texts);
  });

  it('another model never mixes vectors: the index is re-embedded with the new one', async () => {
    const other = new DgxEmbedder({ endpoint: server.endpoint, batchSize: 8, model: 'another/model' });
    try {
      const summary = await runIndex({ root: repo, store, embedder: other });
      expect(summary.state).toBe('done');
      expect(summary.chunks_embedded).toBe(store.counts().texts);
      expect(store.getModel()?.modelId).toBe('dgx:another/model');
    } finally {
      await other.close();
    }
  });
});

describe('a failing endpoint', () => {
  it('a server that goes away fails the run with a message naming it, keeps what was stored, and the next run embeds only the rest', async () => {
    const server = await FakeEmbeddingServer.start({ dims: 64, stallMs: 50 });
    const repo = join(tempDir('refuse'), 'repo');
    mkdirSync(repo, { recursive: true });
    for (let i = 0; i < 40; i++) writeFileSync(join(repo, `f${i}.py`), `def function_${i}(x):\n    return x * ${i} + ${i * 7}\n`);
    const store = openIndexStore(tempDir('refuse-data'));
    const embedder = new DgxEmbedder({ endpoint: server.endpoint, batchSize: 4, maxParallelCalls: 1, retryWindowMs: 300, backoff: { initialMs: 20, maxMs: 50, factor: 2 } });
    try {
      let stopped = false;
      const summary = await runIndex({
        root: repo,
        store,
        embedder,
        onProgress: (s) => {
          if (!stopped && s.chunks_embedded >= 8) {
            stopped = true;
            void server.refuseFor(60_000);
          }
        },
      });
      expect(summary.state).toBe('failed');
      expect(summary.error).toContain(server.endpoint);
      const stored = store.counts().chunksWithVectors;
      expect(stored).toBeGreaterThanOrEqual(8);
      expect(stored).toBeLessThan(40);
      expect(summary.error).toMatch(/the next index embeds only the \d+ still missing/);

      // The server is back: only the rest is embedded.
      await server.close();
      const again = await FakeEmbeddingServer.start({ dims: 64 });
      const next = new DgxEmbedder({ endpoint: again.endpoint, batchSize: 4 });
      const resumed = await runIndex({ root: repo, store, embedder: next });
      expect(resumed.state).toBe('done');
      expect(resumed.chunks_embedded).toBe(40 - stored);
      expect(store.counts().chunksWithVectors).toBe(40);
      await next.close();
      await again.close();
    } finally {
      store.close();
      await embedder.close();
    }
  });
});

describe('a server that crashes on large batches', () => {
  it('splits the batch that killed it, waits for the restart, and stores every vector', async () => {
    const server = await FakeEmbeddingServer.start({ dims: 64, crashAboveTexts: 16, crashAfterMs: 1100, restartMs: 300 });
    const repo = join(tempDir('crash'), 'repo');
    mkdirSync(repo, { recursive: true });
    for (let i = 0; i < 30; i++) writeFileSync(join(repo, `f${i}.py`), `def function_${i}(x):\n    return x * ${i} + ${i * 7}\n`);
    const store = openIndexStore(tempDir('crash-data'));
    const logs: string[] = [];
    const embedder = new DgxEmbedder({ endpoint: server.endpoint, batchSize: 32, maxParallelCalls: 1, backoff: { initialMs: 50, maxMs: 200, factor: 2 }, log: (m) => logs.push(m) });
    try {
      const summary = await runIndex({ root: repo, store, embedder });
      expect(summary.state).toBe('done');
      expect(store.counts().chunksWithVectors).toBe(30);
      expect(server.requests.some((r) => r.status === -1 && r.texts.length > 16)).toBe(true);
      expect(embedder.maxBatchSize).toBeLessThanOrEqual(16);
      expect(logs.join('\n')).toMatch(/failed on large batches/);
    } finally {
      store.close();
      await embedder.close();
      await server.close();
    }
  });
});
