/**
 * Workspace on its own, without an MCP server: a real $CODECARTO_HOME in a temp directory, real SQLite +
 * HNSW stores (openIndexStore), the real embedder factory with provider "none" or "dgx" against a real
 * HTTP server on 127.0.0.1 (test/helpers/fake-embedding-server.ts).
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { StalenessCache } from '../indexer/workspace/staleness-cache.js';
import type { ProjectSettings } from '../indexer/workspace/project-settings.js';
import { Workspace, type WorkspaceOptions } from '../indexer/workspace/workspace.js';
import { createEmbedder } from '../models/create-embedder.js';
import { InvalidInputError } from '../models/errors/codecarto-error.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { tempDir } from './helpers/stdio-client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A repository of `files` small TypeScript files. */
function makeRepo(name: string, files = 3): string {
  const repo = join(tempDir(name), name);
  mkdirSync(join(repo, 'src'), { recursive: true });
  for (let i = 0; i < files; i++) {
    writeFileSync(join(repo, 'src', `part${i}.ts`), `export function part${i}(input: string): string {\n  return input.repeat(${i + 1});\n}\n`);
  }
  return repo;
}

/** A Workspace on `home` wired to the real store and embedders; `created` records the settings each embedder was built from. */
function openWorkspace(home: string, options: Partial<WorkspaceOptions> = {}): { workspace: Workspace; created: ProjectSettings[] } {
  const created: ProjectSettings[] = [];
  const workspace = new Workspace({
    home,
    createEmbedder: async (settings, log) => {
      created.push(settings);
      return createEmbedder(settings, log, { CODECARTO_HOME: home });
    },
    openStore: (dataDir, log) => openIndexStore(dataDir, { log }),
    watch: 'off',
    ...options,
  });
  cleanups.push(() => workspace.close());
  return { workspace, created };
}

async function fakeServer(options: Parameters<typeof FakeEmbeddingServer.start>[0] = {}): Promise<FakeEmbeddingServer> {
  const server = await FakeEmbeddingServer.start({ dims: 64, ...options });
  cleanups.push(() => server.close());
  return server;
}

function projectFile(workspace: Workspace, root: string): Record<string, any> {
  return JSON.parse(readFileSync(join(workspace.dataDirFor(root), 'project.json'), 'utf8'));
}

/** Only JSON values all the way down: no store, embedder, job or other live object escapes. */
function expectPlainData(value: unknown, path = 'status'): void {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return;
  if (Array.isArray(value)) return value.forEach((item, i) => expectPlainData(item, `${path}[${i}]`));
  expect(typeof value, path).toBe('object');
  expect(Object.getPrototypeOf(value), `${path} is a plain object`).toBe(Object.prototype);
  for (const [key, item] of Object.entries(value as object)) expectPlainData(item, `${path}.${key}`);
}

describe('Workspace: projects', () => {
  it('makes the project set current, keeps it in state.json for the next start, and knows every project', async () => {
    const home = tempDir('home');
    const alpha = makeRepo('alpha');
    const beta = makeRepo('beta');
    const { workspace } = openWorkspace(home);

    expect(await workspace.hasProject()).toBe(false);
    await expect(workspace.current()).rejects.toThrow(/No project is set: call `set_project`/);

    const state = await workspace.setProject(alpha, {});
    expect(state).toMatchObject({ project: alpha, provider: 'none', files: 0, last_indexed: null, stale_files: null, watching: 'off' });
    expect(state.notes.join(' ')).toMatch(/Not indexed yet: call `index`/);
    await workspace.setProject(beta, {});
    expect((await workspace.current()).root).toBe(beta);

    const known = workspace.knownProjects();
    expect(known.map((p) => [p.project, p.current, p.open, p.provider])).toEqual([
      [alpha, false, true, 'none'],
      [beta, true, true, 'none'],
    ]);
    expect(JSON.parse(readFileSync(join(home, 'state.json'), 'utf8'))).toEqual({ current: beta });
    expect(projectFile(workspace, alpha)).toMatchObject({ root: alpha, settings: { provider: 'none' }, watch: true });
    await workspace.close();

    // The next process reopens the last project lazily: known from its record, opened on first use.
    const next = openWorkspace(home).workspace;
    expect(await next.hasProject()).toBe(true);
    expect(next.knownProjects().map((p) => [p.project, p.open, p.current])).toContainEqual([beta, false, true]);
    expect((await next.current()).root).toBe(beta);

    // A one-shot look (rememberCurrent false) never changes what the next start opens.
    const look = openWorkspace(home, { rememberCurrent: false }).workspace;
    await look.setProject(alpha, {});
    expect((await look.current()).root).toBe(alpha);
    expect(JSON.parse(readFileSync(join(home, 'state.json'), 'utf8'))).toEqual({ current: beta });

    // restoreCurrent false: a server started on --project never falls back to the last one.
    expect(await openWorkspace(home, { restoreCurrent: false }).workspace.hasProject()).toBe(false);
  });

  it('refuses paths that are not a project directory, naming what to pass', async () => {
    const home = tempDir('home');
    const repo = makeRepo('repo');
    const { workspace } = openWorkspace(home);
    await expect(workspace.setProject('src/app', {})).rejects.toThrow(/is relative: pass an absolute path/);
    await expect(workspace.setProject(join(repo, 'missing'), {})).rejects.toThrow(/does not exist/);
    await expect(workspace.setProject(join(repo, 'src', 'part0.ts'), {})).rejects.toThrow(/is a file, not a directory/);
    await expect(workspace.setProject(home, {})).rejects.toBeInstanceOf(InvalidInputError);
    expect(await workspace.hasProject()).toBe(false);
  });
});

describe('Workspace: settings', () => {
  it('merges the call over the saved settings over the server defaults, and saves what ran', async () => {
    const home = tempDir('home');
    const repo = makeRepo('repo');
    const server = await fakeServer();
    const defaults = { provider: 'dgx' as const, dgx_endpoint: server.endpoint, batch_size: 8 };

    const first = openWorkspace(home, { defaults });
    const state = await first.workspace.setProject(repo, { batch_size: 16 });
    expect(state.provider).toBe('dgx');
    expect(first.created.at(-1)).toEqual({ provider: 'dgx', dgx_endpoint: server.endpoint, batch_size: 16 });
    expect(projectFile(first.workspace, repo).settings).toEqual({ provider: 'dgx', dgx_endpoint: server.endpoint, batch_size: 16 });
    await first.workspace.close();

    // Saved settings win over the server's defaults, field by field.
    const second = openWorkspace(home, { defaults: { ...defaults, batch_size: 4 } });
    await second.workspace.setProject(repo, {});
    expect(second.created.at(-1)).toEqual({ provider: 'dgx', dgx_endpoint: server.endpoint, batch_size: 16 });

    // Another provider takes none of the dgx fields, and stays the project's provider over the default one.
    await second.workspace.setProject(repo, { provider: 'none' });
    expect(second.created.at(-1)).toEqual({ provider: 'none' });
    await second.workspace.close();
    const third = openWorkspace(home, { defaults });
    expect((await third.workspace.setProject(repo, {})).provider).toBe('none');
    expect(projectFile(third.workspace, repo).settings).toEqual({ provider: 'none' });
  });

  it('refuses settings that cannot run; lenient opens the project lexically with the problem reported, and saves nothing of them', async () => {
    const home = tempDir('home');
    const repo = makeRepo('repo');
    const { workspace, created } = openWorkspace(home);
    await expect(workspace.setProject(repo, { provider: 'dgx' })).rejects.toThrow(/provider "dgx" needs dgx_endpoint/);
    expect(existsSync(join(workspace.dataDirFor(repo), 'project.json'))).toBe(false);

    const state = await workspace.setProject(repo, { provider: 'dgx' }, { lenient: true });
    expect(state.provider).toBe('dgx');
    expect(created.at(-1)).toEqual({ provider: 'none' });
    const status = await workspace.status();
    expect(status.state).not.toBeNull();
    expect(status.problems).toEqual([expect.stringMatching(/provider "dgx" needs dgx_endpoint/)]);
    expect(status.state!.notes).toContain(status.problems[0]);
    await expect(workspace.startIndex({})).rejects.toThrow(/Not indexing .*: the configuration has a problem/);
    expect(projectFile(workspace, repo).settings ?? null).toBeNull();
  });
});

describe('Workspace: status is plain data', () => {
  it('with no project: the known projects and the configuration problems', async () => {
    const home = tempDir('home');
    const repo = makeRepo('repo');
    await openWorkspace(home).workspace.setProject(repo, {});

    const { workspace } = openWorkspace(home, { restoreCurrent: false, problems: ['CODECARTO_BATCH_SIZE "lots" is not a number: set 1..512.'] });
    const status = await workspace.status();
    expectPlainData(status);
    expect(status).toMatchObject({ state: null, problems: ['CODECARTO_BATCH_SIZE "lots" is not a number: set 1..512.'] });
    expect(status.projects).toEqual([expect.objectContaining({ project: repo, open: false, current: false, provider: 'none', files: null, last_indexed: null })]);
  });

  it('reports health, indexing progress, the last run, fusion and watching without handing out the store or the embedder', async () => {
    const home = tempDir('home');
    const repo = makeRepo('repo', 6);
    // Slow answers keep the run going long enough to be seen; the health probe (one text) is not slowed.
    const server = await fakeServer({ stallMs: 400, stallAboveTexts: 1 });
    const { workspace } = openWorkspace(home, { problems: [] });
    await workspace.setProject(repo, { provider: 'dgx', dgx_endpoint: server.endpoint, batch_size: 2 });

    const job = await workspace.startIndex({});
    const running = await workspace.status();
    expectPlainData(running);
    if (running.state === null) throw new Error('a project is set');
    expect(running.indexing).toEqual({ state: 'running', files_scanned: expect.any(Number), chunks_embedded: expect.any(Number), chunks_pending: expect.any(Number), seconds: expect.any(Number) });
    expect(running.state.stale_files).toBeNull();
    expect(running.last_index).toBeNull();

    expect((await job.done).state).toBe('done');
    const done = await workspace.status();
    expectPlainData(done);
    if (done.state === null) throw new Error('a project is set');
    expect(done.state).toMatchObject({ project: repo, provider: 'dgx', dims: 64, files: 6, stale_files: 0 });
    expect(done.state.chunks_with_vectors).toBe(done.state.chunks);
    expect(done.state.last_indexed).toEqual(expect.any(String));
    expect(done.indexing).toBeNull();
    expect(done.last_index).toEqual({ state: 'done', seconds: expect.any(Number) });
    expect(done.health).toEqual({ ok: true, detail: expect.stringMatching(/reachable, 64 dims/), execution_provider: null });
    // Not a git repository: hybrid keeps plain fusion, and says why.
    expect(done.fusion).toEqual({ semantic_weight: 1, method: 'default', queries: 0, reason: expect.stringMatching(/no git history/) });
    expect(done.watching).toEqual({ state: 'off', runs: 0, pending: false });
    expect(done.projects).toEqual([expect.objectContaining({ project: repo, current: true, open: true, files: 6, provider: 'dgx' })]);
    expect(done.problems).toEqual([]);

    // The endpoint goes away: health says so, still as data.
    await server.close();
    const down = await workspace.status();
    if (down.state === null) throw new Error('a project is set');
    expect(down.health.ok).toBe(false);
    expect(down.health.detail).toMatch(/not reachable/);
  });

  it('reports a failed last run with its error', async () => {
    const home = tempDir('home');
    const repo = makeRepo('repo');
    const server = await fakeServer({ wrongCount: -1 });
    const { workspace } = openWorkspace(home);
    await workspace.setProject(repo, { provider: 'dgx', dgx_endpoint: server.endpoint });
    const summary = await (await workspace.startIndex({})).done;
    expect(summary.state).toBe('failed');

    const status = await workspace.projectStatus();
    expect(status.last_index).toEqual({ state: 'failed', seconds: expect.any(Number), error: summary.error });
    expect(status.last_index!.error).toBeTruthy();
    expect(status.state.last_indexed).toBeNull();
  });
});

describe('Workspace: close', () => {
  it('cancels a running index run and releases the project for the next process', async () => {
    const home = tempDir('home');
    const repo = makeRepo('repo');
    const server = await fakeServer({ hang: true });
    const { workspace } = openWorkspace(home);
    await workspace.setProject(repo, { provider: 'dgx', dgx_endpoint: server.endpoint });
    const job = await workspace.startIndex({});
    await workspace.close();
    expect((await job.done).state).toBe('cancelled');

    server.setFaults({});
    const next = openWorkspace(home).workspace;
    const summary = await (await next.startIndex({})).done;
    expect(summary.state).toBe('done');
    expect((await next.projectStatus()).state.files).toBe(3);
  });
});

describe('StalenessCache', () => {
  it('reuses a count for its time to live, and counts again after clear()', async () => {
    const home = tempDir('home');
    const repo = makeRepo('repo');
    const { workspace } = openWorkspace(home);
    await workspace.setProject(repo, {});
    expect((await (await workspace.startIndex({})).done).state).toBe('done');
    const project = await workspace.current();

    let now = 1_000;
    const cache = new StalenessCache(repo, project.store, 3_000, () => now);
    expect(await cache.get(2_000)).toEqual({ stale_files: 0, complete: true });
    writeFileSync(join(repo, 'src', 'new.ts'), 'export const added = 1;\n');
    now += 2_999;
    expect((await cache.get(2_000)).stale_files).toBe(0);
    now += 1;
    expect((await cache.get(2_000)).stale_files).toBe(1);
    writeFileSync(join(repo, 'src', 'other.ts'), 'export const other = 2;\n');
    cache.clear();
    expect((await cache.get(2_000)).stale_files).toBe(2);
  });
});
