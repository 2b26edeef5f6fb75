/**
 * Token accounting by lines. Tokenizing is the chunker's main cost (~80k tokens/s) and grows
 * super-linearly with text length, so every distinct line is tokenized once and ranges are summed
 * from a prefix array instead of re-tokenizing growing candidate chunks.
 */
import { embeddingHeader } from './chunk.js';
import type { TextTokenizer } from '../../models/tokenizer.js';

/** A candidate chunk: 0-based inclusive line range, or part of one over-long line when `text` is set. */
export interface Piece {
  start: number;
  end: number;
  kind: string;
  symbol: string | null;
  /** Set only for character cuts of a single line longer than the budget. */
  text?: string;
}

/**
 * Per-line counts differ from the count of the joined text (the tokenizer's "▁" prefix, merges
 * across line breaks). Measured on code with the Mistral tokenizer they over-count, but keep a
 * margin anyway: a chunk that overflows the model is truncated silently.
 */
const SAFETY_RATIO = 0.95;
const SAFETY_TOKENS = 4;
/** Lines longer than this many characters per budget token are cut by characters untokenized. */
const LONG_LINE_CHARS_PER_TOKEN = 12;

export class LineBudget {
  readonly lines: string[];
  readonly maxTokens: number;
  private readonly tokenizer: TextTokenizer;
  private readonly path: string;
  /** prefix[i] = tokens of lines [0, i). */
  private readonly prefix: Float64Array;
  private readonly headerBudgets = new Map<string | null, number>();

  constructor(text: string, path: string, maxTokens: number, tokenizer: TextTokenizer) {
    this.lines = text.split('\n');
    this.maxTokens = maxTokens;
    this.tokenizer = tokenizer;
    this.path = path;
    const longLine = maxTokens * LONG_LINE_CHARS_PER_TOKEN;
    const cache = new Map<string, number>();
    this.prefix = new Float64Array(this.lines.length + 1);
    for (let i = 0; i < this.lines.length; i++) {
      const line = this.lines[i];
      let n: number;
      if (line.trim() === '') n = 1;
      else if (line.length > longLine) n = Math.ceil(line.length / 3); // never tokenized whole
      else {
        const cached = cache.get(line);
        // +1 for the line break that joins it to the next line.
        n = cached ?? tokenizer.count(line) + 1;
        if (cached === undefined) cache.set(line, n);
      }
      this.prefix[i + 1] = this.prefix[i] + n;
    }
  }

  get lineCount(): number {
    return this.lines.length;
  }

  isBlank(line: number): boolean {
    return this.lines[line].trim() === '';
  }

  /** Estimated tokens of lines [start, end] joined by line breaks. */
  tokens(start: number, end: number): number {
    return this.prefix[end + 1] - this.prefix[start];
  }

  /**
   * Tokens a chunk with `symbol` may hold: the model also sees the `path: symbol` header that
   * embeddingText() puts in front, so that is reserved too.
   */
  budgetFor(symbol: string | null): number {
    let budget = this.headerBudgets.get(symbol);
    if (budget === undefined) {
      const header = this.tokenizer.count(embeddingHeader({ path: this.path, symbol })) + 1;
      budget = Math.max(8, Math.floor((this.maxTokens - header) * SAFETY_RATIO) - SAFETY_TOKENS);
      this.headerBudgets.set(symbol, budget);
    }
    return budget;
  }

  /** Estimated tokens of the embedding text of a piece: its header line and its lines (or cut text). */
  embeddingTokens(piece: Piece): number {
    const header = this.tokenizer.count(embeddingHeader({ path: this.path, symbol: piece.symbol })) + 1;
    return header + (piece.text !== undefined ? this.tokenizer.count(piece.text) : this.tokens(piece.start, piece.end));
  }

  /** The range shrunk to its first and last non-blank lines, or null when it is all blank. */
  trim(start: number, end: number): [number, number] | null {
    while (start <= end && this.isBlank(start)) start++;
    while (end >= start && this.isBlank(end)) end--;
    return start <= end ? [start, end] : null;
  }

  text(piece: Piece): string {
    return piece.text ?? this.lines.slice(piece.start, piece.end + 1).join('\n');
  }

  /**
   * Splits a piece that is over its budget into consecutive line windows that each fit, keeping its
   * kind and symbol. Windows are balanced (n windows of about total/n) so a function 10% over budget
   * becomes two halves rather than a full window and a two-line tail.
   */
  split(piece: Piece): Piece[] {
    const budget = this.budgetFor(piece.symbol);
    if (piece.text !== undefined || this.tokens(piece.start, piece.end) <= budget) return [piece];
    const total = this.tokens(piece.start, piece.end);
    const target = total / Math.ceil(total / budget);
    const out: Piece[] = [];
    let winStart = -1;
    let winTokens = 0;
    const close = (end: number): void => {
      const range = winStart < 0 ? null : this.trim(winStart, end);
      if (range) out.push({ ...piece, start: range[0], end: range[1] });
      winStart = -1;
      winTokens = 0;
    };
    for (let line = piece.start; line <= piece.end; line++) {
      const n = this.tokens(line, line);
      if (n > budget) {
        close(line - 1);
        for (const text of this.cutLine(line, budget)) out.push({ ...piece, start: line, end: line, text });
        continue;
      }
      if (winStart >= 0 && (winTokens + n > budget || winTokens + n / 2 > target)) close(line - 1);
      if (winStart < 0) {
        // A window never starts with blank lines; they stay with the previous window's range gap.
        if (this.isBlank(line)) continue;
        winStart = line;
      }
      winTokens += n;
    }
    close(piece.end);
    return out;
  }

  /**
   * Cuts one over-long line (minified code, data) into parts of at most `budget` tokens. Parts are
   * tokenized individually, never the whole line, because tokenizer cost grows super-linearly.
   */
  private cutLine(line: number, budget: number): string[] {
    const text = this.lines[line];
    const parts: string[] = [];
    let charsPerToken = 3;
    let pos = 0;
    while (pos < text.length) {
      let take = Math.max(1, Math.floor(budget * charsPerToken * 0.9));
      let part = sliceWhole(text, pos, take);
      let n = this.tokenizer.count(part);
      while (n > budget && part.length > 1) {
        take = Math.max(1, Math.floor(part.length * (budget / n) * 0.9));
        part = sliceWhole(text, pos, take);
        n = this.tokenizer.count(part);
      }
      if (part.trim() !== '') parts.push(part);
      if (n > 0) charsPerToken = Math.max(1, part.length / n);
      pos += part.length;
    }
    return parts;
  }
}

/** text.slice(pos, pos + length) without splitting a UTF-16 surrogate pair. */
function sliceWhole(text: string, pos: number, length: number): string {
  let end = Math.min(text.length, pos + length);
  const code = text.charCodeAt(end - 1);
  if (end < text.length && end - pos > 1 && code >= 0xd800 && code <= 0xdbff) end--;
  return text.slice(pos, end);
}
