/**
 * Issue 15.6: `status` with no project lists the known projects and says how to choose one, and the
 * README's Inspector commands work as written: each Inspector CLI command starts `node dist/src/cli.js mcp
 * ...` afresh, lists tools or calls one tool, and exits.
 * Regression: status before set_project was an isError "No project is set", so `--method tools/call
 * --tool-name status` on a fresh install printed an error instead of the way forward.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectInProcess, type Structured } from './helpers/in-process.js';
import { connectStdio, repoRoot, tempDir } from './helpers/stdio-client.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

function makeRepo(name: string): string {
  const repo = join(dir(name), name);
  mkdirSync(join(repo, 'src'), { recursive: true });
  writeFileSync(join(repo, 'src', 'http.ts'), 'export async function fetchWithRetries(url: string, retries = 3) {\n  // retries are handled here: back off and try again\n  for (let attempt = 0; attempt <= retries; attempt++) {\n    try { return await fetch(url); } catch { await sleep(100 * 2 ** attempt); }\n  }\n}\n');
  writeFileSync(join(repo, 'src', 'cart.ts'), 'export function addItemToCart(cart: Cart, item: Item) {\n  cart.items.push(item);\n}\n');
  return repo;
}

describe('status with no project', () => {
  it('is an answer, not an error: project null, no known projects, and how to choose one', async () => {
    const session = await connectInProcess({ home: dir('nop-home') });
    try {
      const status = await session.call('status');
      expect(status.isError).toBeFalsy();
      expect(status.structuredContent).toEqual({
        project: null,
        projects: [],
        problems: [],
        notes: [expect.stringMatching(/No project is chosen\. Call `set_project` with the path of a repository, or start the server on one with `codecarto mcp --project <path>` \(or CODECARTO_PROJECT\)/)],
      });
      expect(status.content[0]!.text).toMatch(/set_project/);
    } finally {
      await session.close();
    }
  });

  it('lists the projects codecarto knows, with their size and last index, when none is current', async () => {
    const home = dir('nop-home');
    const [shop, blog] = [makeRepo('shop'), makeRepo('blog')];
    const first = await connectInProcess({ home, watch: 'off' });
    await first.call('set_project', { path: shop });
    expect((await first.call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    await first.call('set_project', { path: blog });
    await first.close();
    // No project is current (state.json is where the last one used is kept).
    rmSync(join(home, 'state.json'));

    const second = await connectInProcess({ home, watch: 'off' });
    try {
      const status = await second.call('status');
      expect(status.isError).toBeFalsy();
      expect(status.structuredContent.project).toBeNull();
      const projects = status.structuredContent.projects as Structured[];
      expect(projects.map((p) => p.project).sort()).toEqual([blog, shop].sort());
      expect(projects.find((p) => p.project === shop)).toMatchObject({ provider: 'none', files: 2, current: false, open: false });
      expect(status.structuredContent.notes[0]).toMatch(/one of the known projects below, or a new one/);
      expect(status.content[0]!.text).toContain(`Known projects (2):`);
      expect(status.content[0]!.text).toContain(shop);
      // Choosing one is what the note says: set_project, after which status describes it.
      await second.call('set_project', { path: shop });
      expect((await second.call('status')).structuredContent).toMatchObject({ project: shop, files: 2, problems: [] });
    } finally {
      await second.close();
    }
  });
});

/** One Inspector CLI command: a fresh `node dist/src/cli.js mcp <args>` process, one request, then exit. */
async function inspectorLike(args: string[], env: Record<string, string>, request: (call: (name: string, a?: Record<string, unknown>) => Promise<any>) => Promise<any>) {
  const session = await connectStdio(env, ['mcp', ...args]);
  try {
    return await request((name, a = {}) => session.client.callTool({ name, arguments: a }, undefined, { timeout: 120_000 }));
  } finally {
    await session.close();
  }
}

describe('the Inspector flow, one server process per command', () => {
  it('tools/list and status work with no project; with --project (or CODECARTO_PROJECT) a never-indexed project is indexed by `index` and searched', async () => {
    const home = dir('insp-home');
    const env = { CODECARTO_HOME: home, CODECARTO_WATCH: 'off' };
    const repo = makeRepo('app');

    const listing = await connectStdio(env, ['mcp']);
    const tools = (await listing.client.listTools()).tools.map((t) => t.name);
    await listing.close();
    expect(tools).toEqual(expect.arrayContaining(['set_project', 'index', 'search', 'status']));
    const status = await inspectorLike([], env, (call) => call('status'));
    expect(status.isError).toBeFalsy();
    expect(status.structuredContent.project).toBeNull();

    // Never indexed: codecarto does not index on its own (the cost is the user's call); status says to call index.
    const fresh = await inspectorLike(['--project', repo], env, (call) => call('status'));
    expect(fresh.structuredContent).toMatchObject({ project: repo, files: 0 });
    expect(fresh.structuredContent.notes.join(' ')).toMatch(/Not indexed yet: call `index`/);
    const index = await inspectorLike(['--project', repo], env, (call) => call('index', { wait_seconds: 60 }));
    expect(index.structuredContent).toMatchObject({ state: 'done', files_added: 2 });
    const search = await inspectorLike(['--project', repo], env, (call) => call('search', { query: 'where are retries handled', k: 5 }));
    expect(search.isError).toBeFalsy();
    expect(search.structuredContent.results[0].path).toBe('src/http.ts');
    const viaEnv = await inspectorLike([], { ...env, CODECARTO_PROJECT: repo }, (call) => call('search', { query: 'where are retries handled', k: 5 }));
    expect(viaEnv.structuredContent.results[0].path).toBe('src/http.ts');
  });

  // The real Inspector, where it is installed as a dependency (its 2.x needs Node >= 22.19); see also
  // test/readme-commands.test.ts, which runs the README's own Inspector block from the npx cache.
  const inspector = join(repoRoot, 'node_modules', '.bin', 'mcp-inspector');
  it.skipIf(!existsSync(inspector))('the README commands run through node_modules/.bin/mcp-inspector', () => {
    const home = dir('insp-real-home');
    const repo = makeRepo('app');
    const run = (...args: string[]) => {
      const result = spawnSync(inspector, ['--cli', 'node', 'dist/src/cli.js', 'mcp', ...args], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, CODECARTO_HOME: home, CODECARTO_WATCH: 'off' },
      });
      expect(result.status, `${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
      return JSON.parse(result.stdout) as Record<string, any>;
    };
    expect(run('--method', 'tools/list').tools.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['search', 'status']));
    expect(run('--method', 'tools/call', '--tool-name', 'status').structuredContent.project).toBeNull();
    expect(run('--project', repo, '--method', 'tools/call', '--tool-name', 'index').structuredContent.state).toBe('done');
    const search = run('--project', repo, '--method', 'tools/call', '--tool-name', 'search', '--tool-arg', 'query=where are retries handled', '--tool-arg', 'k=5');
    expect(search.structuredContent.results[0].path).toBe('src/http.ts');
  });
});
