import Database from 'better-sqlite3';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIndex } from '../indexer/run/run-index.js';
import { search } from '../indexer/search/search.js';
import { INDEX_DB_FILE, openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { pathTokenText, tokenText } from '../indexer/store/fts-tokens.js';
import type { IndexStore } from '../indexer/store/store-types.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import { tempDir } from './helpers/stdio-client.js';

/**
 * Guards: chunks_fts was a contentless_delete FTS5 table, whose deletes drop a row's postings but never
 * subtract it from the row count and column totals that bm25 reads, so after edits, deletes and renames an
 * incremental index scored (and could rank) chunks differently from a clean index of the same tree; and
 * chunks with equal scores came in chunk-id order, which depends on the index's history.
 */

const TOPICS = ['config', 'retry', 'cache', 'token', 'parser', 'socket', 'logger', 'router', 'session', 'metrics'];

/** A source file about `topic`, `variant` changing its content; `size` functions long. */
function source(topic: string, variant: number, size: number): string {
  const cap = topic[0].toUpperCase() + topic.slice(1);
  const fns = Array.from({ length: size }, (_, i) => {
    const other = TOPICS[(TOPICS.indexOf(topic) + i + variant) % TOPICS.length];
    const lines = Array.from({ length: 2 + ((i * 3 + variant) % 5) }, (_, l) => `  const ${other}Value${l} = read${cap}(${other}, ${l + variant});`);
    return `export function handle${cap}${i}V${variant}(${other}: ${cap}Options): void {\n${lines.join('\n')}\n  flush${cap}(${topic}Buffer, ${other}Value0);\n}\n`;
  });
  return `// ${topic} module, revision ${variant}\nimport { ${cap}Options } from './types';\n\n${fns.join('\n')}`;
}

function write(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

const QUERIES = [
  'config',
  'retry value',
  'handle cache',
  'read token',
  'parser options',
  'flush socket buffer',
  'logger',
  'router session',
  'metrics value',
  'handleConfig0V0',
  'readRetry',
  'cacheBuffer',
  'TokenOptions',
  'session flush',
  'socket read value',
  'module revision',
  'types import',
  'lib cache',
  'src router',
  'handle parser token',
  'retryValue2 loggerValue1',
];

describe('lexical ranking after incremental runs', () => {
  let repo: string;
  let incremental: IndexStore;
  let incrementalDir: string;
  let clean: IndexStore;
  const embedder = new NoneEmbedder();
  const run = (store: IndexStore) => runIndex({ root: repo, store, embedder, prepareWorkers: 0 });

  beforeAll(async () => {
    repo = join(tempDir('fts-tree'), 'repo');
    // Tree A.
    TOPICS.forEach((topic, i) => write(repo, `src/${topic}.ts`, source(topic, 0, 3 + (i % 4))));
    TOPICS.slice(0, 5).forEach((topic, i) => write(repo, `lib/${topic}-helpers.ts`, source(topic, 1, 2 + i)));
    write(repo, 'README.md', '# Demo\n\nConfig, retry and cache helpers.\n\n## Usage\n\nCall handleConfig0V0 with ConfigOptions.\n');
    incrementalDir = tempDir('fts-incremental');
    incremental = openIndexStore(incrementalDir);
    expect((await run(incremental)).state).toBe('done');

    // Tree B: edits, deletes, renames and additions, indexed incrementally.
    write(repo, 'src/config.ts', source('config', 2, 6));
    write(repo, 'src/retry.ts', source('retry', 3, 1));
    write(repo, 'lib/token-helpers.ts', source('token', 4, 7));
    rmSync(join(repo, 'src/cache.ts'));
    rmSync(join(repo, 'lib/parser-helpers.ts'));
    rmSync(join(repo, 'src/metrics.ts'));
    renameSync(join(repo, 'src/socket.ts'), join(repo, 'src/socket-client.ts'));
    mkdirSync(join(repo, 'pkg'), { recursive: true });
    renameSync(join(repo, 'src/router.ts'), join(repo, 'pkg/router.ts'));
    renameSync(join(repo, 'lib/config-helpers.ts'), join(repo, 'lib/settings.ts'));
    write(repo, 'src/cache-v2.ts', source('cache', 5, 4));
    write(repo, 'README.md', '# Demo\n\nRetry and session helpers.\n');
    const summary = await run(incremental);
    expect(summary.state).toBe('done');
    expect(summary.files_removed).toBeGreaterThanOrEqual(3);

    clean = openIndexStore(tempDir('fts-clean'));
    expect((await run(clean)).state).toBe('done');
  });

  afterAll(() => {
    incremental?.close();
    clean?.close();
  });

  it('holds the same chunks as a clean index of the same tree', () => {
    const a = incremental.counts();
    const b = clean.counts();
    expect(a.files).toBe(b.files);
    expect(a.chunks).toBe(b.chunks);
  });

  const ranked = (store: IndexStore, query: string) => {
    const hits = store.lexicalSearch(query, 200);
    const rows = new Map(store.getChunks(hits.map((h) => h.chunkId)).map((row) => [row.id, row]));
    return hits.map((h) => ({ path: rows.get(h.chunkId)!.path, start_line: rows.get(h.chunkId)!.startLine, score: h.score }));
  };

  it('ranks ~20 lexical queries exactly as the clean index: same (path, start_line, score) lists', async () => {
    let compared = 0;
    for (const query of QUERIES) {
      const fromIncremental = ranked(incremental, query);
      const fromClean = ranked(clean, query);
      expect(fromClean.length, query).toBeGreaterThan(0);
      expect(fromIncremental, query).toEqual(fromClean);
      compared += fromClean.length;
      // And what a search answers (merging, file evidence, one hit per file first) is the same too.
      const answer = async (store: IndexStore) =>
        (await search(store, embedder, { query, k: 10, mode: 'lexical' })).results.map((h) => [h.path, h.start_line, h.score]);
      expect(await answer(incremental), query).toEqual(await answer(clean));
    }
    expect(compared).toBeGreaterThan(100);
  });

  it('an index written by earlier versions (contentless_delete FTS with drifted totals) is rebuilt on open', () => {
    incremental.close();
    const db = new Database(join(incrementalDir, INDEX_DB_FILE));
    db.exec(`DROP TABLE chunks_fts;
      CREATE VIRTUAL TABLE chunks_fts USING fts5(path, symbol, body, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');`);
    const insert = db.prepare('INSERT INTO chunks_fts(rowid, path, symbol, body) VALUES (?, ?, ?, ?)');
    const rows = db.prepare('SELECT c.id AS id, f.path AS path, c.symbol AS symbol, t.text AS text FROM chunks c JOIN files f ON f.id = c.file_id JOIN texts t ON t.hash = c.text_hash').all() as { id: number; path: string; symbol: string | null; text: string }[];
    for (const row of rows) insert.run(row.id, pathTokenText(row.path), row.symbol ? tokenText(row.symbol) : '', tokenText(row.text));
    // Rows deleted since: their postings are gone, their sizes still in bm25's totals.
    for (let i = 0; i < 40; i++) insert.run(1_000_000 + i, 'old gone path', '', tokenText(source('config', 9, 8)));
    db.exec('DELETE FROM chunks_fts WHERE rowid >= 1000000');
    db.close();
    incremental = openIndexStore(incrementalDir);
    for (const query of QUERIES) expect(ranked(incremental, query), query).toEqual(ranked(clean, query));
  });
});
