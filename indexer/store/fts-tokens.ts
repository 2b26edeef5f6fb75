/**
 * Identifier-aware token text for the FTS5 table. SQLite's unicode61 tokenizer only splits on
 * non-alphanumerics, so `getUserName` would be one token; here every identifier is written as its whole
 * lowercased form plus its camelCase / snake_case / digit parts (`getusername get user name`), and
 * queries go through the same function, so "user name", "getUserName" and "get_user_name" all meet.
 *
 * Every emitted token is a run of Unicode letters and digits, lowercased, so unicode61 reads it back as
 * exactly one token and a quoted term can never contain FTS5 syntax.
 */

/** Words longer than this (minified code, base64, hashes) are skipped: they never help a search. */
const MAX_WORD_LENGTH = 96;
/** A query's terms are capped so a pasted file cannot make one MATCH expression enormous. */
const MAX_QUERY_TERMS = 64;

const WORD = /[\p{L}\p{N}_$]+/gu;
const ALNUM_RUN = /[\p{L}\p{N}]+/gu;

/**
 * Splits one identifier into lowercased parts at `_`/`$`, lower->Upper, ACRONYMWord and letter/digit
 * boundaries: `HTTPServer` -> [http, server], `parseJSON2` -> [parse, json, 2], `get_user_name` -> [get, user, name].
 */
export function splitIdentifier(word: string): string[] {
  const parts: string[] = [];
  for (const run of word.match(ALNUM_RUN) ?? []) {
    const spaced = run
      .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
      .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2')
      .replace(/(\p{L})(\p{N})/gu, '$1 $2')
      .replace(/(\p{N})(\p{L})/gu, '$1 $2');
    for (const part of spaced.split(' ')) {
      if (part) parts.push(part.toLowerCase());
    }
  }
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
  for (const word of text.match(WORD) ?? []) {
    for (const token of identifierTokens(word)) out.push(token);
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

/** Distinct search terms of a query, in first-seen order, processed like indexed text. */
export function queryTerms(query: string): string[] {
  const seen = new Set<string>();
  for (const word of query.match(WORD) ?? []) {
    for (const token of identifierTokens(word)) {
      if (seen.size >= MAX_QUERY_TERMS) return [...seen];
      seen.add(token);
    }
  }
  return [...seen];
}

/**
 * A safe FTS5 MATCH expression for a user query: every term quoted and joined with OR (so partial matches
 * still rank under bm25), or null when the query has no searchable term.
 */
export function toFtsMatchExpression(query: string): string | null {
  const terms = queryTerms(query);
  if (terms.length === 0) return null;
  // Terms are letter/digit runs, so they contain no double quote; quoting still keeps words like OR/NOT/NEAR literal.
  return terms.map((t) => `"${t}"`).join(' OR ');
}
