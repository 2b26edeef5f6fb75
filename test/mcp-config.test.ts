/**
 * Issue 15.3: `codecarto mcp` takes every set_project setting as a flag and as a CODECARTO_ variable, so a
 * client's JSON alone configures one server per repository, and a configuration problem never stops the
 * server: it starts, and every tool answer and `status` say what is wrong and how to fix it.
 * Regression: the README's entry (`--project` + CODECARTO_PROVIDER=dgx) exited at start with
 * `provider "dgx" needs dgx_endpoint`, and `--dgx-endpoint` was an unknown option.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { projectSettingsSchema } from '../indexer/workspace/project-settings.js';
import { mcpConfig } from '../src/config.js';
import { PROVIDER_OPTIONS } from '../src/provider-options.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { connectInProcess, type Structured } from './helpers/in-process.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

/**
 * The README's one-server-per-repository entry (a repository's `.mcp.json`), to be copied into README.md
 * as it stands. The test runs it exactly as written, with only the three placeholders replaced.
 */
export const README_MCP_JSON = `{
  "mcpServers": {
    "codecarto": {
      "command": "node",
      "args": ["/path/to/codecarto/dist/src/cli.js", "mcp", "--project", "/home/me/src/app",
               "--provider", "dgx", "--dgx-endpoint", "http://192.168.1.159:8080/embed"]
    }
  }
}`;
const PLACEHOLDERS = { cli: '/path/to/codecarto/dist/src/cli.js', project: '/home/me/src/app', endpoint: 'http://192.168.1.159:8080/embed' };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeRepo(): string {
  const repo = join(tempDir('cfg-repo'), 'app');
  mkdirSync(join(repo, 'src'), { recursive: true });
  writeFileSync(join(repo, 'src', 'retry.ts'), 'export async function retryWithBackoff(request: () => Promise<Response>, attempts = 3) {\n  for (let i = 0; i < attempts; i++) {\n    try { return await request(); } catch { await sleep(2 ** i * 100); }\n  }\n}\n');
  writeFileSync(join(repo, 'src', 'cart.ts'), 'export function addItemToCart(cart: Cart, item: Item) {\n  cart.items.push(item);\n}\n');
  cleanups.push(() => rmSync(join(repo, '..'), { recursive: true, force: true }));
  return repo;
}

function freshHome(): string {
  const home = tempDir('cfg-home');
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

async function gpuServer(): Promise<FakeEmbeddingServer> {
  const gpu = await FakeEmbeddingServer.start({ dims: 64 });
  cleanups.push(() => gpu.close());
  return gpu;
}

type Call = (name: string, args?: Record<string, unknown>) => Promise<{ isError?: boolean; content: { text: string }[]; structuredContent: Structured }>;

/** Starts `command args` the way an MCP client starts a configured server, with `env` on top of this process's. */
async function startServer(command: string, args: string[], env: Record<string, string>): Promise<{ call: Call; stderr: () => string }> {
  const transport = new StdioClientTransport({ command, args, env: { ...(process.env as Record<string, string>), ...env }, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'codecarto-test', version: '0' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  const call: Call = async (name, args = {}) => (await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 })) as Awaited<ReturnType<Call>>;
  return { call, stderr: () => stderr };
}

const text = (result: { content: { text: string }[] }) => result.content.map((c) => c.text).join('\n');

describe('the README .mcp.json entry', () => {
  it('starts exactly as written on a project never seen before, indexes through the DGX endpoint and searches', async () => {
    const gpu = await gpuServer();
    const repo = makeRepo();
    const entry = JSON.parse(README_MCP_JSON).mcpServers.codecarto as { command: string; args: string[]; env?: Record<string, string> };
    const args = entry.args.map((a) => (a === PLACEHOLDERS.cli ? cliPath : a === PLACEHOLDERS.project ? repo : a === PLACEHOLDERS.endpoint ? gpu.endpoint : a));
    expect(args.filter((a, i) => a !== entry.args[i])).toHaveLength(3);
    const { call, stderr } = await startServer(entry.command, args, { ...entry.env, CODECARTO_HOME: freshHome(), CODECARTO_WATCH: 'off' });

    const status = await call('status');
    expect(status.isError).toBeFalsy();
    expect(status.structuredContent).toMatchObject({ project: repo, provider: 'dgx', problems: [], health: { ok: true } });
    const run = await call('index', { wait_seconds: 60 });
    expect(run.structuredContent).toMatchObject({ state: 'done', files_added: 2 });
    expect(run.structuredContent.chunks_embedded).toBeGreaterThan(0);
    const found = await call('search', { query: 'retry the request after a sleep, for a few attempts', mode: 'semantic', k: 5 });
    expect(found.isError).toBeFalsy();
    expect(found.structuredContent.mode).toBe('semantic');
    expect(found.structuredContent.results[0].path).toBe('src/retry.ts');
    expect(gpu.requests.some((r) => r.instruction !== undefined)).toBe(true);
    expect(stderr()).not.toMatch(/configuration problem/);
  });

  it('with CODECARTO_PROVIDER=dgx and no endpoint the server stays up: status, search and index say what is missing and where to set it', async () => {
    const repo = makeRepo();
    const { call, stderr } = await startServer(process.execPath, [cliPath, 'mcp', '--project', repo], {
      CODECARTO_PROVIDER: 'dgx',
      CODECARTO_HOME: freshHome(),
      CODECARTO_WATCH: 'off',
    });
    const fix = /needs dgx_endpoint.*--dgx-endpoint.*CODECARTO_DGX_ENDPOINT/;
    expect(stderr()).toMatch(/configuration problem: provider "dgx" needs dgx_endpoint/);

    const status = await call('status');
    expect(status.isError).toBeFalsy();
    expect(status.structuredContent.project).toBe(repo);
    expect(status.structuredContent.problems).toEqual([expect.stringMatching(fix)]);

    const search = await call('search', { query: 'retry' });
    expect(search.isError).toBeFalsy();
    expect(search.structuredContent.mode).toBe('lexical');
    expect(search.structuredContent.note).toMatch(fix);

    const index = await call('index', { wait_seconds: 30 });
    expect(index.isError).toBe(true);
    expect(text(index)).toMatch(fix);

    // The agent (or the user through it) can fix it for this session: set_project with the endpoint.
    const gpu = await gpuServer();
    const set = await call('set_project', { path: repo, dgx_endpoint: gpu.endpoint });
    expect(set.isError).toBeFalsy();
    expect(set.structuredContent.notes.join(' ')).not.toMatch(/needs dgx_endpoint/);
    expect((await call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    expect((await call('status')).structuredContent.problems).toEqual([]);
    const found = await call('search', { query: 'add an item to the cart', mode: 'semantic' });
    expect(found.structuredContent.results[0].path).toBe('src/cart.ts');
  });

  it('a bad variable, an unknown flag and a --project that does not exist never stop it; every tool says what to fix, and no other project answers', async () => {
    const home = freshHome();
    const other = makeRepo();
    // The last project used: a server started on another project must not fall back to it.
    const first = await connectInProcess({ home, watch: 'off' });
    await first.call('set_project', { path: other });
    await first.close();

    const missing = join(tempDir('cfg-missing'), 'not-there');
    const { call, stderr } = await startServer(process.execPath, [cliPath, 'mcp', '--project', missing, '--dgx-endpont', 'http://127.0.0.1:1/embed'], {
      CODECARTO_HOME: home,
      CODECARTO_BATCH_SIZE: 'lots',
      CODECARTO_WATCH: 'off',
    });
    expect(stderr()).toMatch(/configuration problem: CODECARTO_BATCH_SIZE="lots" is not valid: batch_size must be a whole number from 1 to 512/);

    const status = await call('status');
    expect(status.isError).toBeFalsy();
    expect(status.structuredContent.project).toBeNull();
    const problems = (status.structuredContent.problems as string[]).join('\n');
    expect(problems).toMatch(/CODECARTO_BATCH_SIZE="lots".*env/);
    expect(problems).toMatch(/Unknown option --dgx-endpont.*--dgx-endpoint/);
    expect(problems).toMatch(new RegExp(`--project "${missing}" could not be opened: .*does not exist.*set_project`));
    expect(status.structuredContent.projects.map((p: Structured) => p.project)).toEqual([other]);

    for (const [tool, args] of [['search', { query: 'retry' }], ['index', {}]] as const) {
      const answer = await call(tool, args);
      expect(answer.isError, tool).toBe(true);
      expect(text(answer), tool).toMatch(/No project is set: call `set_project`/);
      expect(text(answer), tool).toMatch(/CODECARTO_BATCH_SIZE="lots"/);
      expect(text(answer), tool).toMatch(/--project ".*not-there" could not be opened/);
    }
  });
});

describe('settings as flags and variables', () => {
  const every = {
    provider: ['--provider', 'CODECARTO_PROVIDER', 'openai', 'openai'],
    dgx_endpoint: ['--dgx-endpoint', 'CODECARTO_DGX_ENDPOINT', 'http://127.0.0.1:9/embed', 'http://127.0.0.1:9/embed'],
    batch_size: ['--batch-size', 'CODECARTO_BATCH_SIZE', '48', 48],
    model: ['--model', 'CODECARTO_MODEL', 'served-model', 'served-model'],
    device: ['--device', 'CODECARTO_DEVICE', 'cpu', 'cpu'],
    base_url: ['--base-url', 'CODECARTO_BASE_URL', 'http://127.0.0.1:9', 'http://127.0.0.1:9'],
    api_key_env: ['--api-key-env', 'CODECARTO_API_KEY_ENV', 'CODECARTO_TEST_KEY', 'CODECARTO_TEST_KEY'],
  } as const;

  it('every set_project setting is a flag and a variable, named from the one settings schema', () => {
    expect(Object.keys(every).sort()).toEqual(Object.keys(projectSettingsSchema.shape).sort());
    expect(Object.keys(PROVIDER_OPTIONS).sort()).toEqual(Object.values(every).map(([flag]) => flag.slice(2)).sort());
    const expected = Object.fromEntries(Object.entries(every).map(([key, [, , , value]]) => [key, value]));
    const fromFlags = mcpConfig(Object.values(every).flatMap(([flag, , raw]) => [flag, raw]), {});
    expect(fromFlags.problems).toEqual([]);
    expect(fromFlags.settings).toEqual(expected);
    expect(fromFlags.startSettings).toEqual(expected);
    const fromEnv = mcpConfig([], Object.fromEntries(Object.values(every).map(([, env, raw]) => [env, raw])));
    expect(fromEnv.problems).toEqual([]);
    expect(fromEnv.settings).toEqual(expected);
    expect(fromEnv.startSettings).toEqual({});
  });

  it('flags win over variables; bad values are left out and described, never thrown', () => {
    const config = mcpConfig(['--batch-size', '8', '--provider', 'gpu', '--device'], {
      CODECARTO_BATCH_SIZE: '16',
      CODECARTO_DGX_ENDPOINT: 'ftp://dgx/embed',
      CODECARTO_PROVIDER: 'dgx',
    });
    expect(config.settings).toEqual({ batch_size: 8, provider: 'dgx' });
    expect(config.problems).toEqual([
      expect.stringMatching(/^CODECARTO_DGX_ENDPOINT="ftp:\/\/dgx\/embed" is not valid: dgx_endpoint must be an http\(s\) URL.*"env"/),
      expect.stringMatching(/^--provider="gpu" is not valid: provider must be one of: dgx, onnx, openai, none.*"args"/),
      expect.stringMatching(/^--device needs a value.*"args"/),
    ]);
  });

  it('the server settings are the defaults of set_project; the project\'s saved settings win over them, --project flags over both', async () => {
    const gpu = await gpuServer();
    const home = freshHome();
    const repo = makeRepo();
    const env = { CODECARTO_PROVIDER: 'dgx', CODECARTO_DGX_ENDPOINT: gpu.endpoint, CODECARTO_BATCH_SIZE: '1', CODECARTO_HOME: home };
    const server = await connectInProcess({ ...mcpConfig([], env), watch: 'off' });
    cleanups.push(() => server.close());
    // No settings in the call: provider, endpoint and batch size come from the variables.
    const set = await server.call('set_project', { path: repo });
    expect(set.isError).toBeFalsy();
    expect(set.structuredContent.provider).toBe('dgx');
    await server.call('index', { wait_seconds: 60 });
    const passages = gpu.requests.filter((r) => r.instruction === undefined && r.texts[0] !== 'ping');
    expect(passages.length).toBeGreaterThan(1);
    expect(passages.every((r) => r.texts.length === 1)).toBe(true);
    // A call's own settings win, and are what the project remembers.
    expect((await server.call('set_project', { path: repo, provider: 'none' })).structuredContent.provider).toBe('none');
    await server.close();
    cleanups.pop();

    const again = await connectInProcess({ ...mcpConfig([], env), watch: 'off' });
    cleanups.push(() => again.close());
    expect((await again.call('set_project', { path: repo })).structuredContent.provider).toBe('none');
    await again.close();
    cleanups.pop();

    // Flags given with --project are that project's settings, as if passed to set_project.
    const started = await connectInProcess({ ...mcpConfig(['--project', repo, '--provider', 'dgx', '--dgx-endpoint', gpu.endpoint], env), watch: 'off' });
    cleanups.push(() => started.close());
    expect((await started.call('status')).structuredContent).toMatchObject({ project: repo, provider: 'dgx', problems: [] });
  });
});
