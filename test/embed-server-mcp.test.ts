import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestModel } from '../models/test-model.js';
import { startEmbedServer, type RunningEmbedServer } from '../src/embed-server/embed-server.js';
import { connectStdio, copyThirdPartyTree, tempDir, type StdioSession } from './helpers/stdio-client.js';

type Structured = Record<string, any>;

/**
 * The seed's set_project call, provider "dgx", pointed at codecarto's own embedding server instead of
 * the FastAPI one: the built MCP server over stdio (real SDK client) indexes a real third-party tree
 * through /embed and finds a known hit.
 */
describe('codecarto mcp with provider dgx against codecarto embed-server', () => {
  let server: RunningEmbedServer;
  let session: StdioSession;
  let repo: string;

  beforeAll(async () => {
    const modelDir = join(tempDir('embed-mcp-model'), 'nv-embed-test');
    await makeTestModel(modelDir);
    server = await startEmbedServer({ modelDir, port: 0, device: 'cpu' });
    repo = copyThirdPartyTree('picomatch', 'picomatch');
    session = await connectStdio({ CODECARTO_HOME: tempDir('embed-mcp-home') });
  });

  afterAll(async () => {
    await session?.close();
    await server?.close();
  });

  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await session.client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as {
      isError?: boolean;
      content: { text: string }[];
      structuredContent: Structured;
    };

  it('indexes picomatch through /embed and finds lib/scan.js for a query about scanning globs', async () => {
    const set = await call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: `${server.url}/embed`, batch_size: 48 });
    expect(set.isError).toBeFalsy();

    const summary = (await call('index', { wait_seconds: 120 })).structuredContent;
    expect(summary.state).toBe('done');
    expect(summary.chunks_embedded).toBeGreaterThan(20);
    expect(summary.chunks_pending).toBe(0);

    const status = (await call('status')).structuredContent;
    expect(status.dims).toBe(4096);
    expect(status.chunks_with_vectors).toBe(status.chunks);

    const semantic = await call('search', { query: 'scan a glob pattern into tokens', k: 5, mode: 'semantic' });
    expect(semantic.isError).toBeFalsy();
    expect(semantic.structuredContent.mode).toBe('semantic');
    const paths = (semantic.structuredContent.results as Structured[]).map((h) => h.path);
    expect(paths).toContain('lib/scan.js');

    // Every chunk and the query went through the server (plus the client's health pings).
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const texts = Number(/^codecarto_embed_texts_total (\d+)$/m.exec(metrics)?.[1]);
    expect(texts).toBeGreaterThanOrEqual(summary.chunks_embedded + 1);
  });
});
