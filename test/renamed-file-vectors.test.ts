import Database from 'better-sqlite3';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIndex } from '../indexer/run/run-index.js';
import { INDEX_DB_FILE, openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { EMBED_TEXT, decodeVector } from '../indexer/store/sqlite-store.js';
import type { IndexStore } from '../indexer/store/store-types.js';
import { DgxEmbedder } from '../models/dgx-embedder.js';
import { cosineSimilarity } from '../models/vector-math.js';
import { fakeEmbedding, FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { tempDir } from './helpers/stdio-client.js';

/**
 * Guards: chunks are embedded with a `path: symbol` header, but vectors were keyed by the hash of the code
 * alone, so a renamed file kept vectors embedded with its old path (and a search for the new directory's
 * name could not find it semantically). Now the key is the hash of the embedded text, header included.
 */

interface StoredChunk {
  path: string;
  startLine: number;
  embedText: string;
  vector: Float32Array;
}

/** Every chunk with its embedded text and stored vector, read from the index's SQLite file. */
function storedChunks(dataDir: string): StoredChunk[] {
  const db = new Database(join(dataDir, INDEX_DB_FILE), { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT f.path AS path, c.start_line AS startLine, ${EMBED_TEXT} AS embedText, v.vector AS vector
         FROM chunks c JOIN files f ON f.id = c.file_id JOIN texts t ON t.hash = c.text_hash
         LEFT JOIN vectors v ON v.text_hash = c.text_hash
         ORDER BY f.path, c.start_line`,
      )
      .all() as { path: string; startLine: number; embedText: string; vector: Buffer | null }[];
    return rows.map((r) => {
      expect(r.vector, `${r.path}:${r.startLine} has a vector`).not.toBeNull();
      return { ...r, vector: decodeVector(r.vector!, 256) };
    });
  } finally {
    db.close();
  }
}

describe('a renamed file', () => {
  let server: FakeEmbeddingServer;
  let embedder: DgxEmbedder;
  let repo: string;
  let incrementalDir: string;
  let incremental: IndexStore;
  let renameRun: Awaited<ReturnType<typeof runIndex>>;
  let requestsBeforeRename: number;

  beforeAll(async () => {
    server = await FakeEmbeddingServer.start({ dims: 256 });
    embedder = new DgxEmbedder({ endpoint: server.endpoint, batchSize: 16 });
    repo = join(tempDir('rename-repo'), 'repo');
    mkdirSync(join(repo, 'src', 'util'), { recursive: true });
    writeFileSync(
      join(repo, 'src', 'util', 'money.py'),
      'def round_cents(amount):\n    return round(amount * 100) / 100\n\n\ndef add_tax(amount, rate):\n    return round_cents(amount * (1 + rate))\n',
    );
    writeFileSync(join(repo, 'src', 'greet.ts'), 'export function greetUser(name: string): string {\n  return `hello ${name}`;\n}\n');
    incrementalDir = tempDir('rename-incremental');
    incremental = openIndexStore(incrementalDir);
    expect((await runIndex({ root: repo, store: incremental, embedder, prepareWorkers: 0 })).state).toBe('done');

    requestsBeforeRename = server.requests.length;
    mkdirSync(join(repo, 'billing'));
    renameSync(join(repo, 'src', 'util', 'money.py'), join(repo, 'billing', 'currency.py'));
    renameRun = await runIndex({ root: repo, store: incremental, embedder, prepareWorkers: 0 });
  });

  afterAll(async () => {
    incremental?.close();
    await embedder?.close();
    await server?.close();
  });

  it('is embedded again with its new path, and only it', () => {
    expect(renameRun).toMatchObject({ state: 'done', files_added: 1, files_removed: 1 });
    const sent = server.requests.slice(requestsBeforeRename).flatMap((r) => r.texts);
    expect(sent.length).toBe(renameRun.chunks_embedded);
    expect(sent.length).toBeGreaterThan(0);
    for (const text of sent) expect(text.startsWith('billing/currency.py')).toBe(true);
  });

  it('has the vectors a clean index of the same tree stores, which are the new header embedded', async () => {
    const cleanDir = tempDir('rename-clean');
    const clean = openIndexStore(cleanDir);
    try {
      expect((await runIndex({ root: repo, store: clean, embedder, prepareWorkers: 0 })).state).toBe('done');
    } finally {
      clean.close();
    }
    incremental.flushVectorIndex();
    const fromIncremental = storedChunks(incrementalDir);
    const fromClean = storedChunks(cleanDir);
    expect(fromIncremental.map((c) => [c.path, c.startLine, c.embedText])).toEqual(fromClean.map((c) => [c.path, c.startLine, c.embedText]));
    fromIncremental.forEach((chunk, i) => {
      expect(Buffer.from(chunk.vector.buffer).equals(Buffer.from(fromClean[i].vector.buffer)), `${chunk.path}:${chunk.startLine}`).toBe(true);
    });

    const renamed = fromIncremental.filter((c) => c.path === 'billing/currency.py');
    expect(renamed.length).toBeGreaterThan(0);
    for (const chunk of renamed) {
      expect(chunk.embedText.startsWith('billing/currency.py')).toBe(true);
      expect(chunk.embedText).not.toContain('src/util/money.py');
      expect(cosineSimilarity(chunk.vector, fakeEmbedding(chunk.embedText, 256))).toBeGreaterThan(0.99999);
      // The old header's vector is measurably another vector: the check above tells them apart.
      const oldHeader = chunk.embedText.replace('billing/currency.py', 'src/util/money.py');
      expect(cosineSimilarity(chunk.vector, fakeEmbedding(oldHeader, 256))).toBeLessThan(0.99);
    }
  });
});
