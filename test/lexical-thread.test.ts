/**
 * Hybrid search's lexical half runs on a worker thread with its own read-only connection (LexicalThread),
 * while the main thread searches the vector graph (issue 20.4). It must answer exactly what lexicalSearch
 * answers, fall back to the caller's thread whenever the worker cannot answer, and let close() leave the
 * database at rest (the worker's connection closed first, so the write-ahead log is removed).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LexicalThread } from '../indexer/store/lexical-thread.js';
import { INDEX_DB_FILE, openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { ChunkInput, IndexStore } from '../indexer/store/store-types.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function chunk(text: string, line: number, symbol: string | null = null): ChunkInput {
  return { language: 'typescript', symbol, kind: symbol ? 'function' : 'block', startLine: line, endLine: line, text, textHash: sha(text), embedText: text };
}

function filledStore(): { store: IndexStore; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codecarto-lexical-thread-'));
  temps.push(dir);
  const store = openIndexStore(dir);
  const words = ['parse', 'config', 'request', 'session', 'redirect', 'cookie', 'header', 'render', 'template', 'signal'];
  for (let f = 0; f < 20; f++) {
    const chunks = Array.from({ length: 10 }, (_, i) => chunk(`function ${words[(f + i) % 10]}${words[(f * 3 + i) % 10]}() { return ${words[i]} + ${f}; }`, i + 1, `${words[(f + i) % 10]}${f}_${i}`));
    store.upsertFile({ path: `src/${f % 2 ? 'lib' : 'app'}/file${f}.ts`, size: 1, mtimeMs: 1, hash: sha(String(f)), language: 'typescript' }, chunks);
  }
  return { store, dir };
}

describe('lexical search on a worker thread (issue 20.4)', () => {
  it('answers what lexicalSearch answers, with and without a filter, and close() leaves no write-ahead log', async () => {
    const { store, dir } = filledStore();
    for (const query of ['parse config', 'session redirect cookie', 'render the template', 'signal', 'nothing-matches-this']) {
      for (const k of [1, 10, 100]) expect(await store.lexicalSearchSoon!(query, k, undefined, Promise.resolve(null))).toEqual({ hits: store.lexicalSearch(query, k), exact: null });
    }
    const filter = { pathFilter: (p: string) => p.startsWith('src/lib/') };
    expect(await store.lexicalSearchSoon!('parse config', 10, filter, Promise.resolve(null))).toEqual({ hits: store.lexicalSearch('parse config', 10, filter), exact: null });
    expect(existsSync(path.join(dir, `${INDEX_DB_FILE}-wal`))).toBe(true);
    store.close();
    expect(existsSync(path.join(dir, `${INDEX_DB_FILE}-wal`))).toBe(false);
  });

  it('with the query vector, also gives the exact scores scoreChunks gives for those hits', async () => {
    const { store } = filledStore();
    store.setModel({ modelId: 'test-model', dims: 8, distance: 'cosine' });
    const pending = store.pendingTexts();
    store.putVectors(pending.map((p, i) => ({ textHash: p.textHash, vector: Float32Array.from({ length: 8 }, (_, d) => Math.sin(i * 7 + d)) })));
    const query = Float32Array.from({ length: 8 }, (_, d) => Math.cos(d));
    let resolveVector: (v: Float32Array) => void = () => {};
    const vector = new Promise<Float32Array>((r) => (resolveVector = r));
    const soon = store.lexicalSearchSoon!('session redirect cookie', 50, undefined, vector);
    resolveVector(query);
    const { hits, exact } = await soon;
    expect(hits).toEqual(store.lexicalSearch('session redirect cookie', 50));
    expect(exact).toEqual(store.scoreChunks(query, hits.map((h) => h.chunkId)));
    expect(exact!.length).toBe(hits.length);
    store.close();
  });

  it('runs the query on the worker, and on the caller\'s thread when the worker cannot answer', async () => {
    const { store, dir } = filledStore();
    const file = path.join(dir, INDEX_DB_FILE);
    const onThisThread: string[][] = [];
    const fromHere = (terms: string[]) => {
      onThisThread.push(terms);
      return [{ id: -1, score: 0, path: 'here', language: 'none' }];
    };
    const thread = new LexicalThread(file, fromHere);
    const { rows } = await thread.lexical(['parse'], 5);
    expect(rows.length).toBe(5);
    expect(onThisThread).toEqual([]);
    thread.close();
    const here = { rows: [{ id: -1, score: 0, path: 'here', language: 'none' }], exact: null };
    // Closed: every later query answers here.
    expect(await thread.lexical(['parse'], 5)).toEqual(here);
    // A worker that cannot open its database dies; the query waiting on it is answered here.
    const broken = new LexicalThread(path.join(dir, 'missing.db'), fromHere);
    expect(await broken.lexical(['config'], 3)).toEqual(here);
    expect(onThisThread).toEqual([['parse'], ['config']]);
    broken.close();
    store.close();
  });
});
