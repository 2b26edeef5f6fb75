/**
 * Martin Porter's 1980 stemmer as SQLite's FTS5 `porter` tokenizer applies it to chunks_fts, with its
 * guards: tokens of 3 to 64 bytes, a suffix only when something is left before it, digits counted as
 * consonants. The index and MATCH queries are stemmed by SQLite; this copy lets the ranker compare a query's
 * words with a symbol's name parts the same way ("pushed" meets `push`). test/fts-tokens.test.ts checks it
 * against SQLite's own output. Tokens with non-ASCII letters are left alone (SQLite folds diacritics first).
 */

const MIN_LENGTH = 3;
const MAX_LENGTH = 64;

function isConsonant(w: string, i: number): boolean {
  switch (w[i]) {
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
      return false;
    case 'y':
      return i === 0 ? true : !isConsonant(w, i - 1);
    default:
      return true;
  }
}

/** m: the number of vowel-consonant sequences in w[0, end). */
function measure(w: string, end: number): number {
  let m = 0;
  let i = 0;
  while (i < end && isConsonant(w, i)) i++;
  while (i < end) {
    while (i < end && !isConsonant(w, i)) i++;
    if (i >= end) break;
    while (i < end && isConsonant(w, i)) i++;
    m++;
  }
  return m;
}

function hasVowel(w: string, end: number): boolean {
  for (let i = 0; i < end; i++) if (!isConsonant(w, i)) return true;
  return false;
}

/** *o: w[0, end) ends consonant-vowel-consonant, the last consonant not w, x or y. */
function endsCvc(w: string, end: number): boolean {
  if (end < 3) return false;
  if (!isConsonant(w, end - 1) || isConsonant(w, end - 2) || !isConsonant(w, end - 3)) return false;
  const c = w[end - 1];
  return c !== 'w' && c !== 'x' && c !== 'y';
}

type Rule = readonly [suffix: string, replacement: string];

/** Whether w ends with `suffix` and has something before it (SQLite's guard). */
function endsWith(w: string, suffix: string): boolean {
  return w.length > suffix.length && w.endsWith(suffix);
}

/** The first rule whose suffix ends w applies when the stem before it passes `ok`; later rules are not tried. */
function applyFirst(w: string, rules: readonly Rule[], ok: (stemEnd: number) => boolean): string {
  for (const [suffix, replacement] of rules) {
    if (!endsWith(w, suffix)) continue;
    const stemEnd = w.length - suffix.length;
    return ok(stemEnd) ? w.slice(0, stemEnd) + replacement : w;
  }
  return w;
}

const STEP2: readonly Rule[] = [
  ['ational', 'ate'], ['tional', 'tion'], ['enci', 'ence'], ['anci', 'ance'], ['izer', 'ize'], ['bli', 'ble'],
  ['alli', 'al'], ['entli', 'ent'], ['eli', 'e'], ['ousli', 'ous'], ['ization', 'ize'], ['ation', 'ate'],
  ['ator', 'ate'], ['alism', 'al'], ['iveness', 'ive'], ['fulness', 'ful'], ['ousness', 'ous'], ['aliti', 'al'],
  ['iviti', 'ive'], ['biliti', 'ble'], ['logi', 'log'],
];
const STEP3: readonly Rule[] = [
  ['icate', 'ic'], ['ative', ''], ['alize', 'al'], ['iciti', 'ic'], ['ical', 'ic'], ['ful', ''], ['ness', ''],
];
const STEP4 = [
  'al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent', 'ion', 'ou', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize',
];

/** Longest-first order within each step, so the first suffix that ends a word is its longest listed one. */
const byLength = (rules: readonly Rule[]) => [...rules].sort((a, b) => b[0].length - a[0].length);
const STEP2_SORTED = byLength(STEP2);
const STEP3_SORTED = byLength(STEP3);
const STEP4_SORTED = [...STEP4].sort((a, b) => b.length - a.length);

function step1ab(w: string): string {
  if (endsWith(w, 'sses') || endsWith(w, 'ies')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1);

  if (endsWith(w, 'eed')) return measure(w, w.length - 3) > 0 ? w.slice(0, -1) : w;
  let stemEnd = -1;
  if (endsWith(w, 'ed')) stemEnd = hasVowel(w, w.length - 2) ? w.length - 2 : -1;
  else if (endsWith(w, 'ing')) stemEnd = hasVowel(w, w.length - 3) ? w.length - 3 : -1;
  if (stemEnd < 0) return w;
  w = w.slice(0, stemEnd);
  if (endsWith(w, 'at') || endsWith(w, 'bl') || endsWith(w, 'iz')) return `${w}e`;
  // SQLite counts y as a consonant here ("yy" is doubled).
  const last = w[w.length - 1];
  if (w.length >= 2 && last === w[w.length - 2] && !'aeioulsz'.includes(last)) return w.slice(0, -1);
  if (measure(w, w.length) === 1 && endsCvc(w, w.length)) return `${w}e`;
  return w;
}

function step1c(w: string): string {
  return endsWith(w, 'y') && hasVowel(w, w.length - 1) ? `${w.slice(0, -1)}i` : w;
}

function step4(w: string): string {
  for (const suffix of STEP4_SORTED) {
    if (!endsWith(w, suffix)) continue;
    const stemEnd = w.length - suffix.length;
    if (measure(w, stemEnd) <= 1) return w;
    if (suffix === 'ion' && !(stemEnd > 0 && (w[stemEnd - 1] === 's' || w[stemEnd - 1] === 't'))) return w;
    return w.slice(0, stemEnd);
  }
  return w;
}

function step5(w: string): string {
  if (w.endsWith('e')) {
    const m = measure(w, w.length - 1);
    if (m > 1 || (m === 1 && !endsCvc(w, w.length - 1))) w = w.slice(0, -1);
  }
  if (endsWith(w, 'll') && measure(w, w.length) > 1) w = w.slice(0, -1);
  return w;
}

/** Stems already computed: search stems every candidate's words, and code repeats its words across chunks. */
const STEMS = new Map<string, string>();
const MAX_CACHED_STEMS = 100_000;

/** The Porter stem of one lowercased token; tokens with non-ASCII characters, under 3 or over 64 bytes unchanged. */
export function porterStem(token: string): string {
  const cached = STEMS.get(token);
  if (cached !== undefined) return cached;
  const stem = computeStem(token);
  if (STEMS.size >= MAX_CACHED_STEMS) STEMS.clear();
  STEMS.set(token, stem);
  return stem;
}

function computeStem(token: string): string {
  if (token.length < MIN_LENGTH || token.length > MAX_LENGTH || !/^[a-z0-9]+$/.test(token)) return token;
  let w = step1ab(token);
  w = step1c(w);
  w = applyFirst(w, STEP2_SORTED, (end) => measure(w, end) > 0);
  w = applyFirst(w, STEP3_SORTED, (end) => measure(w, end) > 0);
  w = step4(w);
  return step5(w);
}
