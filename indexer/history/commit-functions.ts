/**
 * Function-level answers for history queries: the functions a commit changed, as they are defined in
 * the working tree now, which is what the index holds.
 *
 * A commit's hunks (`git show --unified=0`) say which lines of its version of a file it wrote or where
 * it removed lines. Those lines are carried to the working tree through `git diff --unified=0 <commit>`
 * (the commit's tree against the working tree): a line a later change rewrote or removed is dropped,
 * the others move with the lines inserted or removed above them. An answer is a function or method
 * of the current file (the chunker's tree-sitter outline) that holds a carried line, or holds both
 * lines around a carried deletion. A query whose changes were all rewritten since has no function
 * answers and is left out of the function figures (its file answers still count).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { languageForPath, SYNTAX_LANGUAGES } from '../chunk/languages.js';
import { buildOutline, type Region } from '../chunk/syntax-outline.js';
import { SYNTAX_SPECS } from '../chunk/syntax-specs.js';
import { getParser } from '../chunk/tree-sitter-parser.js';
import type { EvalQuery } from './commit-miner.js';
import { changedLines, parseUnifiedDiff, translateLine, type FileDiff } from './diff-hunks.js';
import { git } from './git-history.js';

export interface FunctionAnswer {
  /** Project-relative, as the index holds it. */
  path: string;
  symbol: string | null;
  kind: string;
  /** 1-based lines of the definition in the working tree (attached doc comments and attributes included, as its chunk starts). */
  start_line: number;
  end_line: number;
}

export interface FunctionAnswerOptions {
  /** The project's root (git runs here; the files are read from here). */
  root: string;
  /** The project root relative to the repository's top level, with a trailing slash ("" at the top). */
  pathPrefix: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Outline kinds that are functions (functions are never containers: nested ones stay inside their owner). */
const FUNCTION_KINDS = new Set(['function', 'method']);
/** Files past this are not parsed by the chunker either (chunk-file.ts). */
const MAX_PARSE_CHARS = 4_000_000;

/** Settings that would change the patch text are pinned, so a user's git config cannot break parsing. */
const DIFF_CONFIG = ['-c', 'core.quotePath=false', '-c', 'diff.noprefix=false', '-c', 'diff.mnemonicPrefix=false', '-c', 'diff.relative=false', '-c', 'color.ui=never'];
const DIFF_FLAGS = ['--unified=0', '--no-renames', '--no-color', '--no-ext-diff', '--no-textconv', '--src-prefix=a/', '--dst-prefix=b/'];

/** Per query commit, its function answers (possibly none). Two read-only git commands per query. */
export async function commitFunctionAnswers(queries: readonly EvalQuery[], options: FunctionAnswerOptions): Promise<Map<string, FunctionAnswer[]>> {
  const opts = { timeoutMs: options.timeoutMs ?? 60_000, signal: options.signal };
  const outlines = new Map<string, Promise<Region[]>>();
  const functionsOf = (path: string) => {
    let regions = outlines.get(path);
    if (!regions) outlines.set(path, (regions = currentFunctions(options.root, path)));
    return regions;
  };
  const out = new Map<string, FunctionAnswer[]>();
  for (const query of queries) {
    const repoPaths = query.answers.map((path) => options.pathPrefix + path);
    const pathspecs = repoPaths.map((path) => `:(top,literal)${path}`);
    const [made, since] = await Promise.all([
      git(options.root, [...DIFF_CONFIG, 'show', '--format=', ...DIFF_FLAGS, query.commit, '--', ...pathspecs], opts),
      git(options.root, [...DIFF_CONFIG, 'diff', ...DIFF_FLAGS, query.commit, '--', ...pathspecs], opts),
    ]);
    const madeFiles = parseUnifiedDiff(made);
    const sinceFiles = parseUnifiedDiff(since);
    const answers: FunctionAnswer[] = [];
    for (const [i, path] of query.answers.entries()) {
      const repoPath = repoPaths[i]!;
      const change = madeFiles.find((f) => f.newPath === repoPath);
      if (!change) continue;
      const later: FileDiff | undefined = sinceFiles.find((f) => f.oldPath === repoPath);
      if (later && later.newPath === null) continue; // deleted from the working tree since
      const carry = (line: number) => (later ? translateLine(later.hunks, line) : line);
      const changed = changedLines(change.hunks);
      const lines = changed.lines.map(carry).filter((l): l is number => l !== null);
      const gaps = changed.deletions
        .filter((after) => after > 0)
        .map((after) => [carry(after), carry(after + 1)] as const)
        .filter((pair): pair is readonly [number, number] => pair[0] !== null && pair[1] !== null);
      if (lines.length === 0 && gaps.length === 0) continue;
      for (const region of await functionsOf(path)) {
        const start = region.start + 1;
        const end = region.end + 1;
        const touched = lines.some((l) => l >= start && l <= end) || gaps.some(([a, b]) => a >= start && b <= end);
        if (touched) answers.push({ path, symbol: region.symbol, kind: region.kind, start_line: start, end_line: end });
      }
    }
    out.set(query.commit, answers);
  }
  return out;
}

/**
 * 1-based rank of the first of the first `k` hits whose line range holds an answer function's first
 * line in its file, or null. The rule of test/bench/question-scoring.ts's function@k: the agent was
 * shown where the definition begins.
 */
export function firstFunctionHitRank(
  hits: readonly { path: string; start_line: number; end_line: number }[],
  answers: readonly FunctionAnswer[],
  k: number,
): number | null {
  const index = hits
    .slice(0, k)
    .findIndex((hit) => answers.some((a) => a.path === hit.path && hit.start_line <= a.start_line && a.start_line <= hit.end_line));
  return index < 0 ? null : index + 1;
}

/** The function and method regions of the working tree's file, as the chunker outlines it; none when it cannot be parsed. */
async function currentFunctions(root: string, path: string): Promise<Region[]> {
  const language = languageForPath(path);
  const spec = language ? SYNTAX_SPECS[language] : undefined;
  if (!language || !spec || !SYNTAX_LANGUAGES.includes(language)) return [];
  let text: string;
  try {
    text = await readFile(join(root, path), 'utf8');
  } catch {
    return []; // removed since the last index
  }
  if (text.length > MAX_PARSE_CHARS) return [];
  let parser;
  try {
    parser = await getParser(language);
  } catch {
    return []; // the chunker logs a grammar that cannot load; such files have no functions here either
  }
  // Parsed and walked synchronously after the await: the parser is shared.
  const tree = parser.parse(text);
  if (!tree) return [];
  try {
    const functions: Region[] = [];
    const walk = (region: Region) => {
      if (FUNCTION_KINDS.has(region.kind)) functions.push(region);
      region.children.forEach(walk);
    };
    walk(buildOutline(tree.rootNode, spec, text.split('\n').length));
    return functions;
  } finally {
    tree.delete();
  }
}
