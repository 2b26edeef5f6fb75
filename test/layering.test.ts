/**
 * The dependency direction of DESIGN.md, enforced: tools/ -> indexer/ -> models/ (+ the store in
 * indexer/store/); src/ wires them; nothing under indexer/ or models/ imports tools/ or src/; no import
 * cycle, type-only imports included. models/errors/ is the neutral bottom: every layer may import it
 * (tools/ included, the one part of models/ tools/ may see) and it imports nothing else of the project.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildImportGraph, findCycles, importSpecifiers, type ImportGraph } from './helpers/import-graph.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FOLDERS = ['src', 'tools', 'indexer', 'models', 'test'] as const;

const NEUTRAL = 'models/errors/';
const under = (file: string, folder: string) => file.startsWith(folder);

interface Rule {
  /** Why the rule exists; printed with each import that breaks it. */
  why: string;
  breaks: (from: string, to: string) => boolean;
}

const RULES: Rule[] = [
  {
    why: 'indexer/ and models/ never import tools/ or src/ (data flows tools -> indexer -> models; src/ wires)',
    breaks: (from, to) => (under(from, 'indexer/') || under(from, 'models/')) && (under(to, 'tools/') || under(to, 'src/')),
  },
  {
    why: 'tools/ reaches models/ only through indexer/ (models/errors/ is neutral and allowed)',
    breaks: (from, to) => under(from, 'tools/') && under(to, 'models/') && !under(to, NEUTRAL),
  },
  {
    why: 'tools/ never imports src/ (src/ wires tools, not the other way round)',
    breaks: (from, to) => under(from, 'tools/') && under(to, 'src/'),
  },
  {
    why: 'models/ is the bottom layer: it never imports indexer/',
    breaks: (from, to) => under(from, 'models/') && under(to, 'indexer/'),
  },
  {
    why: 'models/errors/ is neutral: it imports nothing of the project outside itself',
    breaks: (from, to) => under(from, NEUTRAL) && !under(to, NEUTRAL),
  },
  {
    why: 'the index run and everything else in indexer/ depend on history/, never on eval/ (only src/ and tests use eval/)',
    breaks: (from, to) => under(from, 'indexer/') && !under(from, 'indexer/eval/') && under(to, 'indexer/eval/'),
  },
  {
    why: 'eval/ takes the narrow things it needs (a store, an embedder, a search function), not the Workspace',
    breaks: (from, to) => under(from, 'indexer/eval/') && under(to, 'indexer/workspace/'),
  },
  {
    why: 'only tests import test/',
    breaks: (from, to) => !under(from, 'test/') && under(to, 'test/'),
  },
];

/** "from -> to: why" for every import that breaks a rule. */
function layeringViolations(graph: ImportGraph): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      for (const rule of RULES) if (rule.breaks(from, to)) found.push(`${from} -> ${to}: ${rule.why}`);
    }
  }
  return found.sort();
}

describe('layering: the import graph follows the pipeline', () => {
  const graph = buildImportGraph(ROOT, FOLDERS);

  it('reads the real project (so an empty graph cannot pass)', () => {
    expect(graph.size).toBeGreaterThan(150);
    expect(graph.get('tools/search-code.ts')?.some((to) => to.startsWith('indexer/'))).toBe(true);
    expect(graph.get('indexer/run/run-index.ts')?.some((to) => to.startsWith('models/'))).toBe(true);
  });

  it('no import goes against the layers', () => {
    expect(layeringViolations(graph)).toEqual([]);
  });

  it('no import cycle, type-only imports included', () => {
    const cycles = findCycles(graph).map((loop) => loop.join(' -> '));
    expect(cycles).toEqual([]);
  });
});

describe('the checker itself', () => {
  it('counts every form of import, type-only ones included, and ignores comments and strings', () => {
    const source = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import { type C } from './c.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "export type { F } from './f.js';",
      "const g = await import('./g.js');",
      "type H = import('./h.js').H;",
      "import i = require('./i.js');",
      "import './j.js';",
      "// import { k } from './k.js';",
      "const text = \"import { l } from './l.js'\";",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js', './i.js', './j.js']);
  });

  it('flags each kind of layering break', () => {
    const graph: ImportGraph = new Map([
      ['models/embedder.ts', ['tools/status.ts', 'indexer/store/store-types.ts', 'models/errors/codecarto-error.ts']],
      ['indexer/run/run-index.ts', ['src/config.ts', 'indexer/eval/run-eval.ts', 'models/embedder.ts']],
      ['tools/set-project.ts', ['models/embedder.ts', 'models/errors/codecarto-error.ts', 'src/server.ts', 'indexer/workspace/workspace.ts']],
      ['indexer/eval/run-eval.ts', ['indexer/workspace/workspace.ts', 'indexer/history/commit-miner.ts']],
      ['models/errors/storage-error.ts', ['models/backoff.ts', 'models/errors/cause-chain.ts']],
      ['src/cli.ts', ['test/helpers/in-process.ts', 'tools/index.ts', 'indexer/eval/run-eval.ts', 'models/embedder.ts']],
    ]);
    expect(layeringViolations(graph).map((v) => v.split(':')[0])).toEqual([
      'indexer/eval/run-eval.ts -> indexer/workspace/workspace.ts',
      'indexer/run/run-index.ts -> indexer/eval/run-eval.ts',
      'indexer/run/run-index.ts -> src/config.ts',
      'models/embedder.ts -> indexer/store/store-types.ts',
      'models/embedder.ts -> tools/status.ts',
      'models/errors/storage-error.ts -> models/backoff.ts',
      'src/cli.ts -> test/helpers/in-process.ts',
      'tools/set-project.ts -> models/embedder.ts',
      'tools/set-project.ts -> src/server.ts',
    ]);
  });

  it('reports each cycle as a loop through its files, and nothing for a graph without one', () => {
    const graph: ImportGraph = new Map([
      ['indexer/workspace/workspace.ts', ['indexer/run/index-job.ts']],
      ['indexer/run/index-job.ts', ['indexer/history/fusion-calibration.ts']],
      ['indexer/history/fusion-calibration.ts', ['indexer/eval/run-eval.ts', 'indexer/search/search.ts']],
      ['indexer/eval/run-eval.ts', ['indexer/workspace/workspace.ts']],
      ['indexer/search/search.ts', []],
      ['models/a.ts', ['models/a.ts']],
    ]);
    expect(findCycles(graph).sort()).toEqual([
      [
        'indexer/eval/run-eval.ts',
        'indexer/workspace/workspace.ts',
        'indexer/run/index-job.ts',
        'indexer/history/fusion-calibration.ts',
        'indexer/eval/run-eval.ts',
      ],
      ['models/a.ts', 'models/a.ts'],
    ]);
    graph.set('indexer/eval/run-eval.ts', ['indexer/history/commit-miner.ts']);
    graph.set('models/a.ts', []);
    expect(findCycles(graph)).toEqual([]);
  });
});
