/**
 * Lays an outline (see syntax-outline.ts) out as chunks. Each line lands in exactly one chunk:
 * a container's members get their own chunks and the container keeps only the lines between them
 * (header, fields, comments), so no text is embedded twice. Runs of tiny siblings are merged, and
 * anything over the token budget is split by lines.
 */
import type { LineBudget, Piece } from './line-budget.js';
import type { Region } from './syntax-outline.js';

/** Pieces under this share of maxTokens are "tiny" and merge with tiny neighbours... */
const SMALL_FRACTION = 1 / 8;
/** ...into runs of at most this share of maxTokens. */
const MERGE_FRACTION = 1 / 2;

/**
 * head: a container's own first lines; gap: its lines between or after members;
 * def: a whole definition; block: top-level code between definitions.
 */
type Role = 'def' | 'head' | 'gap' | 'block';
interface Part extends Piece {
  role: Role;
}
/** An expanded container is a barrier: its parts never merge with its neighbours. */
type Item = Part | Part[];

/** Closing-only lines (`}`, `};`, `end`, `} // namespace x`) ride along with the chunk before them. */
const CLOSER = /^\s*(?:[)\]}]|end\b)[\s)\]};,]*(?:(?:\/\/|#|--).*)?$/;

/** Lines that open a body without adding content: `{`, C++ access specifiers. */
const OPENER = /^\s*(?:[{([]|(?:public|private|protected|internal)\s*:)\s*$/;

export function syntaxPieces(outline: Region, budget: LineBudget): Piece[] {
  const layout = new Layout(budget);
  const pieces: Piece[] = [];
  for (const part of layout.container(outline, true)) {
    for (const piece of budget.split(part)) {
      pieces.push({ start: piece.start, end: piece.end, kind: piece.kind, symbol: piece.symbol, ...(piece.text !== undefined && { text: piece.text }) });
    }
  }
  return pieces;
}

class Layout {
  private readonly small: number;
  private readonly mergeCap: number;

  constructor(private readonly budget: LineBudget) {
    this.small = budget.maxTokens * SMALL_FRACTION;
    this.mergeCap = budget.maxTokens * MERGE_FRACTION;
  }

  container(region: Region, isRoot: boolean): Part[] {
    const b = this.budget;
    const items: Item[] = [];
    const own = (start: number, end: number, role: Role): void => {
      const range = b.trim(start, end);
      if (!range) return;
      items.push({
        start: range[0],
        end: range[1],
        kind: isRoot ? 'block' : region.kind,
        symbol: isRoot ? null : region.symbol,
        role: isRoot ? 'block' : role,
      });
    };
    let cursor = region.start;
    for (const child of region.children) {
      if (child.start > cursor) own(cursor, child.start - 1, cursor === region.start ? 'head' : 'gap');
      items.push(this.child(child));
      cursor = child.end + 1;
    }
    const tail = cursor <= region.end ? b.trim(cursor, region.end) : null;
    if (tail) {
      const last = lastPart(items);
      if (last && this.onlyClosers(tail) && b.tokens(last.start, tail[1]) <= b.budgetFor(last.symbol)) {
        last.end = tail[1];
      } else {
        own(tail[0], tail[1], 'gap');
      }
    }
    const parts = this.merge(items, region, isRoot);
    if (isRoot) return parts;
    if (parts.length === 1) {
      // Everything merged back together: the chunk is simply the container.
      parts[0].kind = region.kind;
      parts[0].symbol = region.symbol;
      parts[0].role = 'def';
    } else if (parts[0].role === 'head' && this.isBareHeader(parts[0], region)) {
      // A bare header (`class Foo {`, `impl<T> Bar<T> {`) is a useless chunk on its own but good
      // context for the first member, which keeps its own name. Headers with fields stay apart.
      const [head, next] = parts;
      if (b.tokens(head.start, next.end) <= b.budgetFor(next.symbol)) {
        next.start = head.start;
        parts.shift();
      }
    }
    return parts;
  }

  private child(region: Region): Item {
    const range = this.budget.trim(region.start, region.end);
    if (range && (region.children.length === 0 || this.budget.tokens(range[0], range[1]) < this.small)) {
      return { start: range[0], end: range[1], kind: region.kind, symbol: region.symbol, role: 'def' };
    }
    return this.container(region, false);
  }

  private isBareHeader(head: Part, region: Region): boolean {
    if (this.budget.tokens(head.start, head.end) >= this.small) return false;
    for (let line = region.headerEnd + 1; line <= head.end; line++) {
      if (!this.budget.isBlank(line) && !OPENER.test(this.budget.lines[line])) return false;
    }
    return true;
  }

  private onlyClosers([start, end]: [number, number]): boolean {
    for (let line = start; line <= end; line++) {
      if (!this.budget.isBlank(line) && !CLOSER.test(this.budget.lines[line])) return false;
    }
    return true;
  }

  /** Greedily merges runs of consecutive tiny parts, never across an expanded container. */
  private merge(items: Item[], region: Region, isRoot: boolean): Part[] {
    const b = this.budget;
    const out: Part[] = [];
    let run: Part[] = [];
    const flush = (): void => {
      if (run.length === 1) out.push(run[0]);
      else if (run.length > 1) out.push(label(run, isRoot ? null : region.symbol));
      run = [];
    };
    for (const item of items) {
      if (Array.isArray(item)) {
        flush();
        out.push(...item);
        continue;
      }
      if (b.tokens(item.start, item.end) >= this.small) {
        flush();
        out.push(item);
        continue;
      }
      if (run.length > 0 && b.tokens(run[0].start, item.end) > this.mergeCap) flush();
      run.push(item);
    }
    flush();
    return out;
  }
}

/**
 * Names a merged run. With the container's header in it, it is the container; with exactly one
 * definition among plain code, it is that definition; otherwise it is a block of the enclosing
 * scope (null at top level), because naming it after its first member would mislead search.
 */
function label(run: Part[], scopeSymbol: string | null): Part {
  const first = run[0];
  const merged = { start: first.start, end: run[run.length - 1].end };
  const head = run.find((p) => p.role === 'head');
  if (head) return { ...merged, kind: head.kind, symbol: head.symbol, role: 'head' };
  if (run.every((p) => p.kind === first.kind && p.symbol === first.symbol)) return { ...merged, kind: first.kind, symbol: first.symbol, role: first.role };
  const defs = run.filter((p) => p.role === 'def');
  if (defs.length === 1) return { ...merged, kind: defs[0].kind, symbol: defs[0].symbol, role: 'def' };
  return { ...merged, kind: 'block', symbol: scopeSymbol, role: 'block' };
}

function lastPart(items: Item[]): Part | undefined {
  const last = items[items.length - 1];
  return Array.isArray(last) ? last[last.length - 1] : last;
}
