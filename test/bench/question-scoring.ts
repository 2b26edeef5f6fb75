/**
 * How the developer-question benchmark (questions.ts, data in questions/) judges an answer list:
 * pure functions, unit-tested in test/question-scoring.test.ts.
 *
 * - function@3: one of the first 3 hits is in an answer's file and its line range holds the answer's
 *   signature line (start_line): the agent sees the definition's head, not only a piece of its body.
 * - file@3: one of the first 3 hits is in an answer's file.
 * - "shares a word": some word of the question (3+ letters, lowercased, identifiers split) matches a part
 *   of some answer's qualified symbol split the same way, where two words match when their stems are
 *   equal or one stem starts with the other (3+ letters: "app"/"application", "env"/"environment").
 *   Stop words are not removed, so the test is strict: a question counted as sharing no word has no
 *   lexical overlap with the answer's name at all.
 */

export interface Answer {
  path: string;
  /** Qualified as codecarto's chunker names it: `AppContext.push`, `Command.Find`, `track`. */
  symbol: string;
  /** 1-based line of the signature (after decorators, attributes and doc comments). */
  start_line: number;
  end_line: number;
}

export interface Question {
  id: string;
  question: string;
  answers: Answer[];
}

export interface QuestionFile {
  /** Directory name of the checkout under --repos. */
  repository: string;
  url: string;
  commit: string;
  language: string;
  questions: Question[];
}

/** What a ranked hit needs for judging: codecarto's search hits and grep's have these. */
export interface RankedHit {
  path: string;
  start_line: number;
  end_line: number;
}

export const TOP = 3;

/** `AppContext.push` -> app, context, push; `get_netrc_auth` -> get, netrc, auth; `HTTPAdapter` -> http, adapter. */
export function splitIdentifier(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** The question's words that count: split like identifiers, 3+ characters, distinct. */
export function questionWords(question: string): string[] {
  return [...new Set(splitIdentifier(question).filter((w) => w.length >= 3 && /[a-z]/.test(w)))];
}

const SUFFIXES = ['ations', 'ation', 'ings', 'ing', 'ies', 'ied', 'ers', 'er', 'ed', 'es', 's'];

/** A light suffix-stripping stem: pushed/pushes/pushing -> push, entries -> entry; stems keep 3+ letters. */
export function stem(word: string): string {
  for (const suffix of SUFFIXES) {
    if (word.length - suffix.length >= 3 && word.endsWith(suffix)) {
      if (suffix === 's' && word.endsWith('ss')) return word;
      const base = word.slice(0, -suffix.length);
      return suffix === 'ies' || suffix === 'ied' ? `${base}y` : base;
    }
  }
  return word;
}

/** Whether a question word and a name part count as the same word (see the header). */
export function wordsMatch(questionWord: string, namePart: string): boolean {
  const a = stem(questionWord);
  const b = stem(namePart);
  if (a === b) return true;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= 3 && long.startsWith(short);
}

/** The question words that match a part of some answer's symbol; empty = the question shares no word. */
export function sharedWords(question: Question): string[] {
  const parts = new Set(question.answers.flatMap((a) => splitIdentifier(a.symbol)));
  return questionWords(question.question).filter((w) => [...parts].some((p) => wordsMatch(w, p)));
}

/** The hit shows the answer's definition head: same file, and its range holds the signature line. */
export function coversAnswer(hit: RankedHit, answer: Answer): boolean {
  return hit.path === answer.path && hit.start_line <= answer.start_line && answer.start_line <= hit.end_line;
}

/** Looser than coversAnswer: the hit shares a line with the answer's definition (e.g. only a later piece of its body). */
export function overlapsAnswer(hit: RankedHit, answer: Answer): boolean {
  return hit.path === answer.path && hit.start_line <= answer.end_line && answer.start_line <= hit.end_line;
}

export interface HitScore {
  function_at_3: boolean;
  /** A top-3 hit overlaps an answer's definition (reported beside function@3 to show what split definitions cost). */
  function_overlap_at_3: boolean;
  file_at_3: boolean;
  /** 1-based rank of the first hit covering an answer, null when none of the hits does. */
  function_rank: number | null;
}

export function scoreHits(hits: readonly RankedHit[], answers: readonly Answer[]): HitScore {
  const top = hits.slice(0, TOP);
  const index = hits.findIndex((h) => answers.some((a) => coversAnswer(h, a)));
  return {
    function_at_3: top.some((h) => answers.some((a) => coversAnswer(h, a))),
    function_overlap_at_3: top.some((h) => answers.some((a) => overlapsAnswer(h, a))),
    file_at_3: top.some((h) => answers.some((a) => a.path === h.path)),
    function_rank: index < 0 ? null : index + 1,
  };
}

export interface ModeSummary {
  questions: number;
  function_at_3: number;
  file_at_3: number;
  function_overlap_at_3: number;
  /** function@3 over the questions that share no word with their answers' names. */
  function_at_3_no_shared_word: number | null;
  /** Mean reciprocal rank of the first covering hit over the whole list (k hits). */
  function_mrr: number;
  /** Tokens of the answer an agent receives, mean per question (grep: its printed lines). */
  answer_tokens_text: number;
  /** Tokens of JSON.stringify(structuredContent), what Claude Code shows the model; null for grep. */
  answer_tokens_json: number | null;
  answer_tokens_json_max: number | null;
}

export interface QuestionOutcome extends HitScore {
  shares_word: boolean;
  tokens_text: number;
  tokens_json: number | null;
}

export function summarize(outcomes: readonly QuestionOutcome[]): ModeSummary {
  const n = outcomes.length;
  const rate = (list: readonly QuestionOutcome[], pick: (o: QuestionOutcome) => boolean) =>
    list.length === 0 ? 0 : round(list.filter(pick).length / list.length);
  const noShared = outcomes.filter((o) => !o.shares_word);
  const json = outcomes.map((o) => o.tokens_json).filter((t): t is number => t !== null);
  return {
    questions: n,
    function_at_3: rate(outcomes, (o) => o.function_at_3),
    file_at_3: rate(outcomes, (o) => o.file_at_3),
    function_overlap_at_3: rate(outcomes, (o) => o.function_overlap_at_3),
    function_at_3_no_shared_word: noShared.length === 0 ? null : rate(noShared, (o) => o.function_at_3),
    function_mrr: n === 0 ? 0 : round(outcomes.reduce((s, o) => s + (o.function_rank ? 1 / o.function_rank : 0), 0) / n),
    answer_tokens_text: n === 0 ? 0 : Math.round(outcomes.reduce((s, o) => s + o.tokens_text, 0) / n),
    answer_tokens_json: json.length === 0 ? null : Math.round(json.reduce((s, t) => s + t, 0) / json.length),
    answer_tokens_json_max: json.length === 0 ? null : Math.max(...json),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * The line an agent reading grep's output for a file would look at first: the one whose matched query
 * words weigh most (sum of each distinct word's idf; words match as case-insensitive substrings, as
 * `rg -i -F` matches), the earliest of equals; null when no line matches.
 */
export function bestGrepLine(text: string, idf: ReadonlyMap<string, number>): number | null {
  let best: { line: number; score: number } | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lower = lines[i].toLowerCase();
    let score = 0;
    for (const [word, weight] of idf) if (lower.includes(word)) score += weight;
    if (score > 0 && (!best || score > best.score)) best = { line: i + 1, score };
  }
  return best?.line ?? null;
}

/** What `rg -n -i -F -m <perFile> -e w1 -e w2 ... <files>` prints: `path:line:text` for each matching line. */
export function grepOutput(files: readonly { path: string; text: string }[], words: readonly string[], perFile: number): string[] {
  const out: string[] = [];
  for (const { path, text } of files) {
    let printed = 0;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length && printed < perFile; i++) {
      const lower = lines[i].toLowerCase();
      if (words.some((w) => lower.includes(w))) {
        out.push(`${path}:${i + 1}:${lines[i]}`);
        printed++;
      }
    }
  }
  return out;
}

/**
 * Tokens of `text` by `count` (a tokenizer's), encoded in pieces of ~2,000 characters cut at a newline,
 * space or comma: encoding cost grows faster than length, and each cut adds at most one token.
 */
export function countTokensInPieces(count: (piece: string) => number, text: string): number {
  let total = 0;
  for (let at = 0; at < text.length; ) {
    let end = Math.min(text.length, at + 2000);
    if (end < text.length) {
      const cut = Math.max(text.lastIndexOf('\n', end), text.lastIndexOf(' ', end), text.lastIndexOf(',', end));
      if (cut > at) end = cut + 1;
    }
    total += count(text.slice(at, end));
    at = end;
  }
  return total;
}
