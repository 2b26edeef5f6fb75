import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RefreshScheduler } from '../indexer/watch/refresh-scheduler.js';
import { loadConfig } from '../src/config.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { connectInProcess, pollUntil, type InProcessSession, type ToolResult } from './helpers/in-process.js';
import { tempDir } from './helpers/stdio-client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeRepo(): string {
  const repo = join(tempDir('watch'), 'repo');
  mkdirSync(join(repo, 'src'), { recursive: true });
  writeFileSync(join(repo, '.gitignore'), '*.log\n');
  writeFileSync(join(repo, 'src', 'server.ts'), 'export function startServer(port: number) {\n  return listen(port);\n}\n');
  writeFileSync(join(repo, 'src', 'retry.ts'), 'export async function retryWithBackoff(fn: () => Promise<void>) {\n  await fn();\n}\n');
  return repo;
}

async function start(config: Parameters<typeof connectInProcess>[0], watchTimings = {}): Promise<{ session: InProcessSession; gpu: FakeEmbeddingServer }> {
  const gpu = await FakeEmbeddingServer.start({ dims: 64 });
  cleanups.push(() => gpu.close());
  const session = await connectInProcess(config, { watchTimings });
  cleanups.push(() => session.close());
  return { session, gpu };
}

/** set_project + a complete first index: watching starts only after that. */
async function indexed(session: InProcessSession, gpu: FakeEmbeddingServer, repo: string, extra: Record<string, unknown> = {}): Promise<void> {
  const set = await session.call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: gpu.endpoint, ...extra });
  expect(set.isError, set.content[0]?.text).toBeFalsy();
  const run = await session.call('index', { wait_seconds: 60 });
  expect(run.structuredContent.state).toBe('done');
}

const paths = (result: ToolResult): string[] => result.structuredContent.results.map((r: { path: string }) => r.path);
const lexical = (session: InProcessSession, query: string) => session.call('search', { query, mode: 'lexical' });
/** Polls a lexical search until `accept` holds on the result paths (15 s deadline), then returns them. */
const pathsOnceSettled = async (session: InProcessSession, query: string, accept: (found: string[]) => boolean) =>
  paths(await pollUntil(() => lexical(session, query), (r) => accept(paths(r))));

async function watchingState(session: InProcessSession, state: string): Promise<void> {
  const status = await pollUntil(() => session.call('status'), (s) => s.structuredContent.watching.state === state);
  expect(status.structuredContent.watching.state).toBe(state);
}

describe('watching keeps the index fresh', () => {
  it('create, edit, rename into a new directory, and delete become searchable without `index`', async () => {
    const { session, gpu } = await start({ home: tempDir('home') });
    const repo = makeRepo();
    await indexed(session, gpu, repo);
    await watchingState(session, 'events');

    writeFileSync(join(repo, 'src', 'payments.ts'), 'export function refundLedgerEntry(id: string) {\n  return id;\n}\n');
    expect(await pathsOnceSettled(session, 'refundLedgerEntry', (p) => p.includes('src/payments.ts'))).toContain('src/payments.ts');

    writeFileSync(join(repo, 'src', 'payments.ts'), 'export function chargebackDisputeWindow(days: number) {\n  return days * 2;\n}\n');
    expect(await pathsOnceSettled(session, 'chargebackDisputeWindow', (p) => p.includes('src/payments.ts'))).toContain('src/payments.ts');
    expect(paths(await lexical(session, 'refundLedgerEntry'))).not.toContain('src/payments.ts');

    // A new directory: its creation is seen, it gets watched, and later edits inside it are seen too.
    mkdirSync(join(repo, 'lib', 'billing'), { recursive: true });
    renameSync(join(repo, 'src', 'payments.ts'), join(repo, 'lib', 'billing', 'payments.ts'));
    const renamed = await pathsOnceSettled(session, 'chargebackDisputeWindow', (p) => p.includes('lib/billing/payments.ts') && !p.includes('src/payments.ts'));
    expect(renamed).toEqual(['lib/billing/payments.ts']);
    writeFileSync(join(repo, 'lib', 'billing', 'payments.ts'), 'export function ledgerReconciliationJob() {\n  return 1;\n}\n');
    expect(await pathsOnceSettled(session, 'ledgerReconciliationJob', (p) => p.includes('lib/billing/payments.ts'))).toEqual(['lib/billing/payments.ts']);

    rmSync(join(repo, 'lib'), { recursive: true });
    expect(await pathsOnceSettled(session, 'ledgerReconciliationJob', (p) => p.length === 0)).toEqual([]);

    const status = await session.call('status');
    expect(status.structuredContent.watching.runs).toBeGreaterThanOrEqual(4);
    // Vectors came along: the edits were embedded, not only made lexically searchable.
    expect(status.structuredContent.chunks_with_vectors).toBe(status.structuredContent.chunks);
  });

  it('a mass change (2,000 files written by another process) causes one index run', async () => {
    // A longer quiet period than the 500 ms default: on a loaded 2-core machine the writer may stall
    // that long mid-burst, which would rightly cause a follow-up run and make the count flaky.
    const { session, gpu } = await start({ home: tempDir('home') }, { quietMs: 1500 });
    const repo = makeRepo();
    // Lexical only: the point is how many runs start, and 2,000 embeddings would only slow the test.
    await indexed(session, gpu, repo, { provider: 'none' });
    await watchingState(session, 'events');
    const before = (await session.call('status')).structuredContent.files;

    // Another process, as `git checkout` would be: our event loop stays free to see every event.
    const script = `const fs = require('fs'); const path = require('path');
      for (let d = 0; d < 20; d++) {
        const dir = path.join(process.argv[1], 'gen', 'pkg' + d); fs.mkdirSync(dir, { recursive: true });
        for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(dir, 'mod' + i + '.ts'), 'export const generatedValue' + (d * 100 + i) + ' = ' + i + ';\\n');
      }`;
    const child = spawnSync(process.execPath, ['-e', script, repo], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);

    const settled = await pollUntil(
      () => session.call('status'),
      (s) => s.structuredContent.files === before + 2000 && !s.structuredContent.watching.pending,
      30_000,
      250,
    );
    expect(settled.structuredContent.files).toBe(before + 2000);
    expect(settled.structuredContent.watching.pending).toBe(false);
    expect(settled.structuredContent.watching.runs).toBe(1);
    expect(paths(await lexical(session, 'generatedValue1999'))[0]).toBe('gen/pkg19/mod99.ts');
  });

  it('ignores changes under excluded and ignored paths and to secrets', async () => {
    const { session, gpu } = await start({ home: tempDir('home') });
    const repo = makeRepo();
    mkdirSync(join(repo, 'node_modules', 'dep'), { recursive: true });
    await indexed(session, gpu, repo);
    await watchingState(session, 'events');

    writeFileSync(join(repo, 'node_modules', 'dep', 'index.ts'), 'export const x = 1;\n');
    writeFileSync(join(repo, 'debug.log'), 'noise\n');
    writeFileSync(join(repo, '.env'), 'TOKEN=1\n');
    mkdirSync(join(repo, 'dist'));
    writeFileSync(join(repo, 'dist', 'out.ts'), 'export const y = 2;\n');
    // Past the 500 ms debounce window twice over, nothing may be pending or have run.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const status = await session.call('status');
    expect(status.structuredContent.watching).toEqual({ state: 'events', runs: 0, pending: false });
  });

  it('the recursive method and the polling fallback also pick up edits', async () => {
    for (const watch of ['recursive', 'poll'] as const) {
      const { session, gpu } = await start({ home: tempDir('home'), watch }, { pollMs: 300 });
      const repo = makeRepo();
      await indexed(session, gpu, repo);
      await watchingState(session, watch === 'poll' ? 'polling' : 'events');
      mkdirSync(join(repo, 'src', 'deep'));
      writeFileSync(join(repo, 'src', 'deep', 'cache.ts'), 'export function evictLeastRecentlyUsed() {}\n');
      expect(await pathsOnceSettled(session, 'evictLeastRecentlyUsed', (p) => p.includes('src/deep/cache.ts')), watch).toContain('src/deep/cache.ts');
    }
  });

  it('catches up at start on changes made while nobody watched', async () => {
    const home = tempDir('home');
    const repo = makeRepo();
    const first = await start({ home });
    await indexed(first.session, first.gpu, repo);
    await first.session.close();
    writeFileSync(join(repo, 'src', 'offline.ts'), 'export function editedWhileServerWasDown() {}\n');

    const second = await connectInProcess({ home, project: repo });
    cleanups.push(() => second.close());
    expect(await pathsOnceSettled(second, 'editedWhileServerWasDown', (p) => p.includes('src/offline.ts'))).toContain('src/offline.ts');
  });
});

describe('watching off', () => {
  it('watch: false runs nothing on its own; search reports stale files and refresh: true indexes first', async () => {
    const { session, gpu } = await start({ home: tempDir('home') });
    const repo = makeRepo();
    await indexed(session, gpu, repo, { watch: false });
    const state = await session.call('set_project', { path: repo });
    expect(state.structuredContent.watching).toBe('off'); // remembered without repeating it

    writeFileSync(join(repo, 'src', 'retry.ts'), 'export async function retryWithJitter(fn: () => Promise<void>) {\n  await fn();\n}\n');
    writeFileSync(join(repo, 'src', 'added.ts'), 'export function freshlyAddedHelper() {}\n');
    const stale = await lexical(session, 'retryWithJitter');
    expect(stale.structuredContent.stale_files).toBe(2);
    expect(stale.content[0].text).toMatch(/2 files changed since the last index.*refresh: true/);
    expect(stale.content[0].text).not.toMatch(/retryWithJitter\(/);

    const refreshed = await session.call('search', { query: 'retryWithJitter', mode: 'lexical', refresh: true });
    expect(refreshed.structuredContent.refreshed).toBe('done');
    expect(refreshed.structuredContent.results[0].snippet).toMatch(/retryWithJitter\(/);
    expect(refreshed.structuredContent.stale_files).toBeNull();
    const status = await session.call('status');
    expect(status.structuredContent.watching).toEqual({ state: 'off', runs: 0, pending: false });
    expect(status.structuredContent.stale_files).toBe(0);
  });

  it('CODECARTO_WATCH=0 turns watching off for every project', async () => {
    expect(loadConfig({ CODECARTO_WATCH: '0' }).watch).toBe('off');
    expect(loadConfig({ CODECARTO_WATCH: 'False' }).watch).toBe('off');
    expect(loadConfig({ CODECARTO_WATCH: 'poll' }).watch).toBe('poll');
    expect(loadConfig({}).watch).toBe('auto');
    expect(() => loadConfig({ CODECARTO_WATCH: 'sometimes' })).toThrow(/CODECARTO_WATCH must be/);

    const { session, gpu } = await start({ ...loadConfig({ CODECARTO_WATCH: 'off' }), home: tempDir('home'), project: undefined });
    const repo = makeRepo();
    await indexed(session, gpu, repo);
    writeFileSync(join(repo, 'src', 'added.ts'), 'export function notWatched() {}\n');
    const result = await lexical(session, 'notWatched');
    expect(result.structuredContent.stale_files).toBe(1);
    expect((await session.call('status')).structuredContent.watching.state).toBe('off');
  });
});

describe('refresh scheduling', () => {
  it('changes during a run cause exactly one follow-up run, and noise causes none', async () => {
    let finishRun: () => void = () => {};
    const started: number[] = [];
    let relevant = true;
    const scheduler = new RefreshScheduler({
      settle: async () => relevant,
      run: async () => {
        started.push(Date.now());
        return { joined: false, done: new Promise<void>((resolve) => (finishRun = resolve)) };
      },
      log: () => {},
      quietMs: 50,
      maxWaitMs: 400,
    });
    cleanups.push(async () => scheduler.close());
    scheduler.signal();
    await pollUntil(async () => started.length, (n) => n === 1, 5000, 10);
    for (let i = 0; i < 200; i++) scheduler.signal(); // a burst while the run is going
    expect(started).toHaveLength(1);
    finishRun();
    await pollUntil(async () => started.length, (n) => n === 2, 5000, 10);
    finishRun();
    await pollUntil(async () => scheduler.pending, (p) => !p, 5000, 10);
    expect(started).toHaveLength(2);

    // A constant stream still runs once the max wait has passed.
    const streamStart = Date.now();
    const stream = setInterval(() => scheduler.signal(), 10);
    await pollUntil(async () => started.length, (n) => n === 3, 5000, 10);
    clearInterval(stream);
    expect(started[2]! - streamStart).toBeLessThan(2000);
    // The stream's tail: a change while run 3 goes (on a loaded machine the interval may not have fired since).
    scheduler.signal();
    finishRun();
    await pollUntil(async () => started.length, (n) => n === 4, 5000, 10);
    finishRun();

    // Events that settle() finds irrelevant (editor swap files) start nothing.
    relevant = false;
    scheduler.signal();
    await pollUntil(async () => scheduler.pending, (p) => !p, 5000, 10);
    expect(started).toHaveLength(4);
  });
});
