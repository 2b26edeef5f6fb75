import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { connectInProcess, pollUntil, type InProcessSession, type Structured } from './helpers/in-process.js';
import { connectStdio, tempDir } from './helpers/stdio-client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeRepo(name: string, files: Record<string, string>): string {
  const repo = join(tempDir(name), name);
  mkdirSync(join(repo, 'src'), { recursive: true });
  for (const [path, text] of Object.entries(files)) writeFileSync(join(repo, 'src', path), text);
  return repo;
}

const shop = () =>
  makeRepo('shop', {
    'cart.ts': 'export function addItemToCart(cart: Cart, item: Item) {\n  cart.items.push(item);\n}\n',
    'checkout.ts': 'export function computeOrderTotal(cart: Cart) {\n  return cart.items.reduce((sum, item) => sum + item.price, 0);\n}\n',
  });
const blog = () =>
  makeRepo('blog', {
    'posts.ts': 'export function publishBlogPost(post: Post) {\n  post.published = true;\n}\n',
    'feed.ts': 'export function renderRssFeed(posts: Post[]) {\n  return posts.map((p) => p.title).join("\\n");\n}\n',
  });

/** Embedding requests for code chunks: queries carry the seed protocol's `instruction`; `status` health checks send "ping". */
const passageRequests = (gpu: FakeEmbeddingServer) =>
  gpu.requests.filter((r) => r.instruction === undefined && !(r.texts.length === 1 && r.texts[0] === 'ping')).length;

async function session(home: string, project?: string): Promise<InProcessSession> {
  const s = await connectInProcess({ home, project });
  cleanups.push(() => s.close());
  return s;
}

async function gpuServer(): Promise<FakeEmbeddingServer> {
  const gpu = await FakeEmbeddingServer.start({ dims: 64 });
  cleanups.push(() => gpu.close());
  return gpu;
}

describe('several projects', () => {
  it('switching between two indexed projects is instant and embeds nothing; status lists both', async () => {
    const gpu = await gpuServer();
    const home = tempDir('home');
    const client = await session(home);
    const [shopRepo, blogRepo] = [shop(), blog()];
    for (const repo of [shopRepo, blogRepo]) {
      await client.call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: gpu.endpoint });
      expect((await client.call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    }
    const embedded = passageRequests(gpu);
    expect(embedded).toBeGreaterThan(0);

    for (const [repo, query, expected] of [
      [shopRepo, 'total price of the order', 'src/checkout.ts'],
      [blogRepo, 'render the RSS feed of posts', 'src/feed.ts'],
      [shopRepo, 'add an item to the cart', 'src/cart.ts'],
    ] as const) {
      const started = Date.now();
      const state = await client.call('set_project', { path: repo });
      // Open projects keep their store and embedder: switching back touches no model and no index.
      expect(Date.now() - started).toBeLessThan(2000);
      expect(state.structuredContent).toMatchObject({ project: repo, files: 2, chunks_with_vectors: 2, stale_files: 0 });
      const found = await client.call('search', { query, mode: 'semantic' });
      expect(found.structuredContent.results[0].path).toBe(expected);
    }
    expect(passageRequests(gpu)).toBe(embedded);

    const status = await client.call('status');
    const projects: Structured[] = status.structuredContent.projects;
    expect(projects.map((p) => p.project).sort()).toEqual([blogRepo, shopRepo].sort());
    for (const p of projects) {
      expect(p).toMatchObject({ provider: 'dgx', files: 2, chunks: 2, open: true, current: p.project === shopRepo, watching: 'events' });
      expect(p.bytes).toBeGreaterThan(0);
      expect(Date.parse(p.last_indexed)).toBeGreaterThan(0);
    }
    expect(status.content[0].text).toMatch(/Known projects \(2\)/);
  });

  it('keeps watching a project after switching away from it', async () => {
    const gpu = await gpuServer();
    const client = await session(tempDir('home'));
    const [shopRepo, blogRepo] = [shop(), blog()];
    for (const repo of [shopRepo, blogRepo]) {
      await client.call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: gpu.endpoint });
      await client.call('index', { wait_seconds: 60 });
    }
    // blog is current; shop changes and is re-indexed in the background.
    await pollUntil(() => client.call('status'), (s) => s.structuredContent.projects.every((p: Structured) => p.watching === 'events'));
    writeFileSync(join(shopRepo, 'src', 'refund.ts'), 'export function issueRefund(order: Order) {\n  return order.total;\n}\n');
    const shopEntry = async () => (await client.call('status')).structuredContent.projects.find((p: Structured) => p.project === shopRepo);
    expect((await pollUntil(shopEntry, (p) => p.files === 3)).files).toBe(3);
    expect((await client.call('status')).structuredContent.project).toBe(blogRepo);
  });

  it('lists projects that are not open from their records, without opening their index', async () => {
    const home = tempDir('home');
    const repo = shop();
    const first = await session(home);
    await first.call('set_project', { path: repo, provider: 'none' });
    await first.call('index', { wait_seconds: 60 });
    await first.close();

    const other = blog();
    const second = await session(home);
    await second.call('set_project', { path: other, provider: 'none' });
    const projects: Structured[] = (await second.call('status')).structuredContent.projects;
    expect(projects.find((p) => p.project === repo)).toMatchObject({ provider: 'none', files: 2, chunks: 2, open: false, current: false, watching: 'off' });
    expect(projects.find((p) => p.project === other)).toMatchObject({ files: 0, last_indexed: null, open: true, current: true });
  });
});

describe('starting on a project, and restarts', () => {
  it('`codecarto mcp --project` opens the project with no set_project, and a restart re-embeds nothing', async () => {
    const gpu = await gpuServer();
    const home = tempDir('home');
    const repo = shop();
    const first = await session(home);
    await first.call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: gpu.endpoint });
    expect((await first.call('index', { wait_seconds: 60 })).structuredContent.chunks_embedded).toBe(2);
    await first.close();
    const embedded = passageRequests(gpu);

    // A second server process on the same home, as a per-repository Claude Code config would start it.
    const stdio = await connectStdio({ CODECARTO_HOME: home }, ['mcp', '--project', repo]);
    cleanups.push(() => stdio.close());
    const call = async (name: string, args: Record<string, unknown> = {}) =>
      (await stdio.client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 })) as { structuredContent: Structured };
    const status = await call('status');
    expect(status.structuredContent).toMatchObject({ project: repo, provider: 'dgx', files: 2, chunks_with_vectors: 2, stale_files: 0 });
    const run = await call('index', { wait_seconds: 60 });
    expect(run.structuredContent).toMatchObject({ state: 'done', files_added: 0, files_changed: 0, files_removed: 0, chunks_embedded: 0, chunks_reused: 0 });
    const found = await call('search', { query: 'add an item to the cart', mode: 'semantic' });
    expect((found.structuredContent.results as Structured[])[0].path).toBe('src/cart.ts');
    expect(passageRequests(gpu)).toBe(embedded);
  });

  it('CODECARTO_PROJECT names the project to open at start', async () => {
    expect(loadConfig({ CODECARTO_PROJECT: '/srv/app' }).project).toBe('/srv/app');
    const home = tempDir('home');
    const repo = blog();
    const client = await session(home, loadConfig({ CODECARTO_PROJECT: repo, CODECARTO_HOME: home }).project);
    const status = await client.call('status');
    expect(status.isError).toBeFalsy();
    expect(status.structuredContent.project).toBe(repo);
  });
});
