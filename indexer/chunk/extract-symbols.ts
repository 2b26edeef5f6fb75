/**
 * Reads a file's symbol table off the tree the chunker parsed (no second parse). Definitions are found
 * by the outline's rules and scopes (syntax-outline.ts), so a definition's qualified name is the symbol
 * its chunk carries; identifier occurrences come from one tree-sitter query per grammar
 * (occurrence-queries.ts), which runs inside WebAssembly (a JavaScript cursor walk of every node cost
 * 1.5x the parse, the query under 1x), each classified as a call, an import, the definition's own name
 * or another use.
 */
import type { Node, Tree } from 'web-tree-sitter';
import { packOccurrences, type FileSymbols, type Occurrence, type RefKind, type SymbolDef, type SymbolKind } from './file-symbols.js';
import { occurrenceQuery } from './occurrence-queries.js';
import { MAX_SEARCH_DEPTH } from './syntax-outline.js';
import { TYPE_KINDS, type DefMatch, type SyntaxSpec } from './syntax-specs.js';
import { SYMBOL_EXTRAS, type ExtraDef, type ExtraRule } from './symbol-extras.js';

/** Receivers, not names anyone looks up. */
const SKIPPED_NAMES = new Set(['self', 'cls', 'this']);
/** Longer "identifiers" are generated data, not names. */
const MAX_NAME_CHARS = 128;
/** A generated file can hold a million identifiers; past this many occurrences the rest of it is not recorded. */
const MAX_OCCURRENCES = 200_000;
const MAX_SIGNATURE_CHARS = 200;
const BODY_TYPES = /body|declaration_list|^block$/;

/** A definition with where it is in the text, for placing identifiers inside it. */
interface Placed {
  def: SymbolDef;
  ord: number;
  start: number;
  end: number;
  /** Start index of the identifier that names it, when the grammar says which one. */
  nameAt: number | null;
}

export function extractSymbols(tree: Tree, text: string, language: string, spec: SyntaxSpec): FileSymbols {
  const placed = collectDefinitions(tree.rootNode, text, spec, SYMBOL_EXTRAS[language] ?? {});
  const refs = collectOccurrences(tree, text, language, placed);
  return { defs: placed.map((p) => p.def), refs };
}

// ---------------------------------------------------------------- definitions

interface Scope {
  symbol: string | null;
  kind: string | null;
  /** Index of the scope's own definition (null for the file, and for impl blocks, which are no symbols). */
  ord: number | null;
}

/** The outline's walk (same depth bound, same scopes), keeping every named definition and the extras. */
function collectDefinitions(root: Node, text: string, spec: SyntaxSpec, extras: Readonly<Record<string, ExtraRule>>): Placed[] {
  const out: Placed[] = [];
  const match = (node: Node): DefMatch | null => spec.defs[node.type]?.(node, match) ?? null;

  const add = (node: Node, def: Omit<SymbolDef, 'signature' | 'signatureEnd' | 'startLine' | 'endLine'>, bodyOwner: Node, nameAt: number | null): number => {
    const sig = signature(node, bodyOwner, text);
    out.push({
      def: { ...def, signature: sig.text, signatureEnd: sig.end, startLine: node.startPosition.row + 1, endLine: endRow(node) + 1 },
      ord: out.length,
      start: node.startIndex,
      end: node.endIndex,
      nameAt,
    });
    return out.length - 1;
  };

  const visit = (node: Node, scope: Scope, depth: number): void => {
    for (const child of node.namedChildren) {
      if (!child) continue;
      const extra = extras[child.type];
      const found = extra?.override ? null : match(child);
      if (found) {
        const kind = found.kind === 'function' && scope.kind && TYPE_KINDS.has(scope.kind) ? 'method' : found.kind;
        const qualified = found.qualified || !scope.symbol ? found.name : found.name ? `${scope.symbol}.${found.name}` : scope.symbol;
        let ord = scope.ord;
        if (found.name && qualified && isSymbolKind(kind)) {
          const name = found.name.slice(found.name.lastIndexOf('.') + 1);
          const nameNode = (found.inner ?? child).childForFieldName('name');
          const nameAt = nameNode && nameNode.text === name ? nameNode.startIndex : null;
          ord = add(child, { name, qualified, kind, parent: scope.ord }, found.inner ?? child, nameAt);
        }
        if (found.container) visit(found.inner ?? child, { symbol: qualified, kind, ord }, 0);
        continue;
      }
      const extraDefs: ExtraDef[] = extra ? extra.defs(child, scope.kind) : [];
      let ord = scope.ord;
      for (const def of extraDefs) {
        const own = def.node ?? child;
        const qualified = scope.symbol ? `${scope.symbol}.${def.name}` : def.name;
        ord = add(own, { name: def.name, qualified, kind: def.kind, parent: scope.ord }, own, def.nameNode.startIndex);
      }
      // The outline looks inside (`const handlers = { get() {...} }` has a method `get`): so do we, and such
      // members hang on the constant, while their names stay the chunks' (scoped like the outline's).
      if (depth < MAX_SEARCH_DEPTH && child.namedChildCount > 0) visit(child, { ...scope, ord: extraDefs.length === 1 ? ord : scope.ord }, depth + 1);
    }
  };
  visit(root, { symbol: null, kind: null, ord: null }, 0);
  return out;
}

function isSymbolKind(kind: string): kind is SymbolKind {
  return kind !== 'impl' && kind !== 'block';
}

/** A node that ends at column 0 ends with the previous line's line break. */
function endRow(node: Node): number {
  const end = node.endPosition;
  return end.column === 0 && end.row > node.startPosition.row ? end.row - 1 : end.row;
}

/**
 * The declaration up to its body, whitespace collapsed: `def url_for(self, endpoint: str) -> str:`,
 * `pub fn build(&self) -> Result<Child>`. Starts past decorators; without a body, the first line.
 */
function signature(node: Node, bodyOwner: Node, text: string): { text: string; end: number } {
  const start = node.type === 'decorated_definition' ? (node.childForFieldName('definition') ?? node) : node;
  let body = bodyOwner.childForFieldName('body');
  if (!body) for (const child of bodyOwner.namedChildren) if (child && BODY_TYPES.test(child.type)) body = child;
  let end: number;
  let endLine: number;
  if (body && body.startIndex > start.startIndex) {
    end = body.startIndex;
    endLine = body.startPosition.row;
  } else {
    const newline = text.indexOf('\n', start.startIndex);
    end = newline < 0 || newline > start.endIndex ? start.endIndex : newline;
    endLine = start.startPosition.row;
  }
  // Comments between the header and the body (Python's first line of a body can be one) are not the signature.
  const header = text.slice(start.startIndex, end).split('\n');
  while (header.length > 1 && /^\s*(#|\/\/|\/\*|\*|$)/.test(header[header.length - 1])) header.pop();
  let sig = header.join(' ').replace(/\s+/g, ' ').trim();
  if (sig.endsWith('{')) sig = sig.slice(0, -1).trimEnd();
  if (sig.length > MAX_SIGNATURE_CHARS) sig = `${sig.slice(0, MAX_SIGNATURE_CHARS - 1)}…`;
  return { text: sig, end: endLine + 1 };
}

// ---------------------------------------------------------------- occurrences

function collectOccurrences(tree: Tree, text: string, language: string, placed: Placed[]): FileSymbols['refs'] {
  const query = occurrenceQuery(language, tree.language);
  if (!query) return [];
  const captures = query.captures(tree.rootNode);
  const calls = new Set<string>();
  const imports: [number, number][] = [];
  const decorations: [number, number][] = [];
  for (const { name, node } of captures) {
    if (name === 'call') calls.add(`${node.startIndex}:${node.endIndex}`);
    else if (name === 'import') imports.push([node.startIndex, node.endIndex]);
    else if (name === 'decoration') decorations.push([node.startIndex, node.endIndex]);
  }
  const named = new Map<number, Placed>();
  for (const p of placed) if (p.nameAt !== null) named.set(p.nameAt, p);
  /** Definitions whose name is still to be met: the first identifier inside with that text, outside decorations. */
  const unnamed = new Set(placed.filter((p) => p.nameAt === null));
  const inRanges = (ranges: [number, number][]) => {
    let i = 0;
    return (at: number): boolean => {
      while (i < ranges.length && ranges[i][1] <= at) i++;
      return i < ranges.length && ranges[i][0] <= at;
    };
  };
  const inImport = inRanges(imports);
  const inDecoration = inRanges(decorations);

  const refs = new Map<string, Occurrence[]>();
  const seen = new Set<string>();
  let count = 0;
  const open: Placed[] = [];
  let next = 0;
  let lastAt = -1;
  for (const { name: capture, node } of captures) {
    if (capture !== 'id') continue;
    const at = node.startIndex;
    if (at === lastAt) continue;
    lastAt = at;
    // The definitions holding `at`: placed is in document order, parents before members.
    while (next < placed.length && placed[next].start <= at) {
      const p = placed[next++];
      while (open.length > 0 && open[open.length - 1].end <= p.start) open.pop();
      open.push(p);
    }
    while (open.length > 0 && open[open.length - 1].end <= at) open.pop();
    const endAt = node.endIndex;
    const name = text.slice(at, endAt);
    if (name.length > MAX_NAME_CHARS || SKIPPED_NAMES.has(name)) continue;
    let kind: RefKind;
    let enclosing: number | null = open.length > 0 ? open[open.length - 1].ord : null;
    const definition = named.get(at) ?? firstNaming(open, unnamed, name, at, inDecoration);
    if (definition) {
      kind = 'definition';
      enclosing = definition.def.parent;
      unnamed.delete(definition);
    } else {
      kind = inImport(at) ? 'import' : calls.has(`${at}:${endAt}`) ? 'call' : 'use';
    }
    const line = node.startPosition.row + 1;
    const key = `${name}\u0000${line}${kind}${enclosing}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let list = refs.get(name);
    if (!list) refs.set(name, (list = []));
    list.push({ line, kind, enclosing });
    if (++count >= MAX_OCCURRENCES) break;
  }
  return [...refs].map(([name, list]) => [name, packOccurrences(list)]);
}

function firstNaming(open: Placed[], unnamed: Set<Placed>, name: string, at: number, inDecoration: (at: number) => boolean): Placed | undefined {
  if (unnamed.size === 0) return undefined;
  for (let i = open.length - 1; i >= 0; i--) {
    const p = open[i];
    if (unnamed.has(p) && p.def.name === name && !inDecoration(at)) return p;
  }
  return undefined;
}
