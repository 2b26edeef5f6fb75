/**
 * Questions an agent asks of the symbol table (indexer/store/symbol-tables.ts): where is X defined
 * (findSymbols), where is X used (findReferences), what is in this file or directory (outlineOf). Names
 * are matched as written; nothing here resolves types, so `references` of a method name includes other
 * methods of that name, and says so.
 */
import { InvalidInputError } from '../../models/errors/codecarto-error.js';
import { unpackOccurrences, type RefKind, type SymbolKind } from '../chunk/file-symbols.js';
import type { IndexStore } from '../store/store-types.js';
import { SYMBOL_TABLE_META, SYMBOL_TABLE_VERSION, type SymbolRow } from '../store/symbol-tables.js';
import { pathClass } from './path-class.js';
import { globList, pathGlobMatcher } from './path-glob.js';
import type { FindSymbolResult, OutlineResult, OutlineSymbol, ReferenceFile, ReferencesResult, SymbolHit } from './symbol-schemas.js';
import { estimateTokens } from './token-estimate.js';

type SymbolMatch = SymbolHit['match'];

/** Definitions a find_symbol answer lists at most. */
export const MAX_SYMBOL_RESULTS = 10;
/** Results that get their code with include_body, and the code each shows at most. */
export const BODY_RESULTS = 3;
const BODY_MAX_LINES = 150;
const BODY_MAX_CHARS = 6_000;
/** Occurrences a references answer shows with their line of code; the rest are counted per file. */
export const MAX_REFS_SHOWN = 60;
/** Files a references answer names at all. */
const MAX_REF_FILES = 100;
const CODE_MAX_CHARS = 140;
/** Symbols an outline lists at most, and the tokens its answer may take (the rest are counted in symbols_omitted). */
export const MAX_OUTLINE_SYMBOLS = 300;
export const OUTLINE_MAX_TOKENS = 6_000;
/** Rows read per name before ranking: `__init__` or `new` can have hundreds. */
const ROWS_PER_NAME = 2_000;
const PREFIX_ROWS = 200;
/** Names a fuzzy lookup turns into definitions. */
const FUZZY_NAMES = 10;

export interface FindSymbolRequest {
  name: string;
  kind?: SymbolKind;
  pathGlob?: string | string[];
  includeBody?: boolean;
  /** A file the agent is reading (relative to `root`): its definitions, its directory's and those of files it uses rank first. */
  near?: string;
  /** The project root, to accept an absolute `near` inside it. */
  root?: string;
}

/** `Builder::build`, `Foo->bar`, `Foo#bar`, `App\\Http\\Kernel`, `run()` -> `Builder.build`, ..., `run`. */
export function normalizeSymbolName(raw: string): string {
  return raw
    .trim()
    .replace(/\(\s*\)$/, '')
    .replace(/::|->|#|\\/g, '.')
    .replace(/^\.+|\.+$/g, '');
}

/** Definitions of `name`: exact names first, then qualified-name matches, then names that start with it, then near misses. */
export function findSymbols(store: IndexStore, request: FindSymbolRequest): FindSymbolResult {
  const name = normalizeSymbolName(request.name);
  if (!name) throw new InvalidInputError('name is empty: pass a symbol name such as "url_for" or "Flask.url_for".');
  const keep = rowFilter(request.kind, request.pathGlob);
  const table = store.symbols;
  const ranker = new DefinitionRanker(store, name.slice(name.lastIndexOf('.') + 1), request.near, request.root);
  const tiers: { rows: SymbolRow[]; match: SymbolMatch }[] = [];
  let note: string | undefined = ranker.note;

  if (name.includes('.')) {
    const bare = name.slice(name.lastIndexOf('.') + 1);
    const lower = name.toLowerCase();
    const qualified = [
      ...table.byQualified(name, ROWS_PER_NAME),
      // `Flask.url_for` also finds `app.Flask.url_for` (a module or namespace around it).
      ...table.byName(bare, ROWS_PER_NAME).filter((r) => r.qualified.toLowerCase().endsWith(`.${lower}`)),
    ].filter(keep);
    tiers.push({ rows: qualified, match: 'qualified' });
    if (qualified.length === 0) {
      // The type may inherit it or the path may differ: the bare name's definitions are the next best answer.
      const byBare = table.byName(bare, ROWS_PER_NAME).filter(keep);
      if (byBare.length > 0) note = `No definition is qualified "${name}"; these are the definitions named "${bare}".`;
      tiers.push({ rows: byBare.filter((r) => r.name === bare), match: 'exact' }, { rows: byBare.filter((r) => r.name !== bare), match: 'exact' });
    }
    tiers.push({ rows: table.byPrefix(name, PREFIX_ROWS, true).filter(keep), match: 'prefix' });
  } else {
    const rows = table.byName(name, ROWS_PER_NAME).filter(keep);
    tiers.push({ rows: rows.filter((r) => r.name === name), match: 'exact' }, { rows: rows.filter((r) => r.name !== name), match: 'exact' });
    tiers.push({ rows: table.byPrefix(name, PREFIX_ROWS).filter(keep), match: 'prefix' });
  }
  if (tiers.every((t) => t.rows.length === 0)) {
    tiers.push({ rows: fuzzyNames(table.names(), normalizeSymbolName(name).split('.').pop()!).flatMap((n) => table.byName(n, ROWS_PER_NAME)).filter(keep), match: 'fuzzy' });
  }

  const seen = new Set<string>();
  const ranked: { row: SymbolRow; match: SymbolMatch }[] = [];
  for (const tier of tiers) {
    const rows = tier.match === 'fuzzy' ? tier.rows : ranker.sort(tier.rows);
    for (const row of rows) {
      const key = `${row.fileId}:${row.ord}`;
      if (seen.has(key)) continue;
      seen.add(key);
      ranked.push({ row, match: tier.match });
    }
  }
  const results = ranked.slice(0, MAX_SYMBOL_RESULTS).map(({ row, match }, i): SymbolHit => ({
    symbol: row.qualified,
    kind: row.kind,
    path: row.path,
    start_line: row.startLine,
    end_line: row.endLine,
    signature: row.signature,
    match,
    ...(request.includeBody && i < BODY_RESULTS ? { body: bodyOf(store, row) } : {}),
  }));
  if (results.length > 0 && results.every((r) => r.match === 'fuzzy')) note ??= `No definition is named "${name}"; these names are close to it.`;
  return { results, total: ranked.length, ...(note ? { note } : {}) };
}

/**
 * The order of definitions within a tier. With `near` (a file the agent reads), as go-to-definition would:
 * that file's own, then those it most likely means (it names their enclosing type, their module, their
 * file's other top-level definitions; or shares their directory: nearEvidence). Then code
 * before tests, declarations (`.d.ts`) and vendored copies; types and functions before members, shallower
 * names first; members of types used in more files first; then path and line.
 */
class DefinitionRanker {
  readonly note: string | undefined;
  private readonly near: { fileId: number; dir: string; used: Set<string> } | undefined;
  private readonly typeUses = new Map<string, number>();

  constructor(
    private readonly store: IndexStore,
    private readonly sought: string,
    near: string | undefined,
    root: string | undefined,
  ) {
    if (near === undefined) return;
    const path = nearPath(near, root);
    const fileId = store.symbols.fileId(path);
    if (fileId === null) {
      this.note = `near "${near}" is not an indexed file, so it did not order the definitions: pass a path relative to the project root, e.g. "src/app.py".`;
      return;
    }
    this.near = { fileId, dir: path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '', used: store.symbols.namesUsedIn(fileId) };
  }

  sort(rows: SymbolRow[]): SymbolRow[] {
    const overlap = this.near ? this.importOverlap(rows) : undefined;
    const keyed = rows.map((row) => {
      const type = enclosingType(row.qualified);
      const typeUsedNear = !!this.near && type !== null && type !== this.sought && this.near.used.has(type);
      const shared = overlap?.get(row.fileId) ?? 0;
      const near = this.near ? nearEvidence(row, this.near, this.sought, typeUsedNear, shared) : { sameFile: 0, score: 0 };
      return {
        row,
        near: near.sameFile,
        nearScore: near.score,
        pathRank: pathRank(row.path),
        depth: depth(row.qualified),
        typeUses: type === null ? 0 : this.usesOf(type),
      };
    });
    keyed.sort(
      (a, b) =>
        a.near - b.near ||
        b.nearScore - a.nearScore ||
        a.pathRank - b.pathRank ||
        a.depth - b.depth ||
        b.typeUses - a.typeUses ||
        (a.row.path < b.row.path ? -1 : a.row.path > b.row.path ? 1 : 0) ||
        a.row.startLine - b.row.startLine,
    );
    return keyed.map((k) => k.row);
  }

  /** Per file of `rows`: how many of its other top-level names the near file mentions (it likely imports the file). */
  private importOverlap(rows: SymbolRow[]): Map<number, number> {
    const used = this.near!.used;
    const out = new Map<number, number>();
    const files = [...new Set(rows.map((r) => r.fileId))].filter((id) => id !== this.near!.fileId);
    for (const [fileId, names] of this.store.symbols.topLevelNames(files)) {
      let n = 0;
      for (const name of new Set(names)) if (name !== this.sought && used.has(name)) n++;
      out.set(fileId, n);
    }
    return out;
  }

  /** Files that name the type: `Builder.new` of a Builder used in 40 files before one used in 1. */
  private usesOf(type: string): number {
    let n = this.typeUses.get(type);
    if (n === undefined) this.typeUses.set(type, (n = this.store.symbols.filesUsing(type)));
    return n;
  }
}

/**
 * How likely the near file means this definition: its own first (sameFile 0); then a score where naming
 * the definition's enclosing type counts most, then the same directory and naming its file's module (an
 * import path: `from flask.json import`, `use crate::builder::`), then other top-level names of its file.
 * Weights were chosen on bench:symbols' five repositories (docs/quality.md, "Symbols").
 */
function nearEvidence(
  row: SymbolRow,
  near: { fileId: number; dir: string; used: Set<string> },
  sought: string,
  typeUsed: boolean,
  shared: number,
): { sameFile: number; score: number } {
  if (row.fileId === near.fileId) return { sameFile: 0, score: 0 };
  const dir = row.path.includes('/') ? row.path.slice(0, row.path.lastIndexOf('/')) : '';
  // A module named like the symbol (`h.ts` for `h`) says nothing: the near file names the symbol anyway.
  const module = moduleName(row.path);
  const score = (typeUsed ? 3 : 0) + (dir === near.dir ? 2 : 0) + (module !== sought && near.used.has(module) ? 2 : 0) + Math.log2(1 + shared);
  return { sameFile: 1, score };
}

/** The name an import uses for a file: its stem, or its directory's for `mod.rs`, `__init__.py`, `index.ts` (`src` skipped). */
function moduleName(path: string): string {
  const parts = path.split('/');
  let i = parts.length - 1;
  let name = parts[i].replace(/\.[^.]*$/, '');
  while (/^(mod|lib|index|__init__|main|src)$/.test(name) && i > 0) name = parts[--i];
  return name;
}

/** `a.Builder.new` -> `Builder`; a top-level name has none. */
function enclosingType(qualified: string): string | null {
  const last = qualified.lastIndexOf('.');
  if (last < 0) return null;
  return qualified.slice(qualified.lastIndexOf('.', last - 1) + 1, last) || null;
}

/** `near` as indexed: relative to the root (an absolute path inside `root` is accepted); never outside it. */
function nearPath(raw: string, root: string | undefined): string {
  const trimmed = raw.trim();
  if (!trimmed) throw new InvalidInputError('near is empty: pass the path of a file you are reading, relative to the project root, e.g. "src/app.py".');
  if (root === undefined && /^([A-Za-z]:)?[\\/]/.test(trimmed)) {
    throw new InvalidInputError(`near "${raw}" is absolute: pass a path relative to the project root, e.g. "src/app.py".`);
  }
  return relativePath(trimmed, root ?? '.');
}

const SECONDARY_PATH = /\.d\.ts$|(^|\/)(vendor|third_party|node_modules)\//;

/** Source first; tests, examples, docs next (indexer/search/path-class.ts); declarations and vendored copies last. */
function pathRank(path: string): number {
  return SECONDARY_PATH.test(path) ? 2 : pathClass(path, '') === 'source' ? 0 : 1;
}

function depth(qualified: string): number {
  let n = 0;
  for (let i = 0; i < qualified.length; i++) if (qualified.charCodeAt(i) === 46) n++;
  return n;
}

function rowFilter(kind: string | undefined, pathGlob: string | string[] | undefined): (row: SymbolRow) => boolean {
  const path = pathGlobMatcher(globList(pathGlob));
  return (row) => (!kind || row.kind === kind) && (!path || path(row.path));
}

/** Lower-cased and separator-free forms of names, kept across queries (the same names come back every time). */
const nameForms = new Map<string, { lower: string; bare: string }>();
const MAX_NAME_FORMS = 200_000;

function formsOf(name: string): { lower: string; bare: string } {
  let forms = nameForms.get(name);
  if (!forms) {
    if (nameForms.size >= MAX_NAME_FORMS) nameForms.clear();
    const lower = name.toLowerCase();
    forms = { lower, bare: lower.replace(/[_-]/g, '') };
    nameForms.set(name, forms);
  }
  return forms;
}

/**
 * Names close to `query`: the same but for case and `_`/`-` first, then names containing it, then its
 * letters in order (a subsequence, as a fuzzy finder matches), then one or two typos away; shorter and
 * tighter matches first.
 */
export function fuzzyNames(names: readonly string[], query: string): string[] {
  const q = query.toLowerCase();
  if (q.length < 2) return [];
  const qBare = q.replace(/[_-]/g, '');
  const scored: { name: string; score: number }[] = [];
  for (const name of names) {
    const { lower: n, bare } = formsOf(name);
    let score: number;
    if (bare === qBare) score = 2000;
    else {
      const at = n.indexOf(q);
      if (at >= 0) score = 1000 - (n.length - q.length) - at;
      else {
        const spread = n.length > q.length ? subsequenceSpread(n, q) : -1;
        if (spread >= 0) score = 500 - spread - (n.length - q.length);
        else if (Math.abs(n.length - q.length) <= 2 && q.length >= 4) {
          const distance = editDistance(n, q, 2);
          if (distance > 2) continue;
          score = 300 - 50 * distance;
        } else continue;
      }
    }
    scored.push({ name, score });
  }
  scored.sort((a, b) => b.score - a.score || a.name.length - b.name.length || (a.name < b.name ? -1 : 1));
  return scored.slice(0, FUZZY_NAMES).map((s) => s.name);
}

/** Characters skipped to find `q`'s letters in order in `n`, or -1 when they are not all there. */
function subsequenceSpread(n: string, q: string): number {
  let j = 0;
  let first = -1;
  let last = -1;
  for (let i = 0; i < n.length && j < q.length; i++) {
    if (n.charCodeAt(i) === q.charCodeAt(j)) {
      if (first < 0) first = i;
      last = i;
      j++;
    }
  }
  return j === q.length ? last - first + 1 - q.length : -1;
}

let rowA = new Int32Array(64);
let rowB = new Int32Array(64);

/** Levenshtein distance, stopping early past `max` (two reused rows: it runs for thousands of names per query). */
function editDistance(a: string, b: string, max: number): number {
  if (rowA.length <= b.length) {
    rowA = new Int32Array(b.length + 1);
    rowB = new Int32Array(b.length + 1);
  }
  let prev = rowA;
  let row = rowB;
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    let best = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const value = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca === b.charCodeAt(j - 1) ? 0 : 1));
      row[j] = value;
      if (value < best) best = value;
    }
    if (best > max) return max + 1;
    const swap = prev;
    prev = row;
    row = swap;
  }
  return prev[b.length];
}

function bodyOf(store: IndexStore, row: SymbolRow): string {
  const last = Math.min(row.endLine, row.startLine + BODY_MAX_LINES - 1);
  const lines = store.symbols.lines(row.fileId, row.startLine, last);
  const out: string[] = [];
  let chars = 0;
  for (let line = row.startLine; line <= last; line++) {
    const text = lines.get(line) ?? '';
    if (chars + text.length > BODY_MAX_CHARS) break;
    out.push(text);
    chars += text.length + 1;
  }
  const shown = row.startLine + out.length - 1;
  if (shown < row.endLine) out.push(`… (lines ${shown + 1}-${row.endLine} not shown: read the file for the rest)`);
  return out.join('\n');
}

// ---------------------------------------------------------------- references

export interface ReferencesRequest {
  name: string;
  pathGlob?: string | string[];
}

/** Where the identifier is used, grouped by file: code files before tests, then by path. */
export function findReferences(store: IndexStore, request: ReferencesRequest): ReferencesResult {
  const qualified = normalizeSymbolName(request.name);
  if (!qualified) throw new InvalidInputError('name is empty: pass a symbol name such as "url_for" or "Flask.url_for".');
  const name = qualified.slice(qualified.lastIndexOf('.') + 1);
  const path = pathGlobMatcher(globList(request.pathGlob));
  const rows = store.symbols.refs(name).filter((r) => !path || path(r.path));
  rows.sort((a, b) => pathRank(a.path) - pathRank(b.path) || (a.path < b.path ? -1 : 1));
  const result: ReferencesResult = { name, files: [], calls: 0, imports: 0, other_uses: 0, definitions: 0, files_omitted: 0 };
  let shown = 0;
  for (const row of rows) {
    const occurrences = unpackOccurrences(row.occurrences).sort((a, b) => a.line - b.line || kindOrder(a.kind) - kindOrder(b.kind));
    let uses = 0;
    for (const o of occurrences) {
      if (o.kind === 'call') result.calls++;
      else if (o.kind === 'import') result.imports++;
      else if (o.kind === 'use') result.other_uses++;
      else result.definitions++;
      if (o.kind !== 'definition') uses++;
    }
    if (result.files.length >= MAX_REF_FILES) {
      result.files_omitted++;
      continue;
    }
    const file: ReferenceFile = { path: row.path, uses };
    if (shown < MAX_REFS_SHOWN) {
      // One line per line: a line that calls and also uses the name shows once, as its strongest kind.
      const byLine = new Map<number, (typeof occurrences)[number]>();
      for (const o of occurrences) if (!byLine.has(o.line)) byLine.set(o.line, o);
      const picked = [...byLine.values()].slice(0, MAX_REFS_SHOWN - shown);
      shown += picked.length;
      const code = store.symbols.lines(row.fileId, picked[0].line, picked[picked.length - 1].line);
      const ords = [...new Set(picked.map((o) => o.enclosing).filter((e): e is number => e !== null))];
      const names = new Map(store.symbols.symbolsAt(row.fileId, ords).map((s) => [s.ord, s.qualified]));
      file.refs = picked.map((o) => ({
        line: o.line,
        kind: o.kind,
        in: o.enclosing === null ? null : (names.get(o.enclosing) ?? null),
        code: clip((code.get(o.line) ?? '').trim()),
      }));
    }
    result.files.push(file);
  }
  const notes: string[] = [];
  if (qualified !== name) notes.push(`Matched by the name "${name}": uses of other symbols named "${name}" are included (nothing here resolves types).`);
  const listed = result.files.reduce((n, f) => n + (f.refs?.length ?? 0), 0);
  const total = result.calls + result.imports + result.other_uses + result.definitions;
  if (listed < total) notes.push(`${listed} of ${total} lines are shown; pass path_glob to see the others.`);
  if (notes.length > 0) result.note = notes.join(' ');
  return result;
}

/** Among occurrences on one line, the one shown: definition, then call, then import, then use. */
function kindOrder(kind: RefKind): number {
  return kind === 'definition' ? 0 : kind === 'call' ? 1 : kind === 'import' ? 2 : 3;
}

function clip(code: string): string {
  return code.length > CODE_MAX_CHARS ? `${code.slice(0, CODE_MAX_CHARS - 1)}…` : code;
}

// ---------------------------------------------------------------- outline

/**
 * A file's symbols as a tree with line ranges, or a directory's files' top-level symbols. `root`: the project,
 * for absolute paths; `indexing`: a run is storing files, so a path not stored yet is no error.
 */
export function outlineOf(store: IndexStore, rawPath: string, root: string, options: { indexing?: boolean } = {}): OutlineResult {
  const path = relativePath(rawPath, root);
  const rows = path === '' ? null : store.symbols.ofFile(path);
  if (rows) {
    const depthOf = new Map<number, number>();
    const symbols = rows.map((r) => {
      const depth = r.parent === null ? 0 : (depthOf.get(r.parent) ?? 0) + 1;
      depthOf.set(r.ord, depth);
      return outlineSymbol(r, depth);
    });
    const budget = withinBudget(symbols.map((symbol) => ({ path, symbol })));
    return {
      path,
      type: 'file',
      files: [{ path, symbols: budget.kept.map((k) => k.symbol) }],
      files_total: 1,
      symbols_omitted: symbols.length - budget.kept.length,
      ...(symbols.length === 0
        ? { note: 'The file has no symbols (its language is not parsed, or it defines nothing).' }
        : budget.kept.length < symbols.length
          ? { note: `${symbols.length - budget.kept.length} symbols after line ${budget.kept[budget.kept.length - 1].symbol.end_line} are not listed: use find_symbol or read the file for them.` }
          : {}),
    };
  }
  const { rows: top, total, files } = store.symbols.topLevelUnder(path, MAX_OUTLINE_SYMBOLS);
  if (files === 0 && path !== '' && !options.indexing) {
    throw new InvalidInputError(
      `"${rawPath}" is neither an indexed file nor a directory holding one: pass a path relative to the project root, e.g. "src" or "src/app.py" (find_symbol finds where a name is defined).`,
    );
  }
  const { kept } = withinBudget(top.map((r) => ({ path: r.path, symbol: outlineSymbol(r, 0) })));
  const byFile = new Map<string, OutlineSymbol[]>();
  for (const { path: file, symbol } of kept) {
    let list = byFile.get(file);
    if (!list) byFile.set(file, (list = []));
    list.push(symbol);
  }
  const omitted = total - kept.length;
  return {
    path,
    type: 'directory',
    files: [...byFile].map(([p, symbols]) => ({ path: p, symbols })),
    files_total: files,
    symbols_omitted: omitted,
    ...(omitted > 0 ? { note: `${omitted} more top-level symbols are not listed: outline a subdirectory or a file for them.` } : {}),
  };
}

/** Members are named within their parent; a top-level method (Go's, a Rust impl's) keeps its type: `Server.Start`. */
function outlineSymbol(r: SymbolRow, depth: number): OutlineSymbol {
  return { name: r.parent === null ? r.qualified : r.name, kind: r.kind, start_line: r.startLine, end_line: r.endLine, signature: r.signature, depth };
}

/** The first items whose JSON (what an agent is shown) fits OUTLINE_MAX_TOKENS, at most MAX_OUTLINE_SYMBOLS. */
function withinBudget<T extends { path: string; symbol: OutlineSymbol }>(items: T[]): { kept: T[] } {
  const kept: T[] = [];
  let tokens = 0;
  let lastPath = '';
  for (const item of items) {
    const cost = estimateTokens(JSON.stringify(item.symbol)) + (item.path !== lastPath ? estimateTokens(item.path) + 8 : 0);
    if (kept.length >= MAX_OUTLINE_SYMBOLS || tokens + cost > OUTLINE_MAX_TOKENS) break;
    kept.push(item);
    tokens += cost;
    lastPath = item.path;
  }
  return { kept };
}

/** `./src/`, `/abs/root/src`, `src\\app.py` -> `src`, `src/app.py`; a path outside the project is refused. */
function relativePath(raw: string, root: string): string {
  let path = raw.trim().replace(/\\/g, '/');
  const base = root.replace(/\\/g, '/').replace(/\/+$/, '');
  if (path === base) return '';
  if (path.startsWith(`${base}/`)) path = path.slice(base.length + 1);
  else if (path.startsWith('/')) throw new InvalidInputError(`"${raw}" is outside the project (${root}): pass a path relative to its root, e.g. "src".`);
  path = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (path === '.' || path === '') return '';
  if (path.split('/').includes('..')) throw new InvalidInputError(`"${raw}" leaves the project: pass a path relative to its root, e.g. "src".`);
  return path;
}

// ---------------------------------------------------------------- state

/** Whether the symbol table covers the index: 'ready', or 'outdated' (files indexed before it; the next index run fills it). */
export function symbolTableState(store: IndexStore): 'ready' | 'outdated' {
  return store.getMeta(SYMBOL_TABLE_META) === SYMBOL_TABLE_VERSION ? 'ready' : 'outdated';
}
