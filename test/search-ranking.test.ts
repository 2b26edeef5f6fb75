/**
 * Ranking behaviours added for issue 11 (search that beats grep on history queries): query stop words,
 * file-level evidence, and one result per file before a second from the same file.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NoneEmbedder } from '../models/none-embedder.js';
import { diversifyByFile, FILE_EVIDENCE_CHUNKS, FILE_EVIDENCE_WEIGHT, fileScores, search, type SearchHit } from '../indexer/search/search.js';
import { queryTerms, toFtsMatchExpression } from '../indexer/store/fts-tokens.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { ChunkInput, ChunkRow, IndexStore } from '../indexer/store/store-types.js';

const temps: string[] = [];
const stores: IndexStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function openStore(files: Record<string, string[]>): IndexStore {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codecarto-ranking-'));
  temps.push(dir);
  const store = openIndexStore(dir);
  stores.push(store);
  for (const [p, texts] of Object.entries(files)) {
    let line = 1;
    const chunks: ChunkInput[] = texts.map((text) => {
      const lines = text.split('\n').length;
      // A gap of 10 lines between chunks, so mergeAdjacent keeps them apart.
      const c = { language: 'typescript', symbol: null, kind: 'block', startLine: line, endLine: line + lines - 1, text, textHash: sha(p + text), embedText: text };
      line += lines + 10;
      return c;
    });
    store.upsertFile({ path: p, size: 1, mtimeMs: 1, hash: sha(p), language: 'typescript' }, chunks);
  }
  return store;
}

const row = (id: number, p: string, startLine = id * 100): ChunkRow => ({
  id,
  path: p,
  language: 'typescript',
  symbol: null,
  kind: 'block',
  startLine,
  endLine: startLine + 5,
  textHash: `h${id}`,
  text: `chunk ${id}`,
});

const hit = (p: string, score: number, startLine = 1): SearchHit => ({
  path: p,
  start_line: startLine,
  end_line: startLine + 5,
  language: 'typescript',
  symbol: null,
  kind: 'block',
  score,
  snippet: '',
});

describe('query stop words', () => {
  it('drops English function words and one-character terms from a query', () => {
    expect(queryTerms('Fix a panic in the runtime when it is shut down')).toEqual(['fix', 'panic', 'runtime', 'shut', 'down']);
    expect(queryTerms('x should be parsed')).toEqual(['parsed']);
  });

  it('drops a stop-word part of an identifier but keeps the whole identifier', () => {
    expect(queryTerms('is_empty')).toEqual(['isempty', 'empty']);
  });

  it('keeps short code words that are not function words', () => {
    expect(queryTerms('io fs os db')).toEqual(['io', 'fs', 'os', 'db']);
  });

  it('keeps every term when all of them are stop words, so such a query still searches', () => {
    expect(queryTerms('the')).toEqual(['the']);
    expect(toFtsMatchExpression('a')).toBe('"a"');
  });

  it('does not let a stop word rank a chunk that only shares it with the query', () => {
    const store = openStore({
      'docs/notes.ts': ['// the the the the of the in the to the is the'],
      'src/shutdown.ts': ['function shutdown() { /* stop workers and drain the queue before exit */ }'],
    });
    const hits = store.lexicalSearch('the shutdown of the runtime', 10);
    expect(store.getChunks(hits.map((h) => h.chunkId)).map((r) => r.path)).toEqual(['src/shutdown.ts']);
  });
});

describe('file-level evidence', () => {
  it('counts only a file\'s next FILE_EVIDENCE_CHUNKS chunks, so many weak matches cannot outrank one strong one', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ row: row(100 + i, 'long.test.ts'), score: 0.08 }));
    const scores = fileScores([{ row: row(1, 'util.ts'), score: 0.18 }, ...many]);
    expect(scores.get('long.test.ts')).toBeCloseTo(0.08 + FILE_EVIDENCE_WEIGHT * FILE_EVIDENCE_CHUNKS * 0.08, 12);
    expect(scores.get('long.test.ts')!).toBeLessThan(scores.get('util.ts')!);
  });

  it('scores a file as its best chunk plus a share of its other chunks', () => {
    const scores = fileScores([
      { row: row(1, 'a.ts'), score: 5 },
      { row: row(2, 'b.ts'), score: 6 },
      { row: row(3, 'a.ts'), score: 4 },
      { row: row(4, 'a.ts'), score: 7 },
    ]);
    expect(scores.get('a.ts')).toBeCloseTo(7 + FILE_EVIDENCE_WEIGHT * (5 + 4), 12);
    expect(scores.get('b.ts')).toBe(6);
  });

  it('ranks a file matching the query in many places above one with a single slightly better chunk', async () => {
    const store = openStore({
      'src/one.ts': ['export function retryBackoff(request) { return retry backoff jitter timeout(request) }'],
      'src/many.ts': Array.from({ length: 12 }, (_, i) => `function step${i}(x) { return retry(x) + backoff(${i}) + other${i}(x) }`),
    });
    const lexicalFirst = store.getChunks(store.lexicalSearch('retry backoff', 1).map((h) => h.chunkId))[0].path;
    expect(lexicalFirst).toBe('src/one.ts'); // the best single chunk
    const response = await search(store, new NoneEmbedder(), { query: 'retry backoff', k: 3, mode: 'lexical' });
    expect(response.results[0].path).toBe('src/many.ts');
    // Still chunks with line ranges, and the file's best chunk is the one shown.
    expect(response.results[0].end_line - response.results[0].start_line).toBe(0);
    expect(response.results[1].path).toBe('src/one.ts');
  });
});

describe('one result per file first', () => {
  it('puts every file\'s best hit before any second hit, files by file score, keeping order within a file', () => {
    const hits = [hit('a.ts', 9, 1), hit('a.ts', 8, 50), hit('a.ts', 7, 90), hit('b.ts', 6), hit('c.ts', 5)];
    const ordered = diversifyByFile(hits, new Map([['a.ts', 10], ['b.ts', 6], ['c.ts', 11]]));
    expect(ordered.map((h) => `${h.path}:${h.start_line}`)).toEqual(['c.ts:1', 'a.ts:1', 'b.ts:1', 'a.ts:50', 'a.ts:90']);
  });

  it('spreads hits over files, but a far stronger second hit of the best file takes one of the first three places', async () => {
    const store = openStore({
      'src/parser.ts': Array.from({ length: 8 }, (_, i) => `function parseToken${i}() { return parse token parse token }`),
      'src/lexer.ts': ['function lex() { return token }'],
      'src/ast.ts': ['function node() { return parse }'],
    });
    // parser.ts's second chunk scores well over 1.3x lexer's only one: it is shown before it, once.
    const response = await search(store, new NoneEmbedder(), { query: 'parse token', k: 3, mode: 'lexical' });
    expect(response.results.map((h) => h.path)).toEqual(['src/parser.ts', 'src/parser.ts', expect.stringMatching(/^src\/(lexer|ast)\.ts$/)]);
    const more = await search(store, new NoneEmbedder(), { query: 'parse token', k: 5, mode: 'lexical' });
    expect(more.results.slice(0, 4).map((h) => h.path).sort()).toEqual(['src/ast.ts', 'src/lexer.ts', 'src/parser.ts', 'src/parser.ts']);
    expect(more.results[4].path).toBe('src/parser.ts');
  });

  it("returns k distinct files when the other files match about as well as the best one's second chunk", async () => {
    const store = openStore({
      'src/parser.ts': Array.from({ length: 8 }, (_, i) => `function parseToken${i}() { return parse token parse token }`),
      'src/lexer.ts': ['function lexToken() { return parse token parse token }'],
      'src/ast.ts': ['function astToken() { return parse token parse token }'],
    });
    const response = await search(store, new NoneEmbedder(), { query: 'parse token', k: 3, mode: 'lexical' });
    expect(response.results.map((h) => h.path).sort()).toEqual(['src/ast.ts', 'src/lexer.ts', 'src/parser.ts']);
  });
});
