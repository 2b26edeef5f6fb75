/**
 * Identifier-aware token text for the FTS5 table. SQLite's unicode61 tokenizer only splits on
 * non-alphanumerics, so `getUserName` would be one token; here every identifier is written as its whole
 * lowercased form plus its camelCase / snake_case / digit parts (`getusername get user name`), and
 * queries go through the same function, so "user name", "getUserName" and "get_user_name" all meet.
 *
 * Every emitted token is a run of Unicode letters and digits, lowercased, so unicode61 reads it back as
 * exactly one token and a quoted term can never contain FTS5 syntax.
 */

import { ENGLISH_STOP_WORDS, SHORT_STOP_WORDS } from './stop-words.js';

/** Words longer than this (minified code, base64, hashes) are skipped: they never help a search. */
const MAX_WORD_LENGTH = 96;
/** A query's terms are capped so a pasted file cannot make one MATCH expression enormous. */
const MAX_QUERY_TERMS = 64;

const WORD = /[\p{L}\p{N}_$]+/gu;

const CharClass = { Separator: 0, Lower: 1, Upper: 2, Digit: 3 } as const;
type CharClass = (typeof CharClass)[keyof typeof CharClass];

function classify(ch: string): CharClass {
  const c = ch.charCodeAt(0);
  if (c < 128) {
    if (c >= 97 && c <= 122) return CharClass.Lower;
    if (c >= 65 && c <= 90) return CharClass.Upper;
    if (c >= 48 && c <= 57) return CharClass.Digit;
    return CharClass.Separator;
  }
  if (/\p{Lu}/u.test(ch)) return CharClass.Upper;
  if (/\p{L}/u.test(ch)) return CharClass.Lower; // lowercase and caseless letters
  if (/\p{N}/u.test(ch)) return CharClass.Digit;
  return CharClass.Separator;
}

/**
 * Splits one identifier into lowercased parts at separators (`_`, `$`), lower->Upper, ACRONYMWord and
 * letter/digit boundaries: `HTTPServer` -> [http, server], `parseJSON2` -> [parse, json, 2],
 * `get_user_name` -> [get, user, name].
 */
export function splitIdentifier(word: string): string[] {
  const chars = Array.from(word);
  const classes = chars.map(classify);
  const parts: string[] = [];
  let start = -1;
  const flush = (end: number) => {
    if (start >= 0 && end > start) parts.push(chars.slice(start, end).join('').toLowerCase());
    start = -1;
  };
  for (let i = 0; i < chars.length; i++) {
    const cls = classes[i];
    if (cls === CharClass.Separator) {
      flush(i);
      continue;
    }
    if (start < 0) {
      start = i;
      continue;
    }
    const prev = classes[i - 1];
    const next = i + 1 < chars.length ? classes[i + 1] : CharClass.Separator;
    const boundary =
      (prev === CharClass.Lower && cls === CharClass.Upper) ||
      (prev === CharClass.Upper && cls === CharClass.Upper && next === CharClass.Lower) ||
      ((prev === CharClass.Digit) !== (cls === CharClass.Digit));
    if (boundary) {
      flush(i);
      start = i;
    }
  }
  flush(chars.length);
  return parts;
}

/** The whole identifier (lowercased, separators removed) followed by its parts when it has more than one. */
export function identifierTokens(word: string): string[] {
  if (word.length > MAX_WORD_LENGTH) return [];
  const parts = splitIdentifier(word);
  if (parts.length === 0) return [];
  const whole = parts.join('');
  return parts.length === 1 ? [whole] : [whole, ...parts];
}

/** Token text of free text or code: every word's identifier tokens, in order, with repeats (term frequency matters). */
export function tokenText(text: string): string {
  const out: string[] = [];
  // Code repeats its identifiers; splitting each distinct word once keeps indexing cheap.
  const seen = new Map<string, string>();
  for (const word of text.match(WORD) ?? []) {
    let tokens = seen.get(word);
    if (tokens === undefined) {
      tokens = identifierTokens(word).join(' ');
      seen.set(word, tokens);
    }
    if (tokens) out.push(tokens);
  }
  return out.join(' ');
}

/**
 * Token text of a repository path: split on `/ . - _` and camelCase, so `src/httpServer/user_store.ts`
 * gives `src httpserver http server userstore user store ts`.
 */
export function pathTokenText(path: string): string {
  return tokenText(path);
}

/**
 * Distinct search terms of a query, in first-seen order, processed like indexed text. English function
 * words and one-character terms are dropped (see stop-words.ts) unless nothing else would be left, so
 * "the" or "a" alone still searches.
 */
export function queryTerms(query: string): string[] {
  const seen = new Set<string>();
  for (const word of query.match(WORD) ?? []) {
    for (const token of identifierTokens(word)) {
      if (seen.size >= MAX_QUERY_TERMS) return dropStopWords([...seen]);
      seen.add(token);
    }
  }
  return dropStopWords([...seen]);
}

function isStopWord(term: string): boolean {
  return term.length < 2 || ENGLISH_STOP_WORDS.has(term) || SHORT_STOP_WORDS.has(term);
}

function dropStopWords(terms: string[]): string[] {
  const kept = terms.filter((t) => !isStopWord(t));
  return kept.length > 0 ? kept : terms;
}

/**
 * A safe FTS5 MATCH expression for a user query: every term quoted and joined with OR (so partial matches
 * still rank under bm25), or null when the query has no searchable term.
 */
export function toFtsMatchExpression(query: string): string | null {
  const terms = queryTerms(query);
  return terms.length === 0 ? null : ftsAnyOf(terms);
}

/** The MATCH expression for rows holding any of these terms (queryTerms' output). */
export function ftsAnyOf(terms: readonly string[]): string {
  // Terms are letter/digit runs, so they contain no double quote; quoting still keeps words like OR/NOT/NEAR literal.
  return terms.map((t) => `"${t}"`).join(' OR ');
}
