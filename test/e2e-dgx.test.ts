import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { connectStdio, copyThirdPartyTree, tempDir, type StdioSession } from './helpers/stdio-client.js';

type Structured = Record<string, any>;

/**
 * The seed's call, unchanged, against a local server speaking the seed protocol that fails like the
 * user's GPU does above 48 texts, over stdio with the real SDK client.
 */
describe('the seed set_project call against a DGX-style /embed server', () => {
  let server: FakeEmbeddingServer;
  let session: StdioSession;
  let repo: string;

  beforeAll(async () => {
    server = await FakeEmbeddingServer.start({ failAboveTexts: 48 });
    repo = copyThirdPartyTree('picomatch', 'picomatch');
    // Watching off: these tests assert the exact counts of explicit index runs (watching is tested in watch.test.ts).
    session = await connectStdio({ CODECARTO_HOME: tempDir('dgx-home'), CODECARTO_WATCH: '0' });
  });

  afterAll(async () => {
    await session?.close();
    await server?.close();
  });

  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await session.client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 })) as {
      isError?: boolean;
      content: { text: string }[];
      structuredContent: Structured;
    };

  it('set_project(path, provider: "dgx", dgx_endpoint, batch_size: 48), then index, then search', async () => {
    const set = await call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: server.endpoint, batch_size: 48 });
    expect(set.isError).toBeFalsy();
    expect(set.structuredContent.provider).toBe('dgx');

    const summary = (await call('index', { wait_seconds: 300 })).structuredContent;
    expect(summary.state).toBe('done');
    expect(summary.chunks_embedded).toBeGreaterThan(20);
    expect(summary.chunks_pending).toBe(0);
    const embedRequests = server.requests.filter((r) => r.path === '/embed');
    expect(embedRequests.length).toBeGreaterThan(0);
    for (const r of embedRequests) {
      expect(r.texts.length).toBeLessThanOrEqual(48);
      // Passages carry no instruction.
      expect(r.instruction).toBeUndefined();
    }

    const found = await call('search', { query: 'scan a glob pattern into tokens', k: 5 });
    expect(found.structuredContent.mode).toBe('hybrid');
    const paths = (found.structuredContent.results as Structured[]).map((h) => h.path);
    expect(paths).toContain('lib/scan.js');
    // The query went out with the code-search instruction.
    const queryRequest = server.requests.at(-1)!;
    expect(queryRequest.texts).toEqual(['scan a glob pattern into tokens']);
    expect(queryRequest.instruction).toMatch(/code/i);
  });

  it('re-indexing after one edit embeds only the changed chunks', async () => {
    const before = server.requests.length;
    appendFileSync(join(repo, 'lib', 'utils.js'), '\nexports.codecartoCanary = function codecartoCanary(input) {\n  return String(input).trim();\n};\n');
    const summary = (await call('index', { wait_seconds: 300 })).structuredContent;
    expect(summary.state).toBe('done');
    expect(summary.files_changed).toBe(1);
    expect(summary.chunks_embedded).toBeGreaterThanOrEqual(1);
    expect(summary.chunks_embedded).toBeLessThanOrEqual(3);
    const texts = server.requests.slice(before).flatMap((r) => r.texts);
    expect(texts.length).toBe(summary.chunks_embedded);
    expect(texts.some((t) => t.includes('codecartoCanary'))).toBe(true);
  });

  it('batch_size 64 against a server that fails above 48 completes with every vector stored', async () => {
    await call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: server.endpoint, batch_size: 64 });
    const summary = (await call('index', { full: true, wait_seconds: 300 })).structuredContent;
    expect(summary.state).toBe('done');
    expect(summary.chunks_pending).toBe(0);
    const status = (await call('status')).structuredContent;
    expect(status.chunks_with_vectors).toBe(status.chunks);
    expect(server.requests.some((r) => r.status === 500)).toBe(summary.chunks_embedded > 48);
  });
});
