/**
 * Turns a tree-sitter tree into an outline: nested regions (line ranges) for the definitions worth
 * their own chunk. Regions never overlap their siblings and lie inside their parent, so the chunker
 * can carve a parent's own lines (header, fields, closing brace) out from between its children.
 */
import type { Node } from 'web-tree-sitter';
import { TYPE_KINDS, type DefMatch, type SyntaxSpec } from './syntax-specs.js';

export interface Region {
  kind: string;
  symbol: string | null;
  /** 0-based inclusive line range; includes attached doc comments and attributes. */
  start: number;
  end: number;
  /**
   * Last line of a container's declaration proper (up to the line that opens its body); members
   * and fields come after it. Equal to the definition's first line for non-containers.
   */
  headerEnd: number;
  /** Member regions, in order (only containers have them). */
  children: Region[];
}

/**
 * How deep to look through non-definition nodes for definitions (`export default {...}`,
 * `if __name__ == ...:`, `#ifdef`, `extern "C" {...}`, class bodies). Bounded so that a huge
 * top-level data literal costs a few levels of nodes, not its whole subtree.
 */
export const MAX_SEARCH_DEPTH = 4;

interface Scope {
  symbol: string | null;
  kind: string | null;
}

function startLine(node: Node): number {
  return node.startPosition.row;
}

/** A node that ends at column 0 ends with the previous line's line break. */
function endLine(node: Node): number {
  const end = node.endPosition;
  return end.column === 0 && end.row > node.startPosition.row ? end.row - 1 : end.row;
}

const BODY_TYPES = /body|declaration_list|^block$/;

/** `class Foo extends Bar {` -> that line; Python's `class Foo:` -> the line before the body's first statement. */
function headerEnd(node: Node): number {
  let body = node.childForFieldName('body');
  if (!body) {
    for (const child of node.namedChildren) if (child && BODY_TYPES.test(child.type)) body = child;
  }
  if (!body) return startLine(node);
  const first = body.namedChild(0);
  const opener = !first || first.startPosition.row > body.startPosition.row;
  return Math.max(startLine(node), opener ? body.startPosition.row : body.startPosition.row - 1);
}

export function buildOutline(root: Node, spec: SyntaxSpec, lineCount: number): Region {
  const match = (node: Node): DefMatch | null => spec.defs[node.type]?.(node, match) ?? null;
  const outline: Region = { kind: 'block', symbol: null, start: 0, end: lineCount - 1, headerEnd: -1, children: [] };

  const collect = (node: Node, scope: Scope, depth: number, out: Region[]): void => {
    // Pending run of doc comments / attributes, attached to the definition that follows directly.
    let prefixStart = -1;
    let prefixEnd = -1;
    let lastCodeEnd = -1;
    for (const child of node.namedChildren) {
      if (!child) continue;
      const start = startLine(child);
      const end = endLine(child);
      if (spec.prefix.has(child.type)) {
        if (start <= lastCodeEnd) {
          prefixStart = -1; // a trailing comment on a code line belongs to that code
        } else if (prefixStart >= 0 && start <= prefixEnd + 1) {
          prefixEnd = end;
        } else {
          prefixStart = start;
          prefixEnd = end;
        }
        continue;
      }
      const found = match(child);
      if (found) {
        const kind = found.kind === 'function' && scope.kind && TYPE_KINDS.has(scope.kind) ? 'method' : found.kind;
        const symbol = found.qualified || !scope.symbol ? found.name : found.name ? `${scope.symbol}.${found.name}` : scope.symbol;
        const region: Region = {
          kind,
          symbol,
          start: prefixStart >= 0 && start <= prefixEnd + 1 ? prefixStart : start,
          end,
          headerEnd: found.container ? headerEnd(found.inner ?? child) : start,
          children: [],
        };
        if (found.container) collect(found.inner ?? child, { symbol, kind }, 0, region.children);
        out.push(region);
      } else if (depth < MAX_SEARCH_DEPTH && child.namedChildCount > 0) {
        collect(child, scope, depth + 1, out);
      }
      prefixStart = -1;
      lastCodeEnd = Math.max(lastCodeEnd, end);
    }
  };

  collect(root, { symbol: null, kind: null }, 0, outline.children);
  resolve(outline, true);
  return outline;
}

/**
 * Makes children disjoint and strictly inside their parent. Where two definitions share a line
 * (`} function b() {`, one-line classes) the earlier one keeps it; a child left with no lines
 * of its own is dropped and its text stays with whoever owns those lines.
 */
function resolve(region: Region, isRoot: boolean): void {
  region.children.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: Region[] = [];
  // The parent's first line (its header) is always its own.
  let floor = isRoot ? region.start : region.start + 1;
  for (const child of region.children) {
    child.start = Math.max(child.start, floor);
    child.end = Math.min(child.end, region.end);
    if (child.start > child.end) continue;
    resolve(child, false);
    kept.push(child);
    floor = child.end + 1;
  }
  region.children = kept;
}
