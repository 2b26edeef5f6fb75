/**
 * Issue 20.2: a watcher's run looks only at the paths its file events named (runIndex changedPaths,
 * walkPaths), by the walker's own rules, and leaves the same index as a clean full walk. Real watcher
 * (fs.watch per directory), real temp tree, real SQLite + HNSW, a real embedding server on 127.0.0.1.
 */
import { mkdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runIndex } from '../indexer/run/run-index.js';
import type { IndexSummary } from '../indexer/run/index-summary.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { IndexStore } from '../indexer/store/store-types.js';
import { WalkStats } from '../indexer/walk/walker.js';
import { ProjectWatcher } from '../indexer/watch/project-watcher.js';
import { DgxEmbedder } from '../models/dgx-embedder.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { pollUntil } from './helpers/in-process.js';
import { tempDir } from './helpers/stdio-client.js';

const WORDS = 'parse render cache token batch vector shard merge split queue retry budget header symbol ledger invoice parcel route socket'.split(' ');
let clock = 1_700_000_000;
let serial = 0;

function fn(seed: number): string {
  const n = ++serial;
  const [a, b, c] = [WORDS[seed % WORDS.length], WORDS[(seed * 7 + 3) % WORDS.length], WORDS[(seed * 13 + 5) % WORDS.length]];
  return `def ${a}_${b}_${n}(item):\n    """${a} ${b} ${c} step ${n}"""\n    return item.${c}(${n})\n`;
}

/** Writes a file with a file time that only moves forward, so size + mtime always show the change. */
function put(root: string, path: string, text: string): void {
  const abs = join(root, path);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
  clock += 10;
  utimesSync(abs, clock, clock);
}

function makeTree(files: number): string {
  const root = join(tempDir('changed-paths'), 'repo');
  for (let i = 0; i < files; i++) put(root, `${['core', 'api', 'util'][i % 3]}/m${i}.py`, `${fn(i)}\n\n${fn(i + 1)}`);
  put(root, '.gitignore', 'gen/\n');
  put(root, 'gen/out.py', fn(99));
  return root;
}

describe('watcher runs over changed paths', () => {
  let server: FakeEmbeddingServer;
  let embedder: DgxEmbedder;
  const cleanups: (() => void | Promise<void>)[] = [];

  beforeAll(async () => {
    server = await FakeEmbeddingServer.start({ dims: 32 });
    embedder = new DgxEmbedder({ endpoint: server.endpoint, batchSize: 8 });
  });
  afterAll(async () => {
    await embedder?.close();
    await server?.close();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function open(dataDir: string): IndexStore {
    const store = openIndexStore(dataDir);
    cleanups.push(() => store.close());
    return store;
  }

  /** Every chunk's location with its score (ids differ between indexes; locations do not). */
  function located(store: IndexStore, hits: { chunkId: number; score: number }[]): Map<string, number> {
    const rows = new Map(store.getChunks(hits.map((h) => h.chunkId)).map((r) => [r.id, `${r.path}:${r.startLine}-${r.endLine}`]));
    return new Map(hits.map((h) => [rows.get(h.chunkId) as string, h.score]));
  }

  async function expectSameAsClean(root: string, store: IndexStore, what: string): Promise<void> {
    const clean = open(tempDir('changed-paths-clean'));
    expect((await runIndex({ root, store: clean, embedder, prepareWorkers: 0 })).state).toBe('done');
    expect(store.counts(), what).toEqual(clean.counts());
    expect([...store.listFiles().keys()].sort(), what).toEqual([...clean.listFiles().keys()].sort());
    for (const query of ['parse cache', 'vector shard merge', 'retry budget', 'ledger', 'socket route header']) {
      const lexical = [store, clean].map((s) => located(s, s.lexicalSearch(query, 1000)));
      expect([...lexical[0].entries()].sort(), `${what}: lexical "${query}"`).toEqual([...lexical[1].entries()].sort());
      const [vector] = (await embedder.embed({ texts: [query], purpose: 'query' })).embeddings;
      const semantic = [store, clean].map((s) => located(s, s.semanticSearch(vector, 1000)));
      expect([...semantic[0].keys()].sort(), `${what}: semantic "${query}"`).toEqual([...semantic[1].keys()].sort());
      for (const [key, score] of semantic[0]) expect(Math.abs(score - (semantic[1].get(key) as number)), key).toBeLessThan(1e-5);
    }
  }

  it('edit, create, delete, rename and a new directory run over their paths alone; a .gitignore change walks; each leaves a clean index', async () => {
    const root = makeTree(12);
    const store = open(tempDir('changed-paths-index'));
    expect((await runIndex({ root, store, embedder, prepareWorkers: 0 })).state).toBe('done');
    const runs: { paths: readonly string[] | null; summary: IndexSummary; looked: number }[] = [];
    const watcher = new ProjectWatcher({
      root,
      skip: [],
      setting: 'directories',
      countStale: async () => 0,
      run: async (paths) => {
        const walkStats = new WalkStats();
        const done = runIndex({ root, store, embedder, prepareWorkers: 0, changedPaths: paths, walkStats }).then((summary) => {
          runs.push({ paths, summary, looked: walkStats.looked });
          return summary;
        });
        return { joined: false, done };
      },
      log: () => {},
      quietMs: 150,
      maxWaitMs: 1_000,
    });
    cleanups.push(() => watcher.close());
    await pollUntil(async () => watcher.watching, (w) => w === 'events', 10_000, 20);
    // A scan that is still settling (the first checkOnce) must not be mistaken for a step's run.
    await new Promise((r) => setTimeout(r, 300));

    const step = async (what: string, change: () => void, expected: string[] | null) => {
      const before = runs.length;
      change();
      const run = await pollUntil(async () => runs[before], (r) => r !== undefined, 15_000, 20);
      await pollUntil(async () => watcher.pending, (p) => !p, 15_000, 20);
      expect(run.summary.state, what).toBe('done');
      expect(run.paths === null ? null : [...run.paths].sort(), what).toEqual(expected);
      if (expected) expect(run.looked, `${what}: entries looked at`).toBeLessThanOrEqual(expected.length + 3);
      else expect(run.looked, `${what}: a walk looks at every entry`).toBeGreaterThan(12);
      await expectSameAsClean(root, store, what);
    };

    await step('edit', () => put(root, 'core/m0.py', `${fn(0)}\n\n${fn(5)}\n\n${fn(6)}`), ['core/m0.py']);
    expect(runs.at(-1)?.summary.files_changed).toBe(1);
    await step('create', () => put(root, 'api/fresh.py', fn(7)), ['api/fresh.py']);
    expect(runs.at(-1)?.summary.files_added).toBe(1);
    await step('delete', () => rmSync(join(root, 'util/m2.py')), ['util/m2.py']);
    expect(runs.at(-1)?.summary.files_removed).toBe(1);
    await step('rename', () => renameSync(join(root, 'core/m3.py'), join(root, 'api/moved.py')), ['api/moved.py', 'core/m3.py']);
    // A directory made with its files before its watch exists: the run walks that subtree.
    await step(
      'new directory',
      () => {
        mkdirSync(join(root, 'pkg', 'deep'), { recursive: true });
        put(root, 'pkg/deep/one.py', fn(8));
        put(root, 'pkg/two.py', fn(9));
      },
      ['pkg'],
    );
    // An ignore file changes what every path means: the run walks the tree.
    await step('.gitignore', () => put(root, '.gitignore', 'gen/\napi/\n'), null);
    expect(store.listFiles().has('api/moved.py')).toBe(false);
  }, 120_000);

  it('looks at the changed paths alone, with the walk rules: ignored, secret, too large, gone, a directory', async () => {
    const root = makeTree(40);
    const store = open(tempDir('changed-paths-rules'));
    const full = new WalkStats();
    expect((await runIndex({ root, store, embedder, prepareWorkers: 0, walkStats: full })).state).toBe('done');
    expect(full.looked).toBeGreaterThan(40);

    put(root, 'core/m0.py', `${fn(1)}\n\n${fn(2)}\n\n${fn(3)}`);
    const one = new WalkStats();
    const edited = await runIndex({ root, store, embedder, prepareWorkers: 0, changedPaths: ['core/m0.py'], walkStats: one });
    expect(edited.error ?? edited.state).toBe('done');
    expect(edited.files_changed).toBe(1);
    // One entry looked at, not the 43 a walk stats.
    expect(one.looked).toBe(1);
    expect(edited.files_scanned).toBe(1);

    put(root, 'gen/new.py', fn(4)); // ignored by .gitignore
    put(root, 'core/.env', 'TOKEN=x\n'); // a secret by name
    put(root, 'core/big.py', `x = 1\n${'#'.repeat(2_000)}\n`);
    rmSync(join(root, 'api/m1.py'));
    put(root, 'lib/a/b.py', fn(5));
    const rules = await runIndex({
      root,
      store,
      embedder,
      prepareWorkers: 0,
      maxFileBytes: 1_000,
      changedPaths: ['gen/new.py', 'core/.env', 'core/big.py', 'api/m1.py', 'lib', 'node_modules/x.py'],
    });
    expect(rules.state).toBe('done');
    const files = store.listFiles();
    expect(files.has('gen/new.py')).toBe(false);
    expect(files.has('core/.env')).toBe(false);
    expect(files.has('core/big.py')).toBe(false);
    expect(files.has('api/m1.py')).toBe(false);
    expect(files.has('lib/a/b.py')).toBe(true);
    expect(rules.files_removed).toBe(1);
    // The same tree walked whole gives the same catalog.
    const clean = open(tempDir('changed-paths-rules-clean'));
    await runIndex({ root, store: clean, embedder, prepareWorkers: 0, maxFileBytes: 1_000 });
    expect([...files.keys()].sort()).toEqual([...clean.listFiles().keys()].sort());
  }, 60_000);
});
