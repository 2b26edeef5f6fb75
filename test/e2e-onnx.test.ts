import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, connectStdio, copyThirdPartyTree, tempDir, type StdioSession } from './helpers/stdio-client.js';

type Structured = Record<string, any>;

/**
 * End to end over stdio with the real SDK client: index a real third-party tree (zod's v3 sources,
 * installed by `npm ci`) with the generated NV-Embed-shaped ONNX model, search it, edit one file and
 * re-index.
 */
describe('codecarto mcp over stdio with the onnx test model', () => {
  let session: StdioSession;
  let repo: string;
  let modelDir: string;
  let home: string;

  beforeAll(async () => {
    home = tempDir('home');
    modelDir = join(tempDir('model'), 'nv-embed-test');
    execFileSync(process.execPath, [cliPath, 'models', 'make-test-model', modelDir]);
    repo = copyThirdPartyTree('zod/src/v3', 'zod');
    // Watching off: these tests assert the exact counts of explicit index runs (watching is tested in watch.test.ts).
    session = await connectStdio({ CODECARTO_HOME: home, CODECARTO_WATCH: '0' });
  });

  afterAll(async () => {
    await session?.close();
  });

  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = await session.client.callTool({ name, arguments: args }, undefined, { timeout: 300_000, resetTimeoutOnProgress: true });
    return result as { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: Structured };
  };

  it('lists the seven tools with descriptions', async () => {
    const { tools } = await session.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['find_symbol', 'index', 'outline', 'references', 'search', 'set_project', 'status']);
    for (const tool of tools) {
      expect(tool.description!.length).toBeGreaterThan(60);
      expect(tool.outputSchema).toBeDefined();
    }
  });

  it('says to call set_project before search', async () => {
    const result = await call('search', { query: 'parse' });
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toMatch(/set_project/);
  });

  it('indexes, searches, and re-embeds only the edited chunks', async () => {
    const set = await call('set_project', { path: repo, provider: 'onnx', model: modelDir, device: 'cpu' });
    expect(set.isError).toBeFalsy();
    expect(set.structuredContent!.provider).toBe('onnx');
    expect(set.structuredContent!.dims).toBe(4096);

    const progress: number[] = [];
    const indexed = (await session.client.callTool(
      { name: 'index', arguments: { wait_seconds: 600 } },
      undefined,
      { timeout: 600_000, resetTimeoutOnProgress: true, onprogress: (p) => progress.push(p.progress) },
    )) as { structuredContent: Structured; content: { text: string }[] };
    const summary = indexed.structuredContent;
    expect(summary.state).toBe('done');
    expect(summary.files_added).toBeGreaterThan(50);
    expect(summary.chunks_total).toBeGreaterThan(500);
    expect(summary.chunks_embedded).toBeGreaterThan(500);
    expect(summary.tokens_padded).toBeGreaterThanOrEqual(summary.tokens_embedded);
    expect(progress.length).toBeGreaterThan(0);

    // Lexical: an identifier split into words finds its definition.
    const lexical = await call('search', { query: 'ZodError flatten', mode: 'lexical', k: 5 });
    const lexHits = lexical.structuredContent!.results as Structured[];
    expect(lexHits.some((h) => h.path === 'ZodError.ts')).toBe(true);

    // Hybrid is the default once vectors exist.
    const hybrid = await call('search', { query: 'ZodError flatten formErrors fieldErrors', k: 5 });
    expect(hybrid.structuredContent!.mode).toBe('hybrid');
    const hit = (hybrid.structuredContent!.results as Structured[])[0];
    expect(hit.path).toBe('ZodError.ts');
    expect(hit.start_line).toBeGreaterThan(0);
    expect(hit.end_line).toBeGreaterThanOrEqual(hit.start_line);
    expect(hit.snippet).toMatch(/flatten/);
    expect(hybrid.content[0].text).toMatch(/^.*ZodError\.ts:\d+-\d+/m);

    // Filters.
    const filtered = await call('search', { query: 'flatten', path_glob: 'tests/**', k: 10 });
    for (const h of filtered.structuredContent!.results as Structured[]) expect(h.path.startsWith('tests/')).toBe(true);

    // One edit: only the new chunk text is embedded.
    const file = join(repo, 'helpers', 'util.ts');
    appendFileSync(file, '\nexport function codecartoCanaryHelper(value: string): string {\n  return value.split("").reverse().join("");\n}\n');
    const again = (await call('index', { wait_seconds: 600 })).structuredContent!;
    expect(again.state).toBe('done');
    expect(again.files_changed).toBe(1);
    expect(again.files_added).toBe(0);
    expect(again.chunks_embedded).toBeGreaterThanOrEqual(1);
    expect(again.chunks_embedded).toBeLessThanOrEqual(3);

    const canary = await call('search', { query: 'codecarto canary helper reverse', k: 3 });
    const top = (canary.structuredContent!.results as Structured[])[0];
    expect(top.path).toBe('helpers/util.ts');
    expect(top.snippet).toMatch(/codecartoCanaryHelper/);

    const status = await call('status');
    expect(status.structuredContent!.chunks_with_vectors).toBe(status.structuredContent!.chunks);
    expect(status.structuredContent!.device).toBe('cpu');
    expect(status.structuredContent!.stale_files).toBe(0);
    // The project is no git repository: hybrid keeps plain fusion and says why.
    expect(status.structuredContent!.fusion).toMatchObject({ method: 'default', semantic_weight: 1, queries: 0 });
    expect(status.structuredContent!.fusion.reason).toMatch(/^no git history to calibrate on/);
    expect(status.content[0].text).toMatch(/Hybrid search: plain rank fusion \(no git history/);
  });
});
