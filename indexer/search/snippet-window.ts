/**
 * Which lines of a hit's code an answer shows: the signature line first (the best matching line when the
 * code is in no named symbol), then the lines that match the query's words, then the lines around those, so the few lines an answer can afford are the telling ones.
 * Skipped lines become an elision line `⋮ line N` (N: the next line shown) or a final `⋮`; a cut line
 * ends in `…`.
 */
import { identifierTokens, queryTerms } from '../store/fts-tokens.js';
import { porterStem } from '../store/porter-stem.js';

/** Longer lines are cut (minified code, data): a line's head says what it is. */
export const MAX_LINE_CHARS = 160;
/** A run of letters, digits and base64/URL punctuation this long is data (a hash, base64, an inline image). */
const BLOB_RUN = /[A-Za-z0-9+/=_-]{64,}/g;
const BLOB_KEEP = 24;
/** Matching lines ranked before context; more than this and the rest come in as context. */
const MAX_MATCH_PICKS = 16;
/** What a picked line leaves of the weight of the query words it holds: the next pick favours other words. */
const PICKED_TERM_DECAY = 0.3;
/** A one-line gap between shown lines is shown instead of elided when that line is this short. */
const FILL_GAP_CHARS = 60;
/** How far into the code a first line of code is looked for. */
const FIRST_CODE_SEARCH_LINES = 40;

const WORD = /[\p{L}\p{N}_$]+/gu;

export interface SnippetWindowInput {
  /** The hit's code: its lines start at `startLine`. */
  text: string;
  startLine: number;
  query: string;
  /** Qualified symbol of the hit (`Flask.run`): its signature line is shown first. */
  symbol: string | null;
}

/**
 * The lines of a hit in the order an answer adds them; `render(n)` shows the first n of that order, so a
 * larger n always shows a superset of a smaller one.
 */
export class SnippetWindow {
  readonly lineCount: number;
  private readonly lines: string[];
  private readonly order: number[];
  private readonly startLine: number;

  constructor(input: SnippetWindowInput) {
    this.lines = input.text.split('\n').map(shortenLine);
    this.lineCount = this.lines.length;
    this.startLine = input.startLine;
    const matches = rankMatchingLines(this.lines, input.query);
    // Code that does not declare its symbol (a later piece of a long function, a text window, top-level
    // statements) starts anywhere: lead with its best match.
    const declaration = declarationIndex(this.lines, input.symbol);
    const signature = declaration >= 0 ? declaration : (matches[0] ?? firstCodeIndex(this.lines));
    this.order = priorityOrder(this.lines.length, signature, matches);
  }

  /** The code with at most `maxLines` of its lines shown (at least one), elisions marked. */
  render(maxLines: number): string {
    const count = Math.max(1, Math.min(this.lineCount, Math.floor(maxLines)));
    const shown = new Array<boolean>(this.lineCount).fill(false);
    for (const i of this.order.slice(0, count)) shown[i] = true;
    // A one-line gap costs about what its elision line costs: show the line instead.
    for (let i = 1; i + 1 < this.lineCount; i++) {
      if (!shown[i] && shown[i - 1] && shown[i + 1] && this.lines[i].length <= FILL_GAP_CHARS) shown[i] = true;
    }
    const out: string[] = [];
    let previous = -1;
    for (let i = 0; i < this.lineCount; i++) {
      if (!shown[i]) continue;
      if (i > previous + 1) out.push(`⋮ line ${this.startLine + i}`);
      out.push(this.lines[i]);
      previous = i;
    }
    if (previous < this.lineCount - 1) out.push('⋮');
    return out.join('\n');
  }
}

function shortenLine(line: string): string {
  let out = line.replace(BLOB_RUN, (run) => `${run.slice(0, BLOB_KEEP)}…`);
  if (out.length > MAX_LINE_CHARS) out = `${out.slice(0, MAX_LINE_CHARS - 1)}…`;
  return out;
}

/** The line that declares the symbol: the first line of code holding its last name part as a word; -1 when none does. */
export function declarationIndex(lines: readonly string[], symbol: string | null): number {
  const name = symbol?.split(/[.:#/\\]|::/).filter(Boolean).pop();
  if (!name) return -1;
  // A merged hit's symbol can be a later part's: look through all of it (the declaration precedes the uses).
  const word = new RegExp(`(^|[^\\p{L}\\p{N}_$])${escapeRegExp(name)}($|[^\\p{L}\\p{N}_$])`, 'u');
  return lines.findIndex((line) => isCode(line) && word.test(line));
}

/** The first line of code near the top (else the first non-blank line). */
function firstCodeIndex(lines: readonly string[]): number {
  const limit = Math.min(lines.length, FIRST_CODE_SEARCH_LINES);
  for (let i = 0; i < limit; i++) if (isCode(lines[i])) return i;
  return Math.max(0, lines.findIndex((l) => l.trim() !== ''));
}

/** Not blank, not a comment line, not a decorator or attribute. */
function isCode(line: string): boolean {
  const t = line.trim();
  return t !== '' && !/^(\/\/|\/\*|\*|#(?!include|define|if|\[)|--|;|@|<!--|"""|''')/.test(t) && !t.startsWith('#[');
}

/**
 * Lines holding query words, best first: each pick is the line whose query words weigh most, a word
 * weighing more the fewer lines hold it (inverse document frequency within the hit) and less once a
 * picked line showed it, so the picks cover different words of the query before repeating one.
 */
export function rankMatchingLines(lines: readonly string[], query: string): number[] {
  const terms = queryTerms(query);
  if (terms.length === 0) return [];
  const stems = terms.map(stem);
  // Code repeats its words: each distinct word is matched against the terms once.
  const termsOfWord = new Map<string, number[]>();
  const matchWord = (word: string) => {
    let held = termsOfWord.get(word);
    if (held === undefined) {
      const tokens = identifierTokens(word);
      held = terms.flatMap((term, t) => (tokens.some((token) => termMatches(token, term, stems[t])) ? [t] : []));
      termsOfWord.set(word, held);
    }
    return held;
  };
  const termsByLine: number[][] = lines.map((line) => [...new Set((line.match(WORD) ?? []).flatMap(matchWord))]);
  const lineFrequency = terms.map((_, t) => termsByLine.filter((held) => held.includes(t)).length);
  const nonBlank = Math.max(1, lines.filter((l) => l.trim() !== '').length);
  const weight = lineFrequency.map((df) => (df === 0 ? 0 : Math.log(1 + nonBlank / df)));
  const picks: number[] = [];
  const picked = new Set<number>();
  while (picks.length < MAX_MATCH_PICKS) {
    let best = -1;
    let bestScore = 0;
    termsByLine.forEach((held, i) => {
      if (picked.has(i) || held.length === 0) return;
      const score = held.reduce((sum, t) => sum + weight[t], 0);
      if (score > bestScore + 1e-9) {
        best = i;
        bestScore = score;
      }
    });
    if (best < 0) break;
    picks.push(best);
    picked.add(best);
    for (const t of termsByLine[best]) weight[t] *= PICKED_TERM_DECAY;
  }
  return picks;
}

function termMatches(token: string, term: string, termStem: string): boolean {
  if (token === term) return true;
  if (token.length >= 4 && term.length >= 4 && (token.startsWith(term) || term.startsWith(token))) return true;
  return stem(token) === termStem;
}

/** The stem the lexical index matches words by (pushed/push, retries/retry), so the lines shown are the lines that matched. */
function stem(word: string): string {
  return porterStem(word);
}

/**
 * The order lines are shown in: the signature, the matching lines, then context rings around each of
 * them (the line after before the line before: what follows a match explains it), widening until every
 * line is placed.
 */
function priorityOrder(lineCount: number, signature: number, matches: readonly number[]): number[] {
  const order: number[] = [];
  const placed = new Array<boolean>(lineCount).fill(false);
  const place = (i: number) => {
    if (i >= 0 && i < lineCount && !placed[i]) {
      placed[i] = true;
      order.push(i);
    }
  };
  place(signature);
  for (const i of matches) place(i);
  const anchors = [...order];
  for (let radius = 1; order.length < lineCount; radius++) {
    for (const a of anchors) {
      place(a + radius);
      place(a - radius);
    }
  }
  return order;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
