/**
 * The definitions of a source file as codecarto's chunker sees them (tree-sitter outline, qualified
 * symbols), flattened, each with the line of its signature. The question benchmark uses them to check
 * its answers against the checked-out code and to turn grep's matching lines into the definitions
 * that enclose them.
 */
import type { TreeCursor } from 'web-tree-sitter';
import { buildOutline, type Region } from '../../indexer/chunk/syntax-outline.js';
import { SYNTAX_SPECS } from '../../indexer/chunk/syntax-specs.js';
import { getParser, hasGrammar } from '../../indexer/chunk/tree-sitter-parser.js';

export interface Definition {
  symbol: string;
  kind: string;
  /** 1-based line of the signature (`def`, `fn`, `func`, `function` ...), after doc comments, attributes and decorators. */
  line: number;
  /** 1-based inclusive range, doc comments and attributes included (the outline's region). */
  start: number;
  end: number;
}

/** Lines before a signature that belong to the definition: comments, Rust attributes, decorators, blank lines. */
const PREFIX_LINE = /^\s*(\/\/|\/\*|\*|#|@|$)/;

/** Named definitions of `text`, parents before their members; [] for a language without a grammar. */
export async function fileDefinitions(text: string, language: string): Promise<Definition[]> {
  const spec = SYNTAX_SPECS[language];
  if (!spec || !hasGrammar(language)) return [];
  const parser = await getParser(language);
  const tree = parser.parse(text);
  if (!tree) return [];
  try {
    const lines = text.split('\n');
    const outline = buildOutline(tree.rootNode, spec, lines.length);
    const names = nameRows(tree.walk());
    const out: Definition[] = [];
    const visit = (region: Region) => {
      if (region.symbol) {
        const bare = region.symbol.slice(region.symbol.lastIndexOf('.') + 1);
        let line = names.get(bare)?.find((row) => row >= region.start && row <= region.end) ?? -1;
        if (line < 0) {
          line = region.start;
          while (line < region.end && PREFIX_LINE.test(lines[line] ?? '') && !isCodeAfterAttribute(lines[line] ?? '')) line++;
        }
        out.push({ symbol: region.symbol, kind: region.kind, line: line + 1, start: region.start + 1, end: region.end + 1 });
      }
      region.children.forEach(visit);
    };
    outline.children.forEach(visit);
    return out;
  } finally {
    tree.delete();
  }
}

/**
 * Rows (0-based, ascending) where each name is a node's `name` field: the line that names a definition,
 * past decorators that span lines (Python's stacked `@click.option(...)`).
 */
function nameRows(cursor: TreeCursor): Map<string, number[]> {
  const rows = new Map<string, number[]>();
  for (;;) {
    if (cursor.currentFieldName === 'name') {
      const node = cursor.currentNode;
      const list = rows.get(node.text);
      if (list) list.push(node.startPosition.row);
      else rows.set(node.text, [node.startPosition.row]);
    }
    if (cursor.gotoFirstChild()) continue;
    while (!cursor.gotoNextSibling()) {
      if (!cursor.gotoParent()) {
        cursor.delete();
        return rows;
      }
    }
  }
}

/** `#[test] fn x()` or `@decorator def x():` on one line: the signature is on it. */
function isCodeAfterAttribute(line: string): boolean {
  return /^\s*(#\[.*\]|@\S+)\s+(pub|fn|def|async|func|function|class|export)\b/.test(line);
}

/** The innermost definition whose range holds `line` (1-based), or undefined outside every definition. */
export function enclosingDefinition(definitions: readonly Definition[], line: number): Definition | undefined {
  let best: Definition | undefined;
  for (const d of definitions) {
    if (d.start <= line && line <= d.end && (!best || d.end - d.start < best.end - best.start)) best = d;
  }
  return best;
}
