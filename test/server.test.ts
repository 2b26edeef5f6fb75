import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectInProcess } from './helpers/in-process.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { tempDir } from './helpers/stdio-client.js';

type Structured = Record<string, any>;
type ToolResult = { isError?: boolean; content: { text: string }[]; structuredContent: Structured };

/** A small repository of many files, so an index run lasts long enough to be observed. */
function makeRepo(files: number): string {
  const repo = join(tempDir('repo'), 'repo');
  mkdirSync(join(repo, 'src'), { recursive: true });
  for (let i = 0; i < files; i++) {
    writeFileSync(
      join(repo, 'src', `module${i}.ts`),
      `export function handler${i}(request: Request): Response {\n  const value${i} = request.headers.get('x-${i}');\n  return new Response(value${i});\n}\n`,
    );
  }
  writeFileSync(join(repo, 'src', 'retry.ts'), 'export async function retryWithBackoff(fn: () => Promise<void>) {\n  for (let attempt = 0; attempt < 5; attempt++) {\n    try { return await fn(); } catch { await sleep(2 ** attempt * 100); }\n  }\n}\n');
  return repo;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function connect(): Promise<Client> {
  const session = await connectInProcess({ home: tempDir('home') });
  cleanups.push(session.close);
  return session.client;
}

const call = async (client: Client, name: string, args: Record<string, unknown> = {}, options = {}) =>
  (await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000, ...options })) as ToolResult;

describe('tool arguments', () => {
  it('rejects bad values with a message that says what is accepted', async () => {
    const client = await connect();
    const repo = makeRepo(1);
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['set_project', { path: repo, provider: 'gpu' }, /dgx, onnx, openai, none/],
      ['set_project', { path: repo, provider: 'dgx', dgx_endpoint: 'not a url' }, /http\(s\) URL/],
      ['set_project', { path: repo, provider: 'dgx', dgx_endpoint: 'http://127.0.0.1:1/embed', batch_size: 0 }, /1 to 512|>=1|too small/i],
      ['set_project', { path: repo, provider: 'dgx' }, /needs dgx_endpoint/],
      ['set_project', { path: join(repo, 'missing') }, /does not exist/],
      ['set_project', { path: join(repo, 'src', 'retry.ts') }, /is a file, not a directory/],
      ['set_project', { path: 'relative/dir' }, /absolute path/],
      ['search', { query: '' }, /query is empty/],
      ['index', {}, /set_project/],
    ];
    for (const [tool, args, message] of cases) {
      const result = await call(client, tool, args);
      expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(result.content[0].text).toMatch(message);
    }
  });
});

describe('index in the background', () => {
  it('returns "still indexing" after wait_seconds, sends progress, and search works meanwhile', async () => {
    const gpu = await FakeEmbeddingServer.start({ stallMs: 150, dims: 64 });
    cleanups.push(() => gpu.close());
    const client = await connect();
    const repo = makeRepo(120);
    await call(client, 'set_project', { path: repo, provider: 'dgx', dgx_endpoint: gpu.endpoint, batch_size: 4 });

    const progress: number[] = [];
    const firstProgress: number[] = [];
    const first = await call(client, 'index', { wait_seconds: 0.5 }, { onprogress: (p: { progress: number }) => firstProgress.push(p.progress) });
    expect(first.structuredContent.state).toBe('running');
    expect(first.content[0].text).toMatch(/Still indexing/);

    const during = await call(client, 'search', { query: 'retry with backoff' });
    expect(during.structuredContent.partial).toBe(true);
    expect(during.content[0].text).toMatch(/still running/);

    // A second call joins the same run and waits for it.
    const joined = await call(client, 'index', { wait_seconds: 120 }, { onprogress: (p: { progress: number }) => progress.push(p.progress) });
    expect(joined.structuredContent.state).toBe('done');
    expect(joined.structuredContent.files_added).toBe(121);
    expect(firstProgress.length + progress.length).toBeGreaterThan(1);
    // MCP: within one call, each notification's progress is greater than the last.
    for (const values of [firstProgress, progress]) for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]);

    const after = await call(client, 'search', { query: 'retry each attempt with backoff and sleep' });
    expect(after.structuredContent.partial).toBe(false);
    expect(after.structuredContent.results[0].path).toBe('src/retry.ts');
  });

  it('cancelling the index call stops the run and keeps what was embedded', async () => {
    const gpu = await FakeEmbeddingServer.start({ stallMs: 200, dims: 64 });
    cleanups.push(() => gpu.close());
    const client = await connect();
    const repo = makeRepo(200);
    await call(client, 'set_project', { path: repo, provider: 'dgx', dgx_endpoint: gpu.endpoint, batch_size: 4 });
    const controller = new AbortController();
    const pending = client.callTool({ name: 'index', arguments: { wait_seconds: 600 } }, undefined, { signal: controller.signal, timeout: 60_000 });
    // Cancel once some vectors are stored and many are not.
    const until = Date.now() + 20_000;
    while ((await call(client, 'status')).structuredContent.chunks_with_vectors === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    controller.abort();
    await expect(pending).rejects.toThrow();
    // The run notices the cancellation; status then shows no run and a partial index.
    let status: ToolResult;
    const deadline = Date.now() + 10_000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      status = await call(client, 'status');
    } while (status.structuredContent.indexing !== null && Date.now() < deadline);
    expect(status.structuredContent.indexing).toBeNull();
    expect(status.structuredContent.last_index.state).toBe('cancelled');
    expect(status.structuredContent.chunks_with_vectors).toBeGreaterThan(0);
    expect(status.structuredContent.chunks_with_vectors).toBeLessThan(status.structuredContent.chunks);

    // The next run embeds only the rest.
    const embeddedBefore = status.structuredContent.chunks_with_vectors;
    const resumed = await call(client, 'index', { wait_seconds: 120 });
    expect(resumed.structuredContent.state).toBe('done');
    expect(resumed.structuredContent.chunks_embedded).toBe(resumed.structuredContent.chunks_total - embeddedBefore);
  });
});
