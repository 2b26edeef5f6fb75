/**
 * Re-scores a retrieved candidate list with what BM25 and vectors do not see: the kind of file a chunk is in
 * (path-class.ts). Source code comes before tests, docs, changelogs, examples and config that merely repeat
 * a question's words, unless the query asks for those. A filter needs no exception: one that keeps only
 * tests (path_glob "tests/**") demotes every candidate alike, which changes no order. Each factor was measured on the
 * developer-question benchmark and the history eval (docs/quality.md, "Ranking for plain-word questions").
 */
import { porterStem } from '../store/porter-stem.js';
import { queryTerms } from '../store/fts-tokens.js';
import type { ChunkRow, IndexStore, ScoredChunkId } from '../store/store-types.js';
import { pathClass, type PathClass } from './path-class.js';

/**
 * Score factor per file class when the query does not ask for that class. Tests get less of a push down
 * than docs: a commit's history answers are often its tests, and 0.5 cost the requests history eval
 * recall while 0.7 kept every repository above where it started (docs/quality.md).
 */
export const PATH_CLASS_FACTOR: Readonly<Record<PathClass, number>> = {
  source: 1,
  test: 0.7,
  docs: 0.5,
  changelog: 0.5,
  example: 0.5,
  config: 0.5,
};

/** Query words (stemmed) that ask for a class, so its files are not pushed down. */
const ASKING_WORDS: Readonly<Record<Exclude<PathClass, 'source'>, readonly string[]>> = {
  test: ['test', 'spec', 'unittest', 'pytest', 'fixtur', 'mock', 'e2e', 'benchmark', 'bench'],
  // Not "documentation" or "markdown": code that writes them is asked about in those words too.
  docs: ['doc', 'readm', 'guid', 'tutori', 'manual'],
  changelog: ['changelog', 'releas', 'histori'],
  example: ['exampl', 'sampl', 'demo'],
  // Not "config": a question about how code is configured wants the code.
  config: ['yaml', 'yml', 'toml', 'makefil', 'dockerfil', 'ci', 'workflow'],
};

/** The classes this query asks for by name ("the test for ...", "docs about ..."). */
export function askedClasses(query: string): Set<PathClass> {
  const words = new Set(queryTerms(query).map(porterStem));
  const asked = new Set<PathClass>(['source']);
  for (const [cls, stems] of Object.entries(ASKING_WORDS) as [PathClass, readonly string[]][]) {
    if (stems.some((s) => words.has(s))) asked.add(cls);
  }
  return asked;
}

/** Multiplies a positive score by `factor`, divides a negative one (a cosine can be), so it always moves down. */
function demote(score: number, factor: number): number {
  return score >= 0 ? score * factor : score / factor;
}

/** The candidates re-scored and re-sorted (ties keep their retrieved order). */
export function applyRankingPriors(store: IndexStore, query: string, candidates: ScoredChunkId[]): ScoredChunkId[] {
  if (candidates.length === 0) return candidates;
  const asked = askedClasses(query);
  const rows = new Map<number, ChunkRow>(store.getChunks(candidates.map((c) => c.chunkId)).map((row) => [row.id, row]));
  const rescored = candidates.map((c, index) => {
    const row = rows.get(c.chunkId);
    if (!row) return { c, index };
    const cls = pathClass(row.path, row.language);
    const factor = asked.has(cls) ? 1 : PATH_CLASS_FACTOR[cls];
    return { c: factor === 1 ? c : { chunkId: c.chunkId, score: demote(c.score, factor) }, index };
  });
  rescored.sort((a, b) => b.c.score - a.c.score || a.index - b.index);
  return rescored.map((r) => r.c);
}
