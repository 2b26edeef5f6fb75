/**
 * Re-scores a retrieved candidate list with what BM25 and vectors do not see. The kind of file a chunk is in
 * (path-class.ts): source code comes before tests, docs, changelogs, examples and config that merely repeat
 * a question's words, unless the query asks for those (a filter needs no exception: one that keeps only
 * tests, path_glob "tests/**", demotes every candidate alike, which changes no order). And the chunk's own
 * name: a definition named by the question's words ("pushed" -> `AppContext.push`) weighs more. Each factor
 * was measured on the developer-question benchmark and the history eval (docs/quality.md, "Ranking for
 * plain-word questions").
 */
import { porterStem } from '../store/porter-stem.js';
import { queryTerms, splitIdentifier } from '../store/fts-tokens.js';
import type { ChunkHead, IndexStore, ScoredChunkId } from '../store/store-types.js';
import { chunkClass, type PathClass } from './path-class.js';

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

/**
 * A chunk whose own name (the last part of its qualified symbol) holds a share s of the query's distinct
 * stemmed terms scores (1 + SYMBOL_MATCH_BOOST x s) times as much. BM25 already weighs the symbol column,
 * but a class's name is in every one of its methods' symbols, and a short name gains little there.
 */
export const SYMBOL_MATCH_BOOST = 1.5;

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

const ASKING_STEMS: ReadonlySet<string> = new Set(Object.values(ASKING_WORDS).flat());

/** Whether a query stem is one of the words that ask for a class of files ("test", "docs", "example" ...). */
export function asksForAClass(stem: string): boolean {
  return ASKING_STEMS.has(stem);
}

/** The classes this query asks for by name ("the test for ...", "docs about ..."). */
export function askedClasses(query: string): Set<PathClass> {
  const words = new Set(queryTerms(query).map(porterStem));
  const asked = new Set<PathClass>(['source']);
  for (const [cls, stems] of Object.entries(ASKING_WORDS) as [PathClass, readonly string[]][]) {
    if (stems.some((s) => words.has(s))) asked.add(cls);
  }
  return asked;
}

/** Scales a score by `factor`: a positive one is multiplied, a negative one (a cosine can be) divided, so the order moves as the factor says. */
function scale(score: number, factor: number): number {
  return score >= 0 ? score * factor : score / factor;
}

/** The stems of a qualified symbol's own name: `SessionRedirectMixin.resolve_redirects` -> resolv, redirect. */
export function ownNameStems(symbol: string): Set<string> {
  const segments = symbol.split(/[.:#/\\]+|->/).filter((p) => p.length > 0);
  return new Set(splitIdentifier(segments[segments.length - 1] ?? '').map(porterStem));
}

/**
 * A query stem and a name part meet when equal, or when the shorter, of at least this many letters, starts
 * the longer: porter leaves "verification" as verif and `verify` as verifi, "authorization" as author and
 * `auth` as auth. Three letters let "gen" meet every "gener..." and cost a ripgrep question (docs/quality.md).
 */
const MIN_SHARED_PREFIX = 4;

export function stemsMeet(a: string, b: string): boolean {
  if (a === b) return true;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= MIN_SHARED_PREFIX && long.startsWith(short);
}

/**
 * 1 + SYMBOL_MATCH_BOOST x the share of the query's stems (each counted by its weight) that meet a part of the
 * symbol's own name. Ranking counts every stem as 1; within the first files, by idf (rare-word-names.ts).
 */
export function symbolFactor(symbol: string | null, stemWeights: ReadonlyMap<string, number>): number {
  if (!symbol || stemWeights.size === 0) return 1;
  const own = [...ownNameStems(symbol)];
  let matched = 0;
  let total = 0;
  for (const [stem, weight] of stemWeights) {
    total += weight;
    if (own.some((part) => stemsMeet(stem, part))) matched += weight;
  }
  return total > 0 ? 1 + (SYMBOL_MATCH_BOOST * matched) / total : 1;
}

/** The candidates re-scored and re-sorted (ties keep their retrieved order). */
export function applyRankingPriors(store: IndexStore, query: string, candidates: ScoredChunkId[]): ScoredChunkId[] {
  if (candidates.length === 0) return candidates;
  const asked = askedClasses(query);
  const queryStems = new Map(queryTerms(query).map((term) => [porterStem(term), 1]));
  const rows = new Map<number, ChunkHead>(store.getChunkHeads(candidates.map((c) => c.chunkId)).map((row) => [row.id, row]));
  const rescored = candidates.map((c, index) => {
    const row = rows.get(c.chunkId);
    if (!row) return { c, index };
    const cls = chunkClass(row.path, row.language, row.symbol);
    const factor = (asked.has(cls) ? 1 : PATH_CLASS_FACTOR[cls]) * symbolFactor(row.symbol, queryStems);
    return { c: factor === 1 ? c : { chunkId: c.chunkId, score: scale(c.score, factor) }, index };
  });
  rescored.sort((a, b) => b.c.score - a.c.score || a.index - b.index);
  return rescored.map((r) => r.c);
}
