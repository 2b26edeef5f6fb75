/**
 * Chunks for files without a syntax tree: markdown by headings, everything else by line windows.
 * Both return line-range pieces; over-budget pieces are split by LineBudget.split.
 */
import type { LineBudget, Piece } from './line-budget.js';

/** Line windows under the token budget: the fallback for any text and for code that fails to parse. */
export function lineWindowPieces(budget: LineBudget): Piece[] {
  const range = budget.trim(0, budget.lineCount - 1);
  if (!range) return [];
  // One piece over the whole file, cut into windows that fit; a small file stays one chunk.
  return budget.split({ start: range[0], end: range[1], kind: 'lines', symbol: null });
}

interface Section {
  start: number;
  end: number;
  /** Heading titles from the top level down to this section's own heading. */
  path: string[];
}

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;

/**
 * Markdown sections, one per heading (ATX `#` and setext underlines; fenced code and front matter
 * are skipped). The symbol is the heading path, `Install > From source`; text before the first
 * heading is a section with a null symbol.
 */
export function markdownPieces(budget: LineBudget): Piece[] {
  const lines = budget.lines;
  const sections: Section[] = [];
  const stack: { level: number; title: string }[] = [];
  let current: Section = { start: 0, end: lines.length - 1, path: [] };
  const open = (start: number, level: number, title: string): void => {
    current.end = start - 1;
    sections.push(current);
    while (stack.length > 0 && stack[stack.length - 1].level >= level) stack.pop();
    stack.push({ level, title });
    current = { start, end: lines.length - 1, path: stack.map((h) => h.title) };
  };

  let fence: string | null = null;
  let lastHeading = -1;
  let i = 0;
  if (lines[0]?.trim() === '---') {
    // YAML front matter: its closing `---` must not read as a setext underline.
    const close = lines.findIndex((line, n) => n > 0 && /^(---|\.\.\.)\s*$/.test(line));
    if (close > 0) i = close + 1;
  }
  for (; i < lines.length; i++) {
    const line = lines[i];
    const fenceMatch = FENCE.exec(line);
    if (fence) {
      if (fenceMatch && fenceMatch[1][0] === fence[0] && fenceMatch[1].length >= fence.length) fence = null;
      continue;
    }
    if (fenceMatch) {
      fence = fenceMatch[1];
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      open(i, atx[1].length, (atx[2] ?? '').trim());
      lastHeading = i;
      continue;
    }
    const setext = SETEXT.exec(line);
    const above = i > 0 ? lines[i - 1] : '';
    if (setext && i - 1 > lastHeading && isParagraphText(above) && (i < 2 || budget.isBlank(i - 2))) {
      open(i - 1, setext[1][0] === '=' ? 1 : 2, above.trim());
      lastHeading = i;
    }
  }
  sections.push(current);

  return mergeSubsections(sections, budget).flatMap((section) => {
    const range = budget.trim(section.start, section.end);
    if (!range) return [];
    const symbol = section.path.length > 0 ? section.path.join(' > ') : null;
    return budget.split({ start: range[0], end: range[1], kind: 'section', symbol });
  });
}

/** A line that can be a setext heading's title (not a list item, quote, table or heading). */
function isParagraphText(line: string): boolean {
  return line.trim() !== '' && !/^ {0,3}([-*+>#|]|\d+[.)])/.test(line);
}

/**
 * Folds tiny subsections into their parent (`## Install` + a two-line `### npm`) so a README does
 * not become a pile of two-line chunks. Only descendants merge, so the symbol stays true.
 */
function mergeSubsections(sections: Section[], budget: LineBudget): Section[] {
  const small = budget.maxTokens / 8;
  const cap = budget.maxTokens / 2;
  const out: Section[] = [];
  for (const section of sections) {
    const prev = out[out.length - 1];
    if (
      prev &&
      prev.path.length > 0 &&
      isPrefix(prev.path, section.path) &&
      budget.tokens(section.start, section.end) < small &&
      budget.tokens(prev.start, section.end) <= cap
    ) {
      prev.end = section.end;
    } else {
      out.push({ ...section });
    }
  }
  return out;
}

function isPrefix(prefix: string[], path: string[]): boolean {
  return prefix.length < path.length && prefix.every((title, i) => path[i] === title);
}
