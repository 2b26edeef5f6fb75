/**
 * A conservative count of the Mistral-7B tokens (NV-Embed-v2's tokenizer, the one the answer budget is
 * stated in) of a text, from its characters alone: search answers are sized without loading a tokenizer.
 *
 * Measured against the real tokenizer (test/search-answers.test.ts; docs/answers.md) on the code, docs and
 * JSON of five repositories: about 1.3x the real count on code, under it for fewer than 1% of 6-line pieces
 * and by at most ~25% on any. Digits, line breaks, tabs and punctuation cost one token each (Mistral splits
 * every digit); letters cost one token per 4 (lowercase parts of identifiers) or per 2 (ALL-CAPS parts);
 * a single space is folded into the next word; any other character costs its UTF-8 bytes, the most the
 * byte-fallback tokenizer can spend on it. Runs that look random (base64, hashes) cost 0.85 a character.
 */

/** An alphanumeric run this long whose identifier parts average under RANDOM_PART_CHARS characters reads as data. */
const RANDOM_RUN_MIN = 16;
const RANDOM_PART_CHARS = 3;
const IDENTIFIER_PART = /[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|[A-Z]|[0-9]+/g;

export function estimateTokens(text: string): number {
  let tokens = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isAlnum(c)) {
      let j = i + 1;
      while (j < n && isAlnum(text.charCodeAt(j))) j++;
      tokens += runTokens(text.slice(i, j));
      i = j;
    } else if (c === 32) {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) === 32) j++;
      // " word" is one token ("▁word"); a space before a digit or a run of spaces is one of its own.
      if (j - i > 1 || isDigit(text.charCodeAt(j))) tokens += 1;
      i = j;
    } else if (c < 128) {
      tokens += 1;
      i += 1;
    } else {
      const cp = text.codePointAt(i)!;
      tokens += cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      i += cp > 0xffff ? 2 : 1;
    }
  }
  return Math.ceil(tokens);
}

function runTokens(run: string): number {
  const parts = run.match(IDENTIFIER_PART) ?? [];
  if (run.length >= RANDOM_RUN_MIN && run.length / parts.length < RANDOM_PART_CHARS) return run.length * 0.85;
  let tokens = 0;
  for (const part of parts) {
    const first = part.charCodeAt(0);
    if (isDigit(first)) tokens += part.length;
    else if (part.length > 1 && isUpper(part.charCodeAt(1))) tokens += Math.ceil(part.length / 2);
    else tokens += Math.ceil(part.length / 4);
  }
  return tokens;
}

function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}
