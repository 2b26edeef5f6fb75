/**
 * What an agent without codecarto does: grep for the query's words and open the files with the most
 * matches. Files are ranked the way a careful agent reads `rg -i -F --count-matches word` output:
 *
 * - words: the query's runs of letters, digits and `_`, lowercased, 3+ characters, minus English stop words;
 * - per word: the number of case-insensitive, non-overlapping occurrences in each file (substrings, as
 *   `rg -F` finds them: "parse" counts in "parseConfig"), and the number of files with any (df);
 * - score(file) = sum over words of idf x ln(1 + count), with idf = ln(N / df) over the N files;
 * - files with at least one occurrence, by score, ties by path.
 *
 * An occurrence of a word never spans a non-word character, so counting it inside each maximal word
 * run of the text equals counting it in the whole text; the index is therefore built once from each
 * file's word runs, and a query only scans the vocabulary.
 */

import { ENGLISH_STOP_WORDS } from '../store/stop-words.js';

const WORD_RUN = /[\p{L}\p{N}_]+/gu;
export const MIN_GREP_WORD_LENGTH = 3;

/** English function words of 3+ letters: grepping for them finds every file. */
export const STOP_WORDS: ReadonlySet<string> = ENGLISH_STOP_WORDS;

/** The words grep is run for: distinct, in query order. */
export function grepQueryWords(query: string): string[] {
  const words = new Set<string>();
  for (const word of query.toLowerCase().match(WORD_RUN) ?? []) {
    if (word.length >= MIN_GREP_WORD_LENGTH && !STOP_WORDS.has(word)) words.add(word);
  }
  return [...words];
}

/** Non-overlapping occurrences of `needle` in `haystack`. */
export function countOccurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) count++;
  return count;
}

export interface GrepHit {
  path: string;
  score: number;
}

interface Postings {
  files: number[];
  counts: number[];
}

export class GrepBaseline {
  private readonly paths: string[];
  /** Each distinct lowercased word run, with the files holding it and how often. */
  private readonly vocabulary = new Map<string, Postings>();
  /** Per query word: occurrences by file index (queries repeat words; scanning the vocabulary once is enough). */
  private readonly wordCounts = new Map<string, Map<number, number>>();

  constructor(files: Iterable<{ path: string; text: string }>) {
    this.paths = [];
    for (const { path, text } of files) {
      const fileIndex = this.paths.push(path) - 1;
      const runs = new Map<string, number>();
      for (const run of text.toLowerCase().match(WORD_RUN) ?? []) runs.set(run, (runs.get(run) ?? 0) + 1);
      for (const [run, count] of runs) {
        let postings = this.vocabulary.get(run);
        if (!postings) this.vocabulary.set(run, (postings = { files: [], counts: [] }));
        postings.files.push(fileIndex);
        postings.counts.push(count);
      }
    }
  }

  get fileCount(): number {
    return this.paths.length;
  }

  /** Occurrences of `word` (already lowercased) by file index. */
  counts(word: string): ReadonlyMap<number, number> {
    let byFile = this.wordCounts.get(word);
    if (byFile) return byFile;
    byFile = new Map();
    for (const [run, postings] of this.vocabulary) {
      const inRun = countOccurrences(run, word);
      if (inRun === 0) continue;
      postings.files.forEach((file, i) => byFile!.set(file, (byFile!.get(file) ?? 0) + inRun * postings.counts[i]));
    }
    this.wordCounts.set(word, byFile);
    return byFile;
  }

  /** Files matching any query word, best first; at most `k` when given. */
  rank(query: string, k?: number): GrepHit[] {
    const n = this.paths.length;
    const scores = new Map<number, number>();
    for (const word of grepQueryWords(query)) {
      const byFile = this.counts(word);
      if (byFile.size === 0) continue;
      const idf = Math.log(n / byFile.size);
      for (const [file, count] of byFile) scores.set(file, (scores.get(file) ?? 0) + idf * Math.log(1 + count));
    }
    const hits = [...scores].map(([file, score]) => ({ path: this.paths[file], score }));
    hits.sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return k === undefined ? hits : hits.slice(0, k);
  }
}
