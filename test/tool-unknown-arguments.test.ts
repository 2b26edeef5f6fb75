import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess, type InProcessSession } from './helpers/in-process.js';
import { tempDir } from './helpers/stdio-client.js';

/**
 * Guards: the SDK wraps a raw input shape in z.object, which strips unknown keys, so `search {query, top_k: 3}`
 * answered as if k were unset and the agent never learnt that top_k means nothing. Every tool now refuses
 * an unknown argument and names the ones it takes.
 */

/** A valid call of each tool, so that the unknown argument is the only thing wrong with it. */
function validArguments(repo: string): Record<string, Record<string, unknown>> {
  return {
    set_project: { path: repo, provider: 'none' },
    index: { wait_seconds: 0 },
    search: { query: 'parse the config' },
    status: {},
    find_symbol: { name: 'parseConfig' },
    references: { name: 'parseConfig' },
    outline: { path: '.' },
  };
}

describe('unknown tool arguments', () => {
  let session: InProcessSession;
  let repo: string;

  beforeAll(async () => {
    repo = join(tempDir('unknown-args-repo'), 'repo');
    mkdirSync(repo, { recursive: true });
    writeFileSync(join(repo, 'config.ts'), 'export function parseConfig(text: string) {\n  return JSON.parse(text);\n}\n');
    session = await connectInProcess({ home: tempDir('unknown-args-home') });
  });

  afterAll(async () => {
    await session?.close();
  });

  it('tools/list publishes each input schema as a closed object', async () => {
    const { tools } = await session.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(expect.arrayContaining(['index', 'search', 'set_project', 'status']));
    for (const tool of tools) {
      expect(tool.inputSchema.type, tool.name).toBe('object');
      expect(tool.inputSchema.additionalProperties, tool.name).toBe(false);
    }
    const search = tools.find((t) => t.name === 'search')!;
    expect(Object.keys(search.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['query', 'k', 'path_glob', 'language', 'mode']));
    expect(search.inputSchema.required).toEqual(['query']);
  });

  it('every tool refuses an unknown argument with an error naming the accepted ones, and takes the call without it', async () => {
    const { tools } = await session.client.listTools();
    const valid = validArguments(repo);
    for (const tool of tools) {
      const args = valid[tool.name];
      expect(args, `a valid call of ${tool.name} in this test`).toBeDefined();
      const accepted = Object.keys(tool.inputSchema.properties ?? {});
      const wrong = await session.call(tool.name, { ...args, top_k: 3 });
      expect(wrong.isError, tool.name).toBe(true);
      const text = wrong.content[0].text;
      const named = accepted.length > 0 ? `accepted are ${accepted.join(', ')}` : 'it takes no arguments';
      expect(text).toContain(`Unknown argument "top_k" for ${tool.name}: ${named}.`);
      // The right call still works (set_project first, so the others have a project).
      const right = await session.call(tool.name, args);
      expect(right.isError ?? false, `${tool.name}: ${right.content[0]?.text}`).toBe(false);
    }
  });

  it('names every unknown argument, and reports them beside other problems', async () => {
    const two = await session.call('search', { query: 'x', top_k: 3, filter: 'ts' });
    expect(two.isError).toBe(true);
    expect(two.content[0].text).toContain('Unknown arguments "top_k", "filter" for search: accepted are query, k,');
    const also = await session.call('search', { q: 'parse the config' });
    expect(also.isError).toBe(true);
    expect(also.content[0].text).toMatch(/query/);
    expect(also.content[0].text).toContain('Unknown argument "q" for search');
    const status = await session.call('status', { verbose: true });
    expect(status.isError).toBe(true);
    expect(status.content[0].text).toContain('Unknown argument "verbose" for status: it takes no arguments.');
  });
});
