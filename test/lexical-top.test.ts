import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { ChunkInput, IndexStore } from '../indexer/store/store-types.js';

// Lexical search ranks by bm25 in FTS5 first and joins only the winners (SqliteStore.lexicalTop); these
// pin the order the single statement gives (bm25, then path by UTF-8 bytes, then line) where that is easy
// to get wrong: equal bm25 across the cut, and paths JavaScript orders differently from SQLite.

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const dirs: string[] = [];
const stores: IndexStore[] = [];

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(): IndexStore {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codecarto-lexical-top-'));
  dirs.push(dir);
  const s = openIndexStore(dir);
  stores.push(s);
  return s;
}

function chunk(text: string, startLine: number): ChunkInput {
  return { language: 'typescript', symbol: null, kind: 'block', startLine, endLine: startLine, text, textHash: sha(text), embedText: text };
}

function put(s: IndexStore, p: string, chunks: ChunkInput[]): void {
  s.upsertFile({ path: p, size: 1, mtimeMs: 1, hash: sha(p), language: 'typescript' }, chunks);
}

const paths = (s: IndexStore, query: string, k: number) =>
  s.lexicalSearch(query, k).map((h) => {
    const row = s.getChunks([h.chunkId])[0];
    return `${row.path}:${row.startLine}`;
  });

describe('lexical ranking ties', () => {
  it('orders equal bm25 by path and line, whatever the cut and the insertion order', () => {
    const s = store();
    // Inserted in reverse path order, so chunk ids run against the expected order.
    for (let i = 29; i >= 0; i--) put(s, `src/m${String(i).padStart(2, '0')}.ts`, [chunk('retry the request', 9), chunk('retry the request later', 3)]);
    put(s, 'src/zz.ts', [chunk('retry retry retry', 1)]);
    const all = paths(s, 'retry', 1000);
    expect(all[0]).toBe('src/zz.ts:1');
    expect(all).toHaveLength(61);
    // Same bm25 for all 30 'retry the request' chunks: by path; the longer texts score lower, also by path.
    expect(all.slice(1, 4)).toEqual(['src/m00.ts:9', 'src/m01.ts:9', 'src/m02.ts:9']);
    expect(all.slice(31, 33)).toEqual(['src/m00.ts:3', 'src/m01.ts:3']);
    // Any cut through the tie gives the head of the full order.
    for (const k of [1, 2, 5, 16, 31, 32, 45, 60, 61]) expect(paths(s, 'retry', k)).toEqual(all.slice(0, k));
  });

  it('orders paths by their UTF-8 bytes, as SQLite compares them', () => {
    const s = store();
    // UTF-16 puts the emoji (a surrogate pair) before the fullwidth z; UTF-8 puts it after. Each path is
    // three tokens (the emoji separates), so the bm25 scores are equal.
    for (const p of ['d/x😀.ts', 'd/xｚ.ts', 'd/xü.ts', 'd/xz.ts']) put(s, p, [chunk('parse the header', 1)]);
    expect(paths(s, 'parse', 10)).toEqual(['d/xz.ts:1', 'd/xü.ts:1', 'd/xｚ.ts:1', 'd/x😀.ts:1']);
    expect(paths(s, 'parse', 3)).toEqual(['d/xz.ts:1', 'd/xü.ts:1', 'd/xｚ.ts:1']);
  });
});
