/**
 * Issue 6, item 4: hostile trees. One generated repository holds every kind of file that has broken
 * code indexers elsewhere; it is indexed end to end through the MCP tools (in-process client, provider
 * dgx against a real HTTP fake GPU server) and what a caller can find, and what the summary counts as
 * skipped and why, is asserted. A second suite indexes a repository of 100k+ files.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runIndex } from '../indexer/run/run-index.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { IndexStore } from '../indexer/store/store-types.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import { connectInProcess } from './helpers/in-process.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { tempDir } from './helpers/stdio-client.js';

type Structured = Record<string, any>;
type ToolResult = { isError?: boolean; content: { text: string }[]; structuredContent: Structured };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A temp directory removed after the test (permissions restored first, for non-root runs). */
function scratch(prefix: string): string {
  const dir = tempDir(prefix);
  cleanups.push(() => {
    try {
      execFileSync('chmod', ['-R', 'u+rwx', dir]);
    } catch {
      // best effort: a FIFO or dangling link does not stop the removal below
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

async function connect(): Promise<Client> {
  const session = await connectInProcess({ home: scratch('home') });
  cleanups.push(session.close);
  return session.client;
}

/** Every call must succeed: a hostile tree is never a reason for an isError result. */
async function call(client: Client, name: string, args: Record<string, unknown> = {}, timeout = 120_000): Promise<ToolResult> {
  const result = (await client.callTool({ name, arguments: args }, undefined, { timeout })) as ToolResult;
  expect(result.isError, `${name} ${JSON.stringify(args)}: ${result.content?.[0]?.text}`).toBeFalsy();
  return result;
}

/** Paths of lexical hits for one word (a single lowercase token, so it can only match itself). */
async function lexicalPaths(client: Client, word: string): Promise<string[]> {
  const result = await call(client, 'search', { query: word, mode: 'lexical', k: 20 });
  return (result.structuredContent.results as { path: string }[]).map((r) => r.path);
}

/** Digits as consonants Porter's stemmer leaves alone, so generated words stay single FTS tokens that no other one stems to. */
const letters = (n: number) => String(n).replace(/\d/g, (d) => 'bcdfghjkmn'[Number(d)]);

function put(root: string, rel: string, content: string | Buffer): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), content);
}

const CHURN_FILES = 90;
const churnRel = (i: number) => `churn/c${String(i).padStart(3, '0')}.ts`;
// Final and transient contents differ in length, so a rewrite inside one mtime tick still changes the size.
const churnFinal = (word: string, i: number) => `export function churn${letters(i)}(): string {\n  return '${word}${letters(i)}';\n}\n`;
const churnTransient = (i: number, pass: number) => `// pass ${pass}\nexport const churntemp${letters(i)} = ${pass};\n`;

/**
 * The hostile repository, plus a directory outside it that links point at. Returns the root and the
 * words that must never be searchable.
 */
function makeHostileTree(): { root: string; forbidden: string[]; privileged: boolean } {
  const base = scratch('hostile');
  const root = join(base, 'repo');
  const outside = join(base, 'outside');
  put(outside, 'leak.ts', 'export const outsiderootword = 1;\n');
  put(outside, 'dir/more.ts', 'export const outsidedirword = 2;\n');

  put(root, 'src/app.ts', 'export function ordinaryhostileword(): number {\n  return 42;\n}\n');
  // Binary: a NUL byte in a file with a source extension (an unknown extension is skipped before reading).
  put(root, 'lib/native.js', Buffer.concat([Buffer.from('binarynulword\n'), Buffer.alloc(64), Buffer.from('more')]));
  put(root, 'assets/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]));
  // Over the 1,000,000-byte default limit: skipped by stat, never read.
  put(root, 'data/huge.json', `{"hugefileword": "${'x'.repeat(1_500_000)}"}\n`);
  // A multi-megabyte single line is also over the size limit, so it is never even read...
  put(root, 'lib/app.packed.js', `var hugelineword=1;${'a=a+1;'.repeat(500_000)}\n`);
  // ...while one under the limit is read and recognised as minified.
  put(root, 'lib/packed.js', `var minifiedword=1;${'b=b*2;'.repeat(100_000)}\n`);
  // Invalid UTF-8 (Latin-1 bytes) in a comment: the valid words around it are still indexed.
  put(root, 'src/legacy.py', Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9, 0x20, 0xff, 0xfe]), Buffer.from('\ndef invalidutfword():\n    return 1\n')]));
  put(root, 'docs/release notes.md', '# Release\n\nThe spacednameword feature.\n');
  put(root, 'src/módulo über/naïve 文件.py', 'def unicodenameword():\n    return "ü"\n');
  put(root, 'node_modules/pkg/index.js', 'export const vendoredword = 1;\n');

  // Secrets: never read, so never chunked, embedded or searchable.
  put(root, '.env', 'API_KEY=sk-live-envsecretword\n');
  put(root, '.env.local', 'DB_PASSWORD=localenvsecretword\n');
  put(root, 'config/id_rsa', '-----BEGIN OPENSSH PRIVATE KEY-----\nprivkeysecretword\n-----END OPENSSH PRIVATE KEY-----\n');
  put(root, 'config/credentials.json', '{"token": "credsecretword"}\n');
  symlinkSync('../.env', join(root, 'config/settings.txt')); // an innocent name pointing at a secret

  // Links: a directory link back up (a loop), a chain of links to each other, links out of the root.
  symlinkSync('..', join(root, 'src/up'));
  symlinkSync('ring-b', join(root, 'ring-a'));
  symlinkSync('ring-a', join(root, 'ring-b'));
  symlinkSync(join(outside, 'leak.ts'), join(root, 'out-link.ts'));
  symlinkSync(join(outside, 'dir'), join(root, 'outdir'));

  execFileSync('mkfifo', [join(root, 'src/pipe.ts')]); // opening it for reading would block forever

  put(root, 'src/locked.ts', 'export const lockedfileword = 1;\n');
  chmodSync(join(root, 'src/locked.ts'), 0o000);
  // Root (as in CI containers) reads through permission bits; detect rather than assume.
  let privileged = true;
  try {
    readFileSync(join(root, 'src/locked.ts'));
  } catch {
    privileged = false;
  }

  for (let i = 0; i < CHURN_FILES; i++) put(root, churnRel(i), churnFinal('churnorig', i));

  const forbidden = [
    'envsecretword', 'localenvsecretword', 'privkeysecretword', 'credsecretword',
    'outsiderootword', 'outsidedirword', 'binarynulword', 'hugefileword', 'hugelineword', 'minifiedword', 'vendoredword',
  ];
  return { root, forbidden, privileged };
}

describe('a hostile tree, indexed through the MCP tools', () => {
  it('skips what it must, counts why, finds the rest, and survives files deleted and rewritten during the run', async () => {
    const gpu = await FakeEmbeddingServer.start({ dims: 64 });
    cleanups.push(() => gpu.close());
    const client = await connect();
    const { root, forbidden, privileged } = makeHostileTree();
    await call(client, 'set_project', { path: root, provider: 'dgx', dgx_endpoint: gpu.endpoint, batch_size: 8 });

    // Churn the churn/ files for as long as the first run goes: delete some, rewrite others, over and
    // over, so the walk and the reader meet files that vanish or change between stat, open and read.
    let stop = false;
    let passes = 0;
    const churner = (async () => {
      while (!stop) {
        for (let i = 0; i < CHURN_FILES && !stop; i++) {
          const file = join(root, churnRel(i));
          if ((i + passes) % 2 === 0) await rm(file, { force: true });
          else await writeFile(file, churnTransient(i, passes));
        }
        passes++;
      }
    })();
    const started = Date.now();
    const first = await call(client, 'index', { wait_seconds: 300 });
    stop = true;
    await churner;
    console.log(`hostile tree: first run ${Date.now() - started} ms with ${passes} churn passes; skipped ${JSON.stringify(first.structuredContent.files_skipped)}`);
    expect(first.structuredContent.state).toBe('done');
    expect(passes).toBeGreaterThan(0);

    // Every reason except the churn's is deterministic. A file deleted between the walk's listing and
    // its stat or open is 'vanished', never 'unreadable'.
    const expectedSkips: Record<string, number> = {
      binary: 1, // lib/native.js
      unsupported: 1, // assets/logo.png
      too_large: 2, // data/huge.json, lib/app.packed.js
      minified: 1, // lib/packed.js
      secret: 5, // .env, .env.local, config/id_rsa, config/credentials.json, config/settings.txt -> .env
      symlink_loop: 3, // src/up -> .., ring-a <-> ring-b
      symlink_outside_root: 2, // out-link.ts, outdir
      not_regular: 1, // src/pipe.ts (FIFO)
      default_excluded: 1, // node_modules
    };
    if (!privileged) expectedSkips.unreadable = 1; // src/locked.ts
    const { vanished = 0, ...deterministic } = first.structuredContent.files_skipped as Record<string, number>;
    expect(deterministic).toEqual(expectedSkips);
    expect(vanished).toBeLessThanOrEqual(CHURN_FILES);
    expect(first.content[0].text).toMatch(/skipped .*5 secret/);

    // Settle the churn into a known final state: a third deleted, a third rewritten, a third restored.
    for (let i = 0; i < CHURN_FILES; i++) {
      const file = join(root, churnRel(i));
      if (i % 3 === 0) rmSync(file, { force: true });
      else writeFileSync(file, churnFinal(i % 3 === 1 ? 'churnnew' : 'churnorig', i));
    }
    const second = await call(client, 'index', { wait_seconds: 300 });
    expect(second.structuredContent.state).toBe('done');
    const { vanished: vanishedAgain, ...deterministicAgain } = second.structuredContent.files_skipped as Record<string, number>;
    expect(vanishedAgain).toBeUndefined();
    expect(deterministicAgain).toEqual(expectedSkips);

    // Now the index agrees with the disk: nothing transient, nothing deleted, every final word found.
    for (let i = 0; i < CHURN_FILES; i++) {
      const rel = churnRel(i);
      expect(await lexicalPaths(client, `churntemp${letters(i)}`), `${rel} transient`).toEqual([]);
      if (i % 3 === 0) {
        expect(await lexicalPaths(client, `churnorig${letters(i)}`), `${rel} deleted`).toEqual([]);
        expect(await lexicalPaths(client, `churnnew${letters(i)}`), `${rel} deleted`).toEqual([]);
      } else {
        const [found, gone] = i % 3 === 1 ? ['churnnew', 'churnorig'] : ['churnorig', 'churnnew'];
        expect(await lexicalPaths(client, `${found}${letters(i)}`), `${rel} final`).toEqual([rel]);
        expect(await lexicalPaths(client, `${gone}${letters(i)}`), `${rel} final`).toEqual([]);
      }
    }

    // A third run finds nothing to do, and every chunk has its vector.
    const third = await call(client, 'index', { wait_seconds: 300 });
    expect(third.structuredContent).toMatchObject({ state: 'done', files_added: 0, files_changed: 0, files_removed: 0, chunks_embedded: 0 });
    expect(third.structuredContent.files_skipped).toEqual(expectedSkips);
    const status = await call(client, 'status');
    expect(status.structuredContent.chunks_with_vectors).toBe(status.structuredContent.chunks);
    // Indexed files: app.ts, legacy.py, release notes.md, naïve 文件.py, locked.ts (when readable), 60 churn files.
    expect(status.structuredContent.files).toBe(4 + (privileged ? 1 : 0) + (CHURN_FILES * 2) / 3);

    // Text with invalid UTF-8 and files with spaces and non-ASCII names are found under their own paths.
    expect(await lexicalPaths(client, 'ordinaryhostileword')).toEqual(['src/app.ts']);
    expect(await lexicalPaths(client, 'invalidutfword')).toEqual(['src/legacy.py']);
    expect(await lexicalPaths(client, 'spacednameword')).toEqual(['docs/release notes.md']);
    expect(await lexicalPaths(client, 'unicodenameword')).toEqual(['src/módulo über/naïve 文件.py']);
    const named = await call(client, 'search', { query: 'unicodenameword', mode: 'lexical' });
    expect(named.content[0].text).toContain('src/módulo über/naïve 文件.py:1-2');
    // As root, mode 000 does not stop a read, so the file is indexed like any other; otherwise it is skipped.
    expect(await lexicalPaths(client, 'lockedfileword')).toEqual(privileged ? ['src/locked.ts'] : []);

    // Secrets, files reached through links out of the root, and skipped files are not searchable in
    // any mode, and their words never reached the embedding server.
    for (const word of forbidden) {
      expect(await lexicalPaths(client, word), word).toEqual([]);
      const hybrid = await call(client, 'search', { query: word, k: 100 });
      // (The text block echoes the query, so look at the hits themselves.)
      expect(JSON.stringify(hybrid.structuredContent.results), word).not.toContain(word);
    }
    // Passages only: queries (sent with an instruction) carry the words searched for above.
    const sent = gpu.requests.filter((r) => r.instruction === undefined).flatMap((r) => r.texts).join('\n');
    expect(sent).toContain('ordinaryhostileword');
    for (const word of forbidden) expect(sent, word).not.toContain(word);
    expect(sent).not.toContain('sk-live');
  });
});

/**
 * A store that runs `hook` before each file is written: with `prepareWorkers: 0` the producer reads and
 * writes files one at a time in walk order, while the walker has already listed and stat'ed the files
 * after it, so the hook changes files the walk has seen and the reader has not yet opened, deterministically.
 */
function storeWithHook(store: IndexStore, hook: (path: string) => void): IndexStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'upsertFile') {
        return (...args: Parameters<IndexStore['upsertFile']>) => {
          hook(args[0].path);
          return target.upsertFile(...args);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('files deleted or rewritten after the walk saw them', () => {
  it('counts a vanished file as vanished, indexes the rewritten content, and drops a known file that vanished', async () => {
    const root = join(scratch('race'), 'repo');
    for (const name of ['a', 'b', 'c', 'd']) put(root, `race/${name}.ts`, `export const race${name}original = 1;\n`);
    const store = openIndexStore(scratch('race-data'));
    cleanups.push(() => store.close());
    const embedder = new NoneEmbedder();

    // Run 1: writing a.ts deletes c.ts and rewrites d.ts; both were listed and stat'ed before.
    const first = await runIndex({
      root,
      embedder,
      prepareWorkers: 0,
      store: storeWithHook(store, (path) => {
        if (path !== 'race/a.ts') return;
        unlinkSync(join(root, 'race/c.ts'));
        writeFileSync(join(root, 'race/d.ts'), 'export const racedrewritten = 2;\n// a longer file than before\n');
      }),
    });
    expect(first).toMatchObject({ state: 'done', files_scanned: 4, files_added: 3 });
    expect(first.files_skipped).toEqual({ vanished: 1 });
    expect(store.listFiles().has('race/c.ts')).toBe(false);
    const words = (query: string) => store.getChunks(store.lexicalSearch(query, 10).map((h) => h.chunkId)).map((c) => c.path);
    expect(words('racedrewritten')).toEqual(['race/d.ts']);
    expect(words('racedoriginal')).toEqual([]);

    // The stored size and mtime are those of the content read, so the next run sees d.ts as unchanged.
    const settled = await runIndex({ root, embedder, store });
    expect(settled).toMatchObject({ state: 'done', files_scanned: 3, files_added: 0, files_changed: 0, files_removed: 0, files_skipped: {} });

    // Run 3: b.ts is known and changed on disk, and vanishes after the walk saw it: it leaves the index.
    writeFileSync(join(root, 'race/a.ts'), 'export const raceaedited = 3;\n');
    writeFileSync(join(root, 'race/b.ts'), 'export const racebedited = 3;\n');
    const third = await runIndex({
      root,
      embedder,
      prepareWorkers: 0,
      store: storeWithHook(store, (path) => {
        if (path === 'race/a.ts') unlinkSync(join(root, 'race/b.ts'));
      }),
    });
    expect(third).toMatchObject({ state: 'done', files_changed: 1, files_removed: 1 });
    expect(third.files_skipped).toEqual({ vanished: 1 });
    expect([...store.listFiles().keys()].sort()).toEqual(['race/a.ts', 'race/d.ts']);
    expect(words('racebedited')).toEqual([]);
    expect(words('raceboriginal')).toEqual([]);
  });
});

describe('a repository of 100k+ files', () => {
  const DIRS = 500;
  // Per directory: one small .ts file with a unique word, 120 empty .txt files (read, stored, no chunks)
  // and 80 empty .png files (assets: skipped by name, never opened), as a large checkout has.
  const TEXT_PER_DIR = 120;
  const ASSETS_PER_DIR = 80;
  const FILES_PER_DIR = 1 + TEXT_PER_DIR + ASSETS_PER_DIR;
  const INDEXED_PER_DIR = 1 + TEXT_PER_DIR;
  const TOTAL = DIRS * FILES_PER_DIR;
  let base: string | undefined;
  afterAll(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('indexes 100,500 files (provider none) without a crash or a hang, then re-indexes incrementally', async () => {
    base = tempDir('big');
    const root = join(base, 'repo');
    let t = performance.now();
    // Synchronous open/close measured fastest here (~0.2 ms a file; parallel async writes and xargs touch were slower).
    for (let d = 0; d < DIRS; d++) {
      const dir = join(root, `pkg${d % 25}`, `mod${d}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'index.ts'), `export const bigrepoword${letters(d)} = ${d};\n`);
      for (let f = 0; f < TEXT_PER_DIR; f++) closeSync(openSync(join(dir, `notes${f}.txt`), 'w'));
      for (let f = 0; f < ASSETS_PER_DIR; f++) closeSync(openSync(join(dir, `icon${f}.png`), 'w'));
    }
    const generateMs = performance.now() - t;
    expect(TOTAL).toBeGreaterThan(100_000);

    const client = await connect();
    await call(client, 'set_project', { path: root, provider: 'none' });
    t = performance.now();
    const first = await call(client, 'index', { wait_seconds: 560 }, 580_000);
    const firstMs = performance.now() - t;
    expect(first.structuredContent).toMatchObject({
      state: 'done',
      files_scanned: TOTAL,
      files_added: DIRS * INDEXED_PER_DIR,
      chunks_total: DIRS, // empty files have no chunks
      chunks_embedded: 0,
    });
    expect(first.structuredContent.files_skipped).toEqual({ unsupported: DIRS * ASSETS_PER_DIR });
    expect(await lexicalPaths(client, `bigrepoword${letters(437)}`)).toEqual(['pkg12/mod437/index.ts']);

    t = performance.now();
    const unchanged = await call(client, 'index', { wait_seconds: 560 }, 580_000);
    const unchangedMs = performance.now() - t;
    expect(unchanged.structuredContent).toMatchObject({ state: 'done', files_scanned: TOTAL, files_added: 0, files_changed: 0, files_removed: 0 });

    // One directory removed and one file edited: work proportional to the change.
    rmSync(join(root, 'pkg3', 'mod3'), { recursive: true });
    writeFileSync(join(root, 'pkg4', 'mod4', 'index.ts'), 'export const bigrepoeditedword = 4;\n');
    t = performance.now();
    const changed = await call(client, 'index', { wait_seconds: 560 }, 580_000);
    const changedMs = performance.now() - t;
    expect(changed.structuredContent).toMatchObject({
      state: 'done',
      files_scanned: TOTAL - FILES_PER_DIR,
      files_added: 0,
      files_changed: 1,
      files_removed: INDEXED_PER_DIR,
      chunks_total: DIRS - 1,
    });
    expect(await lexicalPaths(client, `bigrepoword${letters(3)}`)).toEqual([]);
    expect(await lexicalPaths(client, 'bigrepoeditedword')).toEqual(['pkg4/mod4/index.ts']);
    expect((await call(client, 'status')).structuredContent.files).toBe((DIRS - 1) * INDEXED_PER_DIR);
    console.log(
      `100k repository: generated ${TOTAL} files in ${(generateMs / 1000).toFixed(1)} s; first index ${(firstMs / 1000).toFixed(1)} s ` +
        `(${DIRS * INDEXED_PER_DIR} files read and stored), unchanged re-index ${(unchangedMs / 1000).toFixed(1)} s, one-directory change ${(changedMs / 1000).toFixed(1)} s`,
    );
  }, 900_000);
});
