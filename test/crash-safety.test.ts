import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { IndexStore } from '../indexer/store/store-types.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

/** A tree big enough that an index run against a slowish server lasts a few seconds (one chunk per file). */
function makeTree(dirs = 8, files = 50): string {
  const repo = join(tempDir('crash-tree'), 'repo');
  for (let d = 0; d < dirs; d++) {
    mkdirSync(join(repo, `pkg${d}`), { recursive: true });
    for (let f = 0; f < files; f++) {
      const body = Array.from({ length: 3 }, (_, i) => `def handler_${d}_${f}_${i}(request):\n    value = request.get("key_${d}_${f}_${i}")\n    return value * ${i + 1}\n`).join('\n\n');
      writeFileSync(join(repo, `pkg${d}`, `mod${f}.py`), body);
    }
  }
  return repo;
}

/** `crashAt`: a failpoint of the store's write path (indexer/store/crash-point.ts) where the run SIGKILLs itself. */
function cliIndex(home: string, repo: string, endpoint: string, crashAt?: string): ChildProcess {
  return spawn(process.execPath, [cliPath, 'index', repo, '--provider', 'dgx', '--dgx-endpoint', endpoint, '--batch-size', '8', '--json'], {
    env: { ...process.env, CODECARTO_HOME: home, ...(crashAt ? { CODECARTO_CRASH_AT: crashAt } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function finished(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  return { code, signal, stdout, stderr };
}

function openProjectStore(home: string, log?: (m: string) => void): IndexStore {
  const [dir] = readdirSync(join(home, 'projects'));
  return openIndexStore(join(home, 'projects', dir), { log });
}

/** Every invariant that must hold after any crash. */
function checkInvariants(home: string): { vectors: number; pending: number } {
  const logs: string[] = [];
  const store = openProjectStore(home, (m) => logs.push(m));
  try {
    const counts = store.counts();
    expect(counts.vectors).toBeLessThanOrEqual(counts.texts);
    expect(counts.chunksWithVectors).toBeLessThanOrEqual(counts.chunks);
    expect(store.countPending()).toBe(counts.texts - counts.vectors);
    // The HNSW graph (loaded or rebuilt from SQLite) finds every stored vector's own chunk first.
    if (counts.vectors > 0) {
      const rows = store.getChunks(Array.from({ length: counts.chunks + 500 }, (_, i) => i + 1));
      const withVectors = rows.filter((r) => store.missingVectors([r.textHash]).length === 0);
      for (const row of withVectors.slice(0, 25)) {
        const [scored] = store.scoreChunks(new Float32Array(64).fill(0), []);
        expect(scored).toBeUndefined();
        const top = store.semanticSearch(vectorOf(store, row.id), 1)[0];
        expect(top.score).toBeGreaterThan(0.999);
      }
    }
    return { vectors: counts.vectors, pending: store.countPending() };
  } finally {
    store.close();
  }
}

/** The stored vector of a chunk, read back through exact scoring against the basis (dims are small here). */
function vectorOf(store: IndexStore, chunkId: number): Float32Array {
  const dims = store.getModel()!.dims;
  const out = new Float32Array(dims);
  for (let i = 0; i < dims; i++) {
    const basis = new Float32Array(dims);
    basis[i] = 1;
    out[i] = store.scoreChunks(basis, [chunkId])[0]!.score;
  }
  return out;
}

describe('SIGKILL at any moment of an index run', () => {
  let server: FakeEmbeddingServer;
  let repo: string;

  beforeAll(async () => {
    server = await FakeEmbeddingServer.start({ dims: 64, stallMs: 40 });
    repo = makeTree();
  });
  afterAll(async () => {
    await server.close();
  });

  it('leaves a state the next run repairs, embedding only what is missing, equal to a clean index', async () => {
    const home = tempDir('crash-home');
    // Kill points are counted in embedding requests answered by this run (startup speed varies with load):
    // -1 = during the walk, before any request; then after 0..8 answered requests, at random offsets.
    const targets = [-1, 0, 1, 2, 3, 4, 5, 6, 8];
    let killedMidRun = 0;
    for (const target of targets) {
      const base = server.requests.length;
      const child = cliIndex(home, repo, server.endpoint);
      const result = finished(child);
      const deadline = Date.now() + 30_000;
      const projectDirExists = () => readdirSync(home).includes('projects') && readdirSync(join(home, 'projects')).length > 0;
      while (child.exitCode === null && Date.now() < deadline) {
        if (target < 0 ? projectDirExists() : server.requests.length - base > target) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        killedMidRun++;
      }
      await result;
      if (projectDirExists()) checkInvariants(home);
    }
    expect(killedMidRun).toBeGreaterThanOrEqual(7);

    // A clean index of the same tree, for comparison.
    const cleanHome = tempDir('clean-home');
    expect((await finished(cliIndex(cleanHome, repo, server.endpoint))).code).toBe(0);
    const cleanTexts = (() => {
      const store = openProjectStore(cleanHome);
      try {
        return store.counts().texts;
      } finally {
        store.close();
      }
    })();

    // The next run embeds exactly what is missing: no stored vector is embedded again.
    const before = checkInvariants(home);
    const requestsBefore = server.requests.length;
    const last = await finished(cliIndex(home, repo, server.endpoint));
    expect(last.code).toBe(0);
    const summary = JSON.parse(last.stdout.trim().split('\n').at(-1)!);
    expect(summary.state).toBe('done');
    expect(summary.chunks_embedded).toBe(cleanTexts - before.vectors);
    const embedded = server.requests.slice(requestsBefore).reduce((n, r) => n + r.texts.length, 0);
    expect(embedded).toBe(cleanTexts - before.vectors);

    const crashed = openProjectStore(home);
    const clean = openProjectStore(cleanHome);
    try {
      const all = (s: IndexStore) =>
        s
          .getChunks(Array.from({ length: 5000 }, (_, i) => i + 1))
          .map((r) => `${r.path}:${r.startLine}-${r.endLine}:${r.textHash}`)
          .sort();
      expect(all(crashed)).toEqual(all(clean));
      expect(crashed.counts()).toEqual(clean.counts());
      expect(crashed.countPending()).toBe(0);
      const sample = crashed.getChunks(Array.from({ length: 5000 }, (_, i) => i + 1)).slice(0, 20);
      for (const row of sample) {
        const cleanRow = clean.getChunks(Array.from({ length: 5000 }, (_, i) => i + 1)).find((r) => r.textHash === row.textHash)!;
        const a = vectorOf(crashed, row.id);
        const b = vectorOf(clean, cleanRow.id);
        for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 6);
      }
    } finally {
      crashed.close();
      clean.close();
    }
  }, 300_000);

  it('SIGKILL at each step of the vector write path (commit, garbage collection, snapshot written, snapshot recorded): nothing lost, duplicated or re-embedded', async () => {
    const home = tempDir('failpoint-home');
    // 1,200 chunk texts: more than the 1,024 logged vectors after which a run writes an HNSW snapshot.
    const tree = makeTree(12, 100);
    const embeddedBy = (base: number) => server.requests.slice(base).reduce((n, r) => n + r.texts.length, 0);
    const storedHashes = () => {
      const store = openProjectStore(home);
      try {
        const rows = store.getChunks(Array.from({ length: 5000 }, (_, i) => i + 1));
        return new Set(rows.map((r) => r.textHash).filter((h) => store.missingVectors([h]).length === 0));
      } finally {
        store.close();
      }
    };
    const crashAt = async (point: string) => {
      const before = server.requests.length;
      const stored = existsSync(join(home, 'projects')) ? storedHashes() : new Set<string>();
      const run = await finished(cliIndex(home, tree, server.endpoint, point));
      expect(run.signal, `${point}: ${run.stderr}`).toBe('SIGKILL');
      // Nothing stored before the run was sent to the embedder again.
      const again = server.requests.slice(before).flatMap((r) => r.texts).map((t) => createHash('sha256').update(t).digest('hex')).filter((h) => stored.has(h));
      expect(again, point).toEqual([]);
      return { embedded: embeddedBy(before), ...checkInvariants(home) };
    };

    // A first index: killed right after its fifth batch of vectors is committed, before the graph has them.
    const first = await crashAt('vectors-committed:5');
    expect(first.vectors).toBeGreaterThan(0);
    expect(first.vectors).toBeLessThan(1200);
    // The next run embeds the rest and, its log now over 1024 vectors, writes a snapshot: killed before recording it.
    const second = await crashAt('snapshot-written');
    expect(second.embedded).toBe(1200 - first.vectors);
    expect(second.pending).toBe(0);
    // Then killed after recording one, before the older files are deleted.
    const third = await crashAt('snapshot-recorded');
    expect(third.embedded).toBe(0);
    // Files deleted: killed after garbage collection committed, before the graph marked their vectors deleted.
    for (let f = 0; f < 100; f++) rmSync(join(tree, 'pkg0', `mod${f}.py`));
    const fourth = await crashAt('garbage-committed');
    expect(fourth.embedded).toBe(0);
    expect(fourth.vectors).toBe(third.vectors - 100);

    const before = server.requests.length;
    const last = await finished(cliIndex(home, tree, server.endpoint));
    expect(last.code, last.stderr).toBe(0);
    expect(JSON.parse(last.stdout.trim().split('\n').at(-1)!)).toMatchObject({ state: 'done', chunks_embedded: 0 });
    expect(embeddedBy(before)).toBe(0);
    const cleanHome = tempDir('failpoint-clean');
    expect((await finished(cliIndex(cleanHome, tree, server.endpoint))).code).toBe(0);
    const opened: string[] = [];
    const crashed = openProjectStore(home, (m) => opened.push(m));
    const clean = openProjectStore(cleanHome);
    try {
      expect(crashed.counts()).toEqual(clean.counts());
      // The graph (snapshot + log) holds exactly SQLite's vectors, with no rebuild.
      expect(opened.some((l) => l.includes(`loaded HNSW index with ${crashed.counts().vectors} vectors`))).toBe(true);
      expect(opened.some((l) => l.includes('rebuilding'))).toBe(false);
      const all = (s: IndexStore) =>
        s
          .getChunks(Array.from({ length: 5000 }, (_, i) => i + 1))
          .map((r) => `${r.path}:${r.startLine}-${r.endLine}:${r.textHash}`)
          .sort();
      expect(all(crashed)).toEqual(all(clean));
      // One snapshot file is left, the one recorded.
      const [dir] = readdirSync(join(home, 'projects'));
      expect(readdirSync(join(home, 'projects', dir)).filter((f) => /\.hnsw$|\.tmp$/.test(f))).toHaveLength(1);
    } finally {
      crashed.close();
      clean.close();
    }
  }, 300_000);

  it('two processes indexing one project: one writes, the other says who does, and the index ends correct', async () => {
    const home = tempDir('lock-home');
    const slow = await FakeEmbeddingServer.start({ dims: 64, stallMs: 60 });
    try {
      const first = finished(cliIndex(home, repo, slow.endpoint));
      const deadline = Date.now() + 30_000;
      while (slow.requests.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const second = await finished(cliIndex(home, repo, slow.endpoint));
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/Another codecarto process \(PID \d+.*\) is indexing/);
      const done = await first;
      expect(done.code).toBe(0);
      const { pending } = checkInvariants(home);
      expect(pending).toBe(0);
    } finally {
      await slow.close();
    }
  }, 120_000);
});
