import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeEmbeddingServer, type FakeServerOptions } from './helpers/fake-embedding-server.js';
import { connectInProcess, pollUntil, type InProcessSession, type Structured, type ToolResult } from './helpers/in-process.js';
import { connectStdio, tempDir, type StdioSession } from './helpers/stdio-client.js';

/**
 * Issue 18.4, nothing hangs an agent: with the embedding endpoint refusing, stalling or gone, hybrid
 * search answers from the lexical index within 3 s and says why; later searches do not wait on it
 * again; hybrid comes back by itself once the endpoint answers. set_project warns about an endpoint
 * that does not answer; index says what it waits for; a failed run is an isError result. Every endpoint
 * is a real HTTP server on 127.0.0.1 (test/helpers/fake-embedding-server.ts).
 */

const QUERY = 'retry the request with exponential backoff';

function makeRepo(): string {
  const repo = join(tempDir('fallback-repo'), 'repo');
  mkdirSync(join(repo, 'src'), { recursive: true });
  writeFileSync(
    join(repo, 'src', 'retry.ts'),
    '// Retry the request with exponential backoff when the server is busy.\n' +
      'export async function retryRequest(send: () => Promise<Response>, attempts = 5): Promise<Response> {\n' +
      '  for (let attempt = 0; ; attempt++) {\n    const response = await send();\n' +
      '    if (response.status !== 503 || attempt + 1 >= attempts) return response;\n' +
      '    await new Promise((resolve) => setTimeout(resolve, 2 ** attempt * 100)); // exponential backoff\n  }\n}\n',
  );
  writeFileSync(join(repo, 'src', 'config.py'), 'def load_config(path):\n    """Read the settings file."""\n    with open(path) as handle:\n        return handle.read()\n');
  writeFileSync(join(repo, 'src', 'greet.ts'), 'export function greetUser(name: string): string {\n  return `hello ${name}`;\n}\n');
  return repo;
}

/** Runs `work` and returns its result with the milliseconds it took. */
async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

const paths = (result: ToolResult) => (result.structuredContent.results as Structured[]).map((hit) => hit.path);

describe('hybrid search while the embedding endpoint refuses, stalls and recovers (in-process MCP client)', () => {
  let server: FakeEmbeddingServer;
  let session: InProcessSession;

  beforeAll(async () => {
    server = await FakeEmbeddingServer.start({ dims: 64 });
    session = await connectInProcess({ home: tempDir('fallback-home'), watch: 'off' });
    const set = await session.call('set_project', { path: makeRepo(), provider: 'dgx', dgx_endpoint: server.endpoint, batch_size: 8 });
    expect(set.isError).toBeFalsy();
    expect(set.structuredContent.notes.join(' ')).not.toMatch(/Warning/);
    expect((await session.call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    const hybrid = await session.call('search', { query: QUERY, k: 5 });
    expect(hybrid.structuredContent.mode).toBe('hybrid');
    expect(hybrid.structuredContent.degraded).toBeUndefined();
  });

  afterAll(async () => {
    await session?.close();
    await server?.close();
  });

  it('an endpoint that refuses connections: lexical results within 3 s with the reason; the next search does not wait; hybrid resumes by itself', async () => {
    await server.refuseFor(2_500);
    const first = await timed(() => session.call('search', { query: QUERY, k: 5 }));
    expect(first.ms).toBeLessThan(3_000);
    expect(first.value.isError).toBeFalsy();
    expect(first.value.structuredContent.mode).toBe('lexical');
    expect(first.value.structuredContent.degraded).toMatchObject({ requested: 'hybrid', reason: expect.stringMatching(/ECONNREFUSED/) });
    expect(paths(first.value)[0]).toBe('src/retry.ts');
    expect(first.value.content[0].text).toMatch(/Semantic half missing: .*ECONNREFUSED.*answered from the lexical index\. Hybrid search resumes by itself/);

    // The endpoint is known to be down now: not asked again, whatever the query.
    const second = await timed(() => session.call('search', { query: 'load the settings file', k: 5 }));
    expect(second.ms).toBeLessThan(1_000);
    expect(second.value.structuredContent.mode).toBe('lexical');
    expect(second.value.structuredContent.degraded.reason).toMatch(/has been down .*not asked; a background probe watches for it/);
    expect(paths(second.value)[0]).toBe('src/config.py');

    // The server listens again after 2.5 s; the background probe (1-2 s, then 2-4 s later) sees it.
    const resumed = await pollUntil(() => session.call('search', { query: QUERY, k: 5 }), (r) => r.structuredContent.mode === 'hybrid', 20_000, 250);
    expect(resumed.structuredContent.mode).toBe('hybrid');
    expect(resumed.structuredContent.degraded).toBeUndefined();
  });

  it('an endpoint that stalls: the semantic search answers lexically within 3 s; the next does not wait; semantic resumes', async () => {
    server.setFaults({ stallMs: 60_000 });
    const first = await timed(() => session.call('search', { query: QUERY, k: 5, mode: 'semantic' }));
    expect(first.ms).toBeLessThan(3_000);
    expect(first.value.structuredContent.mode).toBe('lexical');
    expect(first.value.structuredContent.degraded).toEqual({ requested: 'semantic', reason: 'the embedding endpoint did not answer within 2.0 s' });
    expect(first.value.content[0].text).toMatch(/Semantic search resumes by itself when the endpoint answers/);
    expect(paths(first.value)).toContain('src/retry.ts');

    const second = await timed(() => session.call('search', { query: QUERY, k: 5 }));
    expect(second.ms).toBeLessThan(1_000);
    expect(second.value.structuredContent.degraded.reason).toMatch(/has been down .*did not answer within 2\.0 s/);

    server.setFaults({});
    const resumed = await pollUntil(() => session.call('search', { query: QUERY, k: 5, mode: 'semantic' }), (r) => r.structuredContent.mode === 'semantic', 20_000, 250);
    expect(resumed.structuredContent.mode).toBe('semantic');
  });
});

describe('set_project and index with an endpoint that does not answer (in-process MCP client)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const start = async (options: FakeServerOptions = {}) => {
    const server = await FakeEmbeddingServer.start({ dims: 64, ...options });
    cleanups.push(() => server.close());
    return server;
  };
  const connect = async () => {
    const session = await connectInProcess({ home: tempDir('fallback-home'), watch: 'off' });
    cleanups.push(() => session.close());
    return session;
  };

  it('set_project with a hung endpoint saves the settings and warns within 5 s', async () => {
    const hung = await start({ hang: true });
    const { call } = await connect();
    const repo = makeRepo();
    const set = await timed(() => call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: hung.endpoint }));
    expect(set.ms).toBeLessThan(5_000);
    expect(set.value.isError).toBeFalsy();
    const warning = (set.value.structuredContent.notes as string[]).find((n) => n.startsWith('Warning'));
    expect(warning).toMatch(/the settings are saved, but the embedding endpoint did not answer within \d\.\d s\. .*lexical index/);
    expect(set.value.content[0].text).toContain(warning);
    // Saved: the project is dgx with that endpoint, and search already answers (lexically, nothing indexed yet).
    expect((await call('status')).structuredContent.provider).toBe('dgx');
    const found = await timed(() => call('search', { query: QUERY }));
    expect(found.ms).toBeLessThan(3_000);
    expect(found.value.isError).toBeFalsy();
  });

  it('set_project with a refusing endpoint warns at once, naming the refusal', async () => {
    const gone = await start();
    await gone.refuseFor(600_000);
    const { call } = await connect();
    const set = await timed(() => call('set_project', { path: makeRepo(), provider: 'dgx', dgx_endpoint: gone.endpoint }));
    expect(set.ms).toBeLessThan(5_000);
    expect(set.value.isError).toBeFalsy();
    expect(set.value.structuredContent.notes.join(' ')).toMatch(/Warning: the settings are saved, but the embedding endpoint is failing: .*ECONNREFUSED/);
  });

  it('index waiting on a refusing endpoint says what it waits for and for how long, in progress and in "still indexing", then finishes', async () => {
    const gpu = await start();
    const { client, call } = await connect();
    expect((await call('set_project', { path: makeRepo(), provider: 'dgx', dgx_endpoint: gpu.endpoint })).isError).toBeFalsy();
    await gpu.refuseFor(6_000);
    const messages: string[] = [];
    const values: number[] = [];
    const running = (await client.callTool({ name: 'index', arguments: { wait_seconds: 4 } }, undefined, {
      timeout: 60_000,
      onprogress: (p) => {
        messages.push(p.message ?? '');
        values.push(p.progress);
      },
    })) as ToolResult;
    expect(running.structuredContent.state).toBe('running');
    expect(running.structuredContent.waiting).toMatchObject({ what: `${gpu.endpoint} (ECONNREFUSED, retrying)`, seconds: expect.any(Number) });
    expect(running.structuredContent.waiting.seconds).toBeGreaterThanOrEqual(1);
    expect(running.content[0].text).toMatch(new RegExp(`^Still indexing .*waiting for ${gpu.endpoint.replace(/[.]/g, '\\.')} \\(ECONNREFUSED, retrying\\) for \\d+ s`));
    expect(messages.some((m) => /waiting for .*ECONNREFUSED, retrying\) for \d+ s/.test(m))).toBe(true);
    // Heartbeats while nothing new is counted still raise progress, as MCP requires.
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]);

    const done = await call('index', { wait_seconds: 60 });
    expect(done.isError).toBeFalsy();
    expect(done.structuredContent.state).toBe('done');
    expect(done.structuredContent.waiting).toBeUndefined();
  });

  it('a run that fails ends as an isError result that says what happened', async () => {
    const gpu = await start();
    const { call } = await connect();
    // A wrong path on a live server: 404, which is not retried.
    await call('set_project', { path: makeRepo(), provider: 'dgx', dgx_endpoint: `${gpu.url}/no-such-path` });
    const failed = await call('index', { wait_seconds: 60 });
    expect(failed.isError).toBe(true);
    expect(failed.structuredContent.state).toBe('failed');
    expect(failed.content[0].text).toMatch(/^Indexing failed: .*HTTP 404.*Check the endpoint URL/s);
  });
});

describe('over stdio: `codecarto mcp` with a refusing endpoint', () => {
  let server: FakeEmbeddingServer;
  let session: StdioSession;

  beforeAll(async () => {
    server = await FakeEmbeddingServer.start({ dims: 64 });
    session = await connectStdio({ CODECARTO_HOME: tempDir('fallback-stdio'), CODECARTO_WATCH: '0' });
  });
  afterAll(async () => {
    await session?.close();
    await server?.close();
  });

  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await session.client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 })) as ToolResult;

  it('answers a hybrid search lexically within 3 s, says why, and does not wait on the endpoint again', async () => {
    expect((await call('set_project', { path: makeRepo(), provider: 'dgx', dgx_endpoint: server.endpoint })).isError).toBeFalsy();
    expect((await call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    await server.refuseFor(600_000);
    const first = await timed(() => call('search', { query: QUERY, k: 5 }));
    expect(first.ms).toBeLessThan(3_000);
    expect(first.value.structuredContent).toMatchObject({ mode: 'lexical', degraded: { requested: 'hybrid', reason: expect.stringMatching(/ECONNREFUSED/) } });
    expect(paths(first.value)[0]).toBe('src/retry.ts');
    const second = await timed(() => call('search', { query: QUERY, k: 5 }));
    expect(second.ms).toBeLessThan(1_000);
    expect(second.value.structuredContent.mode).toBe('lexical');
  });
});
