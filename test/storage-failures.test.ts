import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectInProcess } from './helpers/in-process.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { tempDir } from './helpers/stdio-client.js';

type Structured = Record<string, any>;
type ToolResult = { isError?: boolean; content: { text: string }[]; structuredContent: Structured };

/**
 * A real full disk and a real read-only mount: a small tmpfs as CODECARTO_HOME (tests run as root,
 * for whom file permissions are no obstacle, so only a mount really refuses writes).
 */
function readOnlyView(dir: string): { dir: string; unmount: () => void } {
  const view = tempDir('ro-view');
  execFileSync('mount', ['--bind', dir, view]);
  execFileSync('mount', ['-o', 'remount,bind,ro', view]);
  return { dir: view, unmount: () => execFileSync('umount', ['-l', view]) };
}

function mountTmpfs(sizeKb: number): { dir: string; remountReadOnly: () => void; unmount: () => void } {
  const dir = tempDir('tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir]);
  } catch (error) {
    throw new Error(`These tests mount a tmpfs to get a real full or read-only disk; run them as root with CAP_SYS_ADMIN (${(error as Error).message})`);
  }
  return {
    dir,
    remountReadOnly: () => execFileSync('mount', ['-o', 'remount,ro', dir]),
    unmount: () => execFileSync('umount', ['-l', dir]),
  };
}

/** A unique searchable word per file number (digits alone are not distinctive search terms). */
const marker = (i: number) => `marker${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + (Math.floor(i / 26) % 26))}`;

function makeRepo(files: number, words = 'alpha beta'): string {
  const repo = join(tempDir('storage-repo'), 'repo');
  mkdirSync(repo, { recursive: true });
  for (let i = 0; i < files; i++) {
    writeFileSync(join(repo, `m${i}.py`), `def routine_${i}(value):\n    """${words} ${marker(i)} ${'x'.repeat(200)}"""\n    return value + ${i}\n`);
  }
  return repo;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function connect(home: string): Promise<Client> {
  const session = await connectInProcess({ home });
  cleanups.push(() => session.close().catch(() => {}));
  return session.client;
}

const call = async (client: Client, name: string, args: Record<string, unknown> = {}) =>
  (await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as ToolResult;

describe('a full or read-only data directory', () => {
  it('a full disk fails the index with what to do, and leaves the previous index intact', async () => {
    const gpu = await FakeEmbeddingServer.start({ dims: 256 });
    cleanups.push(() => gpu.close());
    const fs = mountTmpfs(16384);
    cleanups.push(fs.unmount);
    const repo = makeRepo(20);
    const client = await connect(fs.dir);
    await call(client, 'set_project', { path: repo, provider: 'dgx', dgx_endpoint: gpu.endpoint, batch_size: 16 });
    const first = await call(client, 'index', { wait_seconds: 60 });
    expect(first.structuredContent.state).toBe('done');
    const before = (await call(client, 'status')).structuredContent;
    expect(before.chunks_with_vectors).toBe(20);

    // Something else fills the disk, leaving less room than 1000 more files need.
    const ballast = join(fs.dir, 'ballast');
    writeFileSync(ballast, Buffer.alloc(Math.max(0, statfsSync(fs.dir).bavail * statfsSync(fs.dir).bsize - 256 * 1024)));
    for (let i = 20; i < 1020; i++) writeFileSync(join(repo, `m${i}.py`), `def routine_${i}(value):\n    """gamma delta ${marker(i)} ${'y'.repeat(400)}"""\n    return value * ${i}\n`);
    const full = await call(client, 'index', { wait_seconds: 60 });
    expect(full.structuredContent.state).toBe('failed');
    expect(full.structuredContent.error).toMatch(/is full \((SQLITE_FULL|ENOSPC)\)/);
    expect(full.structuredContent.error).toContain(fs.dir);
    expect(full.structuredContent.error).toMatch(/Free some space/);

    // What was indexed before is still there, searchable, and the database is sound.
    const found = await call(client, 'search', { query: `${marker(7)} alpha`, k: 3 });
    expect(found.isError).toBeFalsy();
    expect(found.structuredContent.results.some((h: Structured) => h.path === 'm7.py')).toBe(true);
    const [projectDir] = readdirSync(join(fs.dir, 'projects'));
    const db = new Database(join(fs.dir, 'projects', projectDir, 'index.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();

    // Space again: the next run completes and every chunk gets its vector.
    rmSync(ballast);
    const again = await call(client, 'index', { wait_seconds: 120 });
    expect(again.structuredContent.error ?? 'no error').toBe('no error');
    expect(again.structuredContent.state).toBe('done');
    const after = (await call(client, 'status')).structuredContent;
    expect(after.chunks).toBe(1020);
    expect(after.chunks_with_vectors).toBe(1020);
    // Only batches whose vectors could not be written when the disk filled are embedded again.
    const passages = gpu.requests.filter((r) => r.instruction === undefined).reduce((n, r) => n + r.texts.length, 0);
    expect(passages).toBeGreaterThanOrEqual(1020);
    expect(passages).toBeLessThanOrEqual(1020 + 2 * 16);
  });

  it('a read-only data directory gives a clear error and leaves the previous index intact', async () => {
    const home = tempDir('ro-home');
    const repo = makeRepo(5, 'searchable words');
    const writer = await connect(home);
    await call(writer, 'set_project', { path: repo });
    expect((await call(writer, 'index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    const before = (await call(writer, 'status')).structuredContent;

    // The same data seen through a read-only mount, as after a remount or on a read-only volume.
    const view = readOnlyView(home);
    cleanups.push(view.unmount);
    const reader = await connect(view.dir);
    const set = await call(reader, 'set_project', { path: repo });
    expect(set.isError).toBe(true);
    expect(set.content[0].text).toMatch(/is not writable \((SQLITE_READONLY|SQLITE_CANTOPEN|EROFS)[^)]*\)/);
    expect(set.content[0].text).toContain(view.dir);

    // The index the writer built is untouched and still answers.
    const found = await call(writer, 'search', { query: `searchable words ${marker(3)}`, k: 3 });
    expect(found.structuredContent.results[0].path).toBe('m3.py');
    const after = (await call(writer, 'status')).structuredContent;
    expect(after.chunks).toBe(before.chunks);
    expect(after.files).toBe(before.files);
  });
});
