import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/stdio-client.js';

/**
 * In a fresh process (grammars load once per process, so this cannot run after other tests have loaded
 * them), files of six languages are chunked all at once: their grammar loads overlap, which
 * web-tree-sitter does not survive unless the loads are serialized.
 */
const SCRIPT = `
import { chunkFile } from ${JSON.stringify(join(repoRoot, 'dist/indexer/chunk/chunk-file.js'))};
import { loadMistralTokenizer } from ${JSON.stringify(join(repoRoot, 'dist/models/hf-tokenizer.js'))};
const tokenizer = loadMistralTokenizer();
const files = [
  ['a.ts', 'typescript', 'export function alpha(x: number): number {\\n  return x + 1;\\n}\\n'],
  ['b.js', 'javascript', 'function beta(y) {\\n  return y * 2;\\n}\\n'],
  ['c.c', 'c', 'int gamma(int z) {\\n  return z - 1;\\n}\\n'],
  ['d.cpp', 'cpp', 'template <typename T>\\nT delta(T w) {\\n  return w;\\n}\\n'],
  ['e.py', 'python', 'def epsilon(v):\\n    return v\\n'],
  ['f.go', 'go', 'package f\\n\\nfunc Zeta(u int) int {\\n\\treturn u\\n}\\n'],
];
const chunks = await Promise.all(files.map(([path, language, text]) => chunkFile({ path, language, text }, { tokenizer })));
process.stdout.write(JSON.stringify(chunks.map((c) => c.map((x) => x.kind + ':' + x.symbol))));
`;

describe('tree-sitter grammars', () => {
  it('load correctly when files of several languages are chunked concurrently', () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).not.toMatch(/cannot load the tree-sitter grammar/);
    expect(child.status).toBe(0);
    const kinds = JSON.parse(child.stdout) as string[][];
    // Every file is cut at its function, none falls back to line windows.
    expect(kinds.flat().every((k) => !k.startsWith('lines:'))).toBe(true);
    expect(kinds.map((k) => k.find((x) => x.startsWith('function:')))).toEqual([
      'function:alpha',
      'function:beta',
      'function:gamma',
      'function:delta',
      'function:epsilon',
      'function:Zeta',
    ]);
  }, 90_000);
});
