import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runEval } from '../indexer/eval/run-eval.js';
import { commitFunctionAnswers, firstFunctionHitRank, type FunctionAnswer } from '../indexer/history/commit-functions.js';
import { mineQueries } from '../indexer/history/commit-miner.js';
import { changedLines, parseUnifiedDiff, translateLine, unquoteC } from '../indexer/history/diff-hunks.js';
import { readGitHistory } from '../indexer/history/git-history.js';
import { runIndex } from '../indexer/run/run-index.js';
import { search } from '../indexer/search/search.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import { formatEvalReport } from '../src/eval-command.js';
import { HistoryRepo } from './helpers/history-repo.js';
import { tempDir } from './helpers/stdio-client.js';

/**
 * Issue 18.6: `codecarto eval` scores functions too. The functions a commit's hunks touched, carried to
 * the working tree that the index holds, are the answers; function recall@k and MRR@k sit beside the
 * file figures. The history is a real git repository built here (test/helpers/history-repo.ts).
 */

describe('unified diffs as data', () => {
  const patch = [
    'diff --git a/src/a.ts b/src/a.ts',
    'index 1111111..2222222 100644',
    '--- a/src/a.ts',
    '+++ b/src/a.ts',
    '@@ -0,0 +1,2 @@',
    '+--- a/not/a/header',
    '+diff --git looks like a header but is code',
    '@@ -5 +6,0 @@ function f() {',
    '-  gone();',
    '@@ -9,2 +10,3 @@',
    '-  old();',
    '-  older();',
    '+  new();',
    '+@@ -1 +1 @@',
    '+  newer();',
    '\\ No newline at end of file',
    'diff --git "a/odd\\tname \\303\\251.py" "b/odd\\tname \\303\\251.py"',
    'deleted file mode 100644',
    '--- "a/odd\\tname \\303\\251.py"',
    '+++ /dev/null',
    '@@ -1,3 +0,0 @@',
    '-x',
    '-y',
    '-z',
  ].join('\n');

  it('reads each file\'s hunks, skipping content lines that look like headers', () => {
    const files = parseUnifiedDiff(patch);
    expect(files).toEqual([
      {
        oldPath: 'src/a.ts',
        newPath: 'src/a.ts',
        hunks: [
          { oldStart: 0, oldCount: 0, newStart: 1, newCount: 2 },
          { oldStart: 5, oldCount: 1, newStart: 6, newCount: 0 },
          { oldStart: 9, oldCount: 2, newStart: 10, newCount: 3 },
        ],
      },
      { oldPath: 'odd\tname é.py', newPath: null, hunks: [{ oldStart: 1, oldCount: 3, newStart: 0, newCount: 0 }] },
    ]);
    expect(changedLines(files[0].hunks)).toEqual({ lines: [1, 2, 10, 11, 12], deletions: [6] });
    expect(unquoteC('"a\\"b\\\\c"')).toBe('a"b\\c');
  });

  it('carries an old line to the new side, or drops it when the diff rewrote it', () => {
    const [file] = parseUnifiedDiff(patch);
    const carried = [1, 4, 5, 6, 8, 9, 10, 11, 20].map((line) => translateLine(file.hunks, line));
    // +2 above line 1; line 5 removed (-1 after it); lines 9-10 rewritten into 3 (+1 after them).
    expect(carried).toEqual([3, 6, null, 7, 9, null, null, 13, 22]);
  });
});

/** Builds the history; returns the commits by name. The working tree then gains two lines above everything in geo.ts, uncommitted. */
function buildFunctionRepo(): { repo: HistoryRepo; commits: Record<string, string> } {
  const repo = new HistoryRepo();
  const geo = (area: string, perimeterDebug: boolean, scale: string, logger: boolean) =>
    [
      ...(logger ? ['export function logShapeEvent(event: string): void {', '  console.log(event);', '}', ''] : []),
      'export function circleArea(radius: number): number {',
      `  return ${area};`,
      '}',
      '',
      'export function rectanglePerimeter(width: number, height: number): number {',
      ...(perimeterDebug ? ["  console.log('perimeter', width, height);"] : []),
      '  return 2 * (width + height);',
      '}',
      '',
      'export function scaleShape(size: number, factor: number): number {',
      `  return ${scale};`,
      '}',
      '',
    ].join('\n');
  const plainArea = 'Math.PI * radius * radius';
  const roundArea = 'Math.round(Math.PI * radius * radius * 100) / 100';
  const box = (volume: boolean) =>
    [
      'class Box:',
      '    def __init__(self, width, height, depth):',
      '        self.width = width',
      '        self.height = height',
      '        self.depth = depth',
      ...(volume ? ['', '    def compute_volume(self):', '        return self.width * self.height * self.depth'] : []),
      '',
    ].join('\n');
  const commits: Record<string, string> = {};
  commits.helpers = repo.commit({ subject: 'Add geometry helpers for shapes', write: { 'src/geo.ts': geo(plainArea, true, 'size * factor', false) } });
  commits.round = repo.commit({ subject: 'Round the circle area to two decimals', write: { 'src/geo.ts': geo(roundArea, true, 'size * factor', false) } });
  commits.tune = repo.commit({ subject: 'Tune the scale factor for tiny shapes', write: { 'src/geo.ts': geo(roundArea, true, 'size * factor * 1.01', false) } });
  commits.debug = repo.commit({ subject: 'Remove debug output from rectangle perimeter', write: { 'src/geo.ts': geo(roundArea, false, 'size * factor * 1.01', false) } });
  commits.clamp = repo.commit({ subject: 'Clamp the scale factor to positive values', write: { 'src/geo.ts': geo(roundArea, false, 'size * Math.max(factor, 0)', false) } });
  commits.logger = repo.commit({ subject: 'Add a logging helper for shape events', write: { 'src/geo.ts': geo(roundArea, false, 'size * Math.max(factor, 0)', true) } });
  commits.box = repo.commit({ subject: 'Create the box class with its dimensions', write: { 'src/box.py': box(false) } });
  commits.volume = repo.commit({ subject: 'Add method to compute the volume of boxes', write: { 'src/box.py': box(true) } });
  // Not committed: the index (and so the answers) follow the working tree.
  writeFileSync(join(repo.dir, 'src', 'geo.ts'), `const UNIT = 1;\n\n${geo(roundArea, false, 'size * Math.max(factor, 0)', true)}`);
  return { repo, commits };
}

const fn = (path: string, symbol: string, kind: string, start_line: number, end_line: number): FunctionAnswer => ({ path, symbol, kind, start_line, end_line });

describe('function answers from a git history', () => {
  let repo: HistoryRepo;
  let commits: Record<string, string>;
  beforeAll(() => {
    ({ repo, commits } = buildFunctionRepo());
  });

  it('are the functions of the working tree that hold lines each commit changed and no later change rewrote', async () => {
    const history = await readGitHistory(repo.dir, { maxCommits: 100 });
    const mined = mineQueries(history.commits, { indexed: new Set(['src/geo.ts', 'src/box.py']), limit: 100 });
    expect(mined.queries).toHaveLength(8);
    const answers = await commitFunctionAnswers(mined.queries, { root: repo.dir, pathPrefix: '' });
    // Current geo.ts: UNIT and a blank line, then logShapeEvent 3-5, circleArea 7-9, rectanglePerimeter 11-13, scaleShape 15-17.
    const circle = fn('src/geo.ts', 'circleArea', 'function', 7, 9);
    const perimeter = fn('src/geo.ts', 'rectanglePerimeter', 'function', 11, 13);
    const scale = fn('src/geo.ts', 'scaleShape', 'function', 15, 17);
    expect(Object.fromEntries(Object.entries(commits).map(([name, hash]) => [name, answers.get(hash)]))).toEqual({
      // Added every line; the rewritten ones are dropped, the rest still mark all three functions.
      helpers: [circle, perimeter, scale],
      round: [circle],
      // Its one line was rewritten by "Clamp ...": nothing of it is in the working tree.
      tune: [],
      // Only removed a line: the function holding the lines on both sides of the gap.
      debug: [perimeter],
      clamp: [scale],
      logger: [fn('src/geo.ts', 'logShapeEvent', 'function', 3, 5)],
      // Methods, not their class.
      box: [fn('src/box.py', 'Box.__init__', 'method', 2, 5)],
      volume: [fn('src/box.py', 'Box.compute_volume', 'method', 7, 8)],
    });
  });

  it('are the same for a project in a subdirectory of the repository, with project-relative paths', async () => {
    const root = join(repo.dir, 'src');
    const history = await readGitHistory(root, { maxCommits: 100 });
    expect(history.pathPrefix).toBe('src/');
    const mined = mineQueries(history.commits, { indexed: new Set(['geo.ts', 'box.py']), pathPrefix: history.pathPrefix, limit: 100 });
    const answers = await commitFunctionAnswers(mined.queries, { root, pathPrefix: history.pathPrefix });
    expect(answers.get(commits.debug)).toEqual([fn('geo.ts', 'rectanglePerimeter', 'function', 11, 13)]);
    expect(answers.get(commits.volume)).toEqual([fn('box.py', 'Box.compute_volume', 'method', 7, 8)]);
  });

  it('a hit counts when its lines hold an answer function\'s first line, in the same file, within the first k', () => {
    const answers = [fn('a.ts', 'f', 'function', 10, 20)];
    const hit = (path: string, start_line: number, end_line: number) => ({ path, start_line, end_line });
    expect(firstFunctionHitRank([hit('a.ts', 12, 20), hit('b.ts', 10, 20), hit('a.ts', 1, 10)], answers, 10)).toBe(3);
    expect(firstFunctionHitRank([hit('a.ts', 10, 10)], answers, 10)).toBe(1);
    expect(firstFunctionHitRank([hit('b.ts', 1, 50), hit('a.ts', 5, 15)], answers, 1)).toBeNull();
    expect(firstFunctionHitRank([], answers, 10)).toBeNull();
  });

  it('runEval reports function recall@k and MRR@k beside the file figures, and the table shows them', async () => {
    const store = openIndexStore(tempDir('eval-fn-data'));
    const embedder = new NoneEmbedder();
    try {
      expect((await runIndex({ root: repo.dir, store, embedder, prepareWorkers: 0 })).state).toBe('done');
      const history = await readGitHistory(repo.dir, { maxCommits: 100 });
      const report = await runEval(
        { root: repo.dir, store, embedder, search: (request) => search(store, embedder, request) },
        { history, queries: 100, k: 10, modes: ['grep', 'lexical'] },
      );
      expect(report.queries).toBe(8);
      expect(report.function_queries).toBe(7); // all but "Tune ...", whose change was rewritten
      const lexical = report.modes.lexical!;
      expect(lexical.function_queries).toBe(7);
      expect(lexical.function_hits_at_k).toBeGreaterThan(0);
      expect(lexical.function_recall_at_k).toBeCloseTo(lexical.function_hits_at_k! / 7, 12);
      expect(lexical.function_mrr_at_k).toBeGreaterThan(0);
      expect(lexical.function_mrr_at_k).toBeLessThanOrEqual(lexical.function_recall_at_k!);
      // Grep ranks files, not lines: no function figures rather than made-up ones.
      expect(report.modes.grep).toMatchObject({ function_queries: null, function_recall_at_k: null, function_mrr_at_k: null });

      const table = formatEvalReport(report);
      expect(table).toMatch(/^mode\s+queries\s+recall@1\s+recall@10\s+MRR@10\s+fn recall@10\s+fn MRR@10\s+seconds$/m);
      expect(table).toMatch(new RegExp(`^lexical\\s+8\\s+\\S+\\s+\\S+\\s+\\S+\\s+${lexical.function_recall_at_k!.toFixed(3)}\\s+${lexical.function_mrr_at_k!.toFixed(3)}\\s`, 'm'));
      expect(table).toMatch(/^grep\s+8(\s+\d\.\d{3}){3}\s+-\s+-\s/m);
      expect(table).toMatch(/Function answers \(fn columns, over 7 queries\)/);
    } finally {
      store.close();
    }
  });
});
