/**
 * Issue 18.1, ranking for questions in plain words: word forms meet (porter stemming in chunks_fts), and an
 * index written before stemming is rebuilt on open. docs/quality.md ("Ranking for plain-word questions")
 * measures each step on the developer-question benchmark.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pathTokenText, tokenText } from '../indexer/store/fts-tokens.js';
import { INDEX_DB_FILE, openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { ChunkInput, IndexStore } from '../indexer/store/store-types.js';
import { tempDir } from './helpers/stdio-client.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const stores: IndexStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

function chunk(symbol: string, kind: string, startLine: number, text: string): ChunkInput {
  return { language: 'python', symbol, kind, startLine, endLine: startLine + text.split('\n').length - 1, text, textHash: sha(text), embedText: text };
}

const CONTEXT_PY = [
  chunk('AppContext', 'class', 1, 'class AppContext:\n    """Holds the app while a request is handled."""'),
  chunk('AppContext.push', 'method', 5, 'def push(self) -> None:\n    _cv_app.set(self)\n    self._tokens.append(self)'),
];

describe('word forms meet (porter stemming)', () => {
  it('"pushed" finds the push method in a store', () => {
    const store = openIndexStore(tempDir('words-store'));
    stores.push(store);
    store.upsertFile({ path: 'src/ctx.py', size: 1, mtimeMs: 1, hash: 'h', language: 'python' }, CONTEXT_PY);
    const found = store.getChunks(store.lexicalSearch('where is it pushed', 10).map((h) => h.chunkId));
    expect(found.map((row) => row.symbol)).toContain('AppContext.push');
  });

  it('an index whose FTS table was written without stemming is rebuilt on open, so stemmed queries find its rows', () => {
    const dir = tempDir('words-migrate');
    const store = openIndexStore(dir);
    store.upsertFile({ path: 'src/ctx.py', size: 1, mtimeMs: 1, hash: 'h', language: 'python' }, CONTEXT_PY);
    store.close();
    // What earlier versions wrote: the same columns and tokens, no porter stage.
    const db = new Database(join(dir, INDEX_DB_FILE));
    db.exec(`DROP TABLE chunks_fts;
      CREATE VIRTUAL TABLE chunks_fts USING fts5(path, symbol, body, tokenize = 'unicode61 remove_diacritics 2');`);
    const insert = db.prepare('INSERT INTO chunks_fts(rowid, path, symbol, body) VALUES (?, ?, ?, ?)');
    const rows = db.prepare('SELECT c.id AS id, f.path AS path, c.symbol AS symbol, t.text AS text FROM chunks c JOIN files f ON f.id = c.file_id JOIN texts t ON t.hash = c.text_hash').all() as { id: number; path: string; symbol: string; text: string }[];
    for (const row of rows) insert.run(row.id, pathTokenText(row.path), tokenText(row.symbol), tokenText(row.text));
    expect(db.prepare(`SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH '"pushed"'`).pluck().get()).toBe(0);
    db.close();

    const reopened = openIndexStore(dir);
    stores.push(reopened);
    const found = reopened.getChunks(reopened.lexicalSearch('pushed', 10).map((h) => h.chunkId));
    expect(found.map((row) => row.symbol)).toContain('AppContext.push');
    const check = new Database(join(dir, INDEX_DB_FILE), { readonly: true });
    try {
      expect(check.prepare("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").pluck().get()).toMatch(/porter/);
      expect(check.prepare('SELECT count(*) FROM chunks_fts').pluck().get()).toBe(rows.length);
    } finally {
      check.close();
    }
  });
});
