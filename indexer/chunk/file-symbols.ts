/**
 * A file's symbol table as the chunker's tree-sitter parse sees it: its named definitions (with their
 * qualified names, the same ones chunks carry) and the identifier occurrences that `references` reads.
 * Plain data, so it crosses from the preparation workers to the store unchanged.
 */

export const SYMBOL_KINDS = [
  'function',
  'method',
  'class',
  'struct',
  'trait',
  'interface',
  'enum',
  'constant',
  'variable',
  'type',
  'module',
] as const;
export type SymbolKind = (typeof SYMBOL_KINDS)[number];

export interface SymbolDef {
  /** The bare name (`url_for`). */
  name: string;
  /** Qualified by its enclosing types and modules, dot-separated in every language (`Flask.url_for`, `Builder.build`). */
  qualified: string;
  kind: SymbolKind;
  /** The declaration up to its body, on one line (`def url_for(self, endpoint: str, **values) -> str:`), capped. */
  signature: string;
  /** 1-based inclusive lines of the definition (decorators and `export` included, doc comments not). */
  startLine: number;
  endLine: number;
  /** Last line the signature was taken from (not stored: it decides which definitions a dropped line takes with it). */
  signatureEnd: number;
  /** Index in the file's `defs` of the enclosing definition, or null at top level. */
  parent: number | null;
}

export type RefKind = 'call' | 'import' | 'definition' | 'use';

export interface Occurrence {
  /** 1-based line. */
  line: number;
  kind: RefKind;
  /** Index in the file's `defs` of the innermost definition holding it, or null at top level. */
  enclosing: number | null;
}

export interface FileSymbols {
  defs: SymbolDef[];
  /** Per identifier, its occurrences in the file, packed (see packOccurrences), one entry per distinct (line, kind, enclosing). */
  refs: [name: string, occurrences: string][];
}

const KIND_LETTER: Record<RefKind, string> = { call: 'c', import: 'i', definition: 'd', use: 'u' };
const LETTER_KIND: Record<string, RefKind> = { c: 'call', i: 'import', d: 'definition', u: 'use' };

/**
 * `12c3,15u,20d`: line, kind letter, then the enclosing definition's index if any. About 4 bytes an
 * occurrence, one row per name and file: a table of rows per occurrence would be ten times the size.
 */
export function packOccurrences(list: readonly Occurrence[]): string {
  return list.map((o) => `${o.line}${KIND_LETTER[o.kind]}${o.enclosing ?? ''}`).join(',');
}

export function unpackOccurrences(packed: string): Occurrence[] {
  const out: Occurrence[] = [];
  for (const part of packed.split(',')) {
    const m = /^(\d+)([cidu])(\d*)$/.exec(part);
    if (!m) continue;
    out.push({ line: Number(m[1]), kind: LETTER_KIND[m[2]], enclosing: m[3] === '' ? null : Number(m[3]) });
  }
  return out;
}

/** The symbols that survive dropping some lines (chunks left out for holding a secret): no signature or name from them is stored. */
export function withoutLines(symbols: FileSymbols, dropped: (line: number) => boolean): FileSymbols {
  const keep = symbols.defs.map((d) => !linesDropped(d.startLine, d.signatureEnd, dropped));
  const index = new Map<number, number>();
  const defs: SymbolDef[] = [];
  symbols.defs.forEach((d, i) => {
    if (!keep[i]) return;
    index.set(i, defs.length);
    defs.push({ ...d });
  });
  const remap = (i: number | null): number | null => {
    // A dropped definition's members and uses hang on its nearest kept ancestor.
    for (let at = i; at !== null; at = symbols.defs[at].parent) {
      const mapped = index.get(at);
      if (mapped !== undefined) return mapped;
    }
    return null;
  };
  for (const d of defs) d.parent = remap(d.parent);
  const refs: FileSymbols['refs'] = [];
  for (const [name, packed] of symbols.refs) {
    const kept = unpackOccurrences(packed)
      .filter((o) => !dropped(o.line))
      .map((o) => ({ ...o, enclosing: remap(o.enclosing) }));
    if (kept.length > 0) refs.push([name, packOccurrences(kept)]);
  }
  return { defs, refs };
}

function linesDropped(first: number, last: number, dropped: (line: number) => boolean): boolean {
  for (let line = first; line <= last; line++) if (dropped(line)) return true;
  return false;
}
