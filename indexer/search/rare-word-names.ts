/**
 * Which hits of the first files come first. Files are ranked with the symbol-name match counting every query
 * word alike (ranking-priors.ts); their hits are then re-scored with each word counted by its idf in this
 * index, so a name that holds the question's rare words ("emit") comes before one that holds only words many
 * chunks share ("component"). Counted by idf in the file ranking as well, the history eval lost on three of
 * four repositories (docs/quality.md, "Ranking for plain-word questions", step g4).
 */
import { porterStem } from '../store/porter-stem.js';
import { queryTerms } from '../store/fts-tokens.js';
import type { IndexStore } from '../store/store-types.js';
import { asksForAClass, ownNameStems, stemsMeet, symbolFactor } from './ranking-priors.js';

/**
 * Chunks counted per word, at most. A word held by more is common in any index, and counting all of a
 * common word's rows on an index of 200k chunks costs as much as the search itself.
 */
export const WORD_COUNT_UP_TO = 5_000;

/**
 * Each distinct query stem's weight in the name match of `names` (the hits about to be re-scored): BM25's idf,
 * as FTS5 computes it, of the word in this index, except for two kinds of words that idf misjudges.
 */
export function nameWordWeights(store: IndexStore, query: string, names: readonly (string | null)[]): Map<string, number> {
  const termOfStem = new Map<string, string>();
  for (const term of queryTerms(query)) {
    const stem = porterStem(term);
    if (!termOfStem.has(stem)) termOfStem.set(stem, term);
  }
  const weights = new Map<string, number>();
  if (termOfStem.size === 0) return weights;
  const { chunks, counts } = store.termChunkCounts([...termOfStem.values()], WORD_COUNT_UP_TO);
  const parts = names.flatMap((name) => (name ? [[...ownNameStems(name)]] : []));
  [...termOfStem.keys()].forEach((stem, i) => {
    // A word that meets nothing, no chunk and no name, tells no hit from another; at the highest idf it
    // shrank every name's share ("skip unguarded app.run": `Flask.run` lost its place).
    const meetsNothing = counts[i] === 0 && !parts.some((own) => own.some((part) => stemsMeet(stem, part)));
    weights.set(stem, meetsNothing ? 0 : Math.log(1 + (chunks - counts[i] + 0.5) / (counts[i] + 0.5)));
  });
  // A word that asks for a class of files ("test", "example") is common because its class is large, not
  // because the question says little with it: it counts as the query's rarest word.
  const rarest = Math.max(...weights.values());
  for (const stem of weights.keys()) if (asksForAClass(stem)) weights.set(stem, rarest);
  return weights;
}

/** `hits` with each score's name match counted by nameWordWeights instead of alike (the list's order is the caller's to change). */
export function weighNameWordsByIdf<H extends { symbol: string | null; score: number }>(store: IndexStore, query: string, hits: H[]): H[] {
  if (!hits.some((hit) => hit.symbol)) return hits;
  const weights = nameWordWeights(store, query, hits.map((hit) => hit.symbol));
  const alike = new Map([...weights.keys()].map((stem) => [stem, 1]));
  return hits.map((hit) => {
    const ratio = symbolFactor(hit.symbol, weights) / symbolFactor(hit.symbol, alike);
    if (ratio === 1) return hit;
    // As ranking-priors scales: a negative score (a cosine can be) is divided, so it moves the same way.
    return { ...hit, score: hit.score >= 0 ? hit.score * ratio : hit.score / ratio };
  });
}
