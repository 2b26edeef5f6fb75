/**
 * Lexical search on a large index scores the rows of a query's rarer terms, not every row a common word
 * matches (SqliteStore.lexicalRareFirst, issue 20.4): what it returns is scored exactly as the plain bm25
 * query scores it, and rows holding only the common words are what it leaves out.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INDEX_DB_FILE, openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { ChunkInput, IndexStore } from '../indexer/store/store-types.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function chunk(text: string, line: number): ChunkInput {
  return { language: 'typescript', symbol: null, kind: 'block', startLine: line, endLine: line, text, textHash: sha(text), embedText: text };
}

let dir: string;
let store: IndexStore;
let db: Database.Database;

/** The plain query: every matching row scored by bm25, ties by path and line (what lexicalSearch returned before the split). */
function exactTop(terms: string[], limit: number): { id: number; score: number }[] {
  return (
    db
      .prepare(
        `SELECT c.id AS id, -bm25(chunks_fts, 4.0, 3.0, 1.0) AS score FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id
         WHERE chunks_fts MATCH ? ORDER BY score DESC, f.path, c.start_line LIMIT ?`,
      )
      .all(terms.map((t) => `"${t}"`).join(' OR '), limit) as { id: number; score: number }[]
  );
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'codecarto-rare-first-'));
  store = openIndexStore(dir);
  // 6,000 rows say "widget" (more than the 5,000 scored at most), 300 of them also "sprocket", 40 "gizmo" too.
  for (let f = 0; f < 60; f++) {
    const chunks = Array.from({ length: 100 }, (_, i) => {
      const n = f * 100 + i;
      const words = ['widget', `filler${n}`, ...(n % 20 === 0 ? ['sprocket'] : []), ...(n % 150 === 0 ? ['gizmo', 'gizmo'] : []), ...Array(n % 7).fill('pad')];
      return chunk(words.join(' '), i + 1);
    });
    store.upsertFile({ path: `src/part${f}.ts`, size: 1, mtimeMs: 1, hash: sha(String(f)), language: 'typescript' }, chunks);
  }
  db = new Database(path.join(dir, INDEX_DB_FILE), { readonly: true });
});

afterAll(() => {
  db.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('lexical search past 5,000 matching rows (issue 20.4)', () => {
  it('scores the rare terms\' rows exactly as the plain query does, every term counted, best first', () => {
    const got = store.lexicalSearch('widget sprocket gizmo', 100);
    expect(got).toHaveLength(100);
    const exact = new Map(exactTop(['widget', 'sprocket', 'gizmo'], 10_000).map((r) => [r.id, r.score]));
    for (const hit of got) expect(hit.score).toBeCloseTo(exact.get(hit.chunkId) as number, 9);
    for (let i = 1; i < got.length; i++) expect(got[i - 1].score).toBeGreaterThanOrEqual(got[i].score);
    // The plain query's first 100 are these rows: those with "gizmo" first, then "sprocket".
    expect(got.map((h) => h.chunkId)).toEqual(exactTop(['widget', 'sprocket', 'gizmo'], 100).map((r) => r.id));
  });

  it('leaves out rows that hold only the common word; with too few rare rows it scores every match', () => {
    const got = store.lexicalSearch('widget gizmo', 100);
    // 40 rows hold "gizmo": too few to fill 100, so the plain query answers (widget-only rows fill the rest).
    expect(got.map((h) => h.chunkId)).toEqual(exactTop(['widget', 'gizmo'], 100).map((r) => r.id));
    const few = store.lexicalSearch('widget gizmo', 30);
    expect(few.map((h) => h.chunkId)).toEqual(exactTop(['widget', 'gizmo'], 30).map((r) => r.id));
    const withSprocket = store.lexicalSearch('widget sprocket', 200);
    const texts = new Map(store.getChunks(withSprocket.map((h) => h.chunkId)).map((r) => [r.id, r.text]));
    expect(withSprocket).toHaveLength(200);
    expect(withSprocket.every((h) => (texts.get(h.chunkId) as string).includes('sprocket'))).toBe(true);
  });
});
