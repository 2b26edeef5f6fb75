/**
 * `npm run bench:symbols -- --repos <dir> [--only flask,cobra] [--definitions 300] [--identifiers 100] [--seed 19] [--json]`
 *
 * Measures the symbol table (docs/quality.md, "Symbols") on real repositories, one checkout per directory
 * of `--repos`, each indexed with provider none:
 * - find_symbol by bare name on definitions sampled from the symbol table (seeded): precision@1 where the
 *   name is unique, hit@5 where it is not (split by how many definitions share the name);
 * - references against a word grep of the identifier over the indexed files: every grep line is classified
 *   by the tree-sitter node at the match (comment, string, code; files without a grammar are "other"), and
 *   recall is the share of grep's code lines that the references hold; what references left out of the
 *   comment and string lines is counted too;
 * - search hits' symbols: the share of the chunk symbols in the index that find_symbol resolves exactly;
 * - latency (p50/p95) of find_symbol and references on one index of all the repositories together;
 * - the cost: symbol table bytes (SQLite dbstat) and the extra index time per chunk, measured here as
 *   the time of extracting the symbols from the already parsed trees plus writing them to SQLite.
 * Progress goes to stderr; the table to stdout, with `--json` followed by one JSON line.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { unpackOccurrences } from '../../indexer/chunk/file-symbols.js';
import { languageForPath } from '../../indexer/chunk/languages.js';
import { SYNTAX_SPECS } from '../../indexer/chunk/syntax-specs.js';
import { getParser, hasGrammar } from '../../indexer/chunk/tree-sitter-parser.js';
import { runIndex } from '../../indexer/run/run-index.js';
import { findReferences, findSymbols } from '../../indexer/search/symbol-query.js';
import { INDEX_DB_FILE, openIndexStore } from '../../indexer/store/sqlite-index-store.js';
import type { IndexStore } from '../../indexer/store/store-types.js';
import { NoneEmbedder } from '../../models/none-embedder.js';
import { seededRandom } from '../../models/seeded-random.js';
import { connectInProcess } from '../helpers/in-process.js';
import { measureSymbolCost } from './symbol-cost.js';
import { median, percentile } from './vector-math.js';

const { values } = parseArgs({
  options: {
    repos: { type: 'string' },
    only: { type: 'string' },
    definitions: { type: 'string', default: '300' },
    identifiers: { type: 'string', default: '100' },
    seed: { type: 'string', default: '19' },
    json: { type: 'boolean' },
  },
});
if (!values.repos) {
  process.stderr.write('Usage: npm run bench:symbols -- --repos <dir with one checkout per directory> [--only a,b] [--definitions 300] [--identifiers 100] [--seed 19] [--json]\n');
  process.exit(2);
}
const reposDir = resolve(values.repos);
const only = values.only ? new Set(values.only.split(',')) : null;
const DEFINITIONS = Number(values.definitions);
const IDENTIFIERS = Number(values.identifiers);
const SEED = Number(values.seed);
const log = (message: string) => process.stderr.write(`${message}\n`);

interface DefinitionRow {
  path: string;
  name: string;
  qualified: string;
  kind: string;
  startLine: number;
}

interface RepoResult {
  repository: string;
  languages: string;
  files: number;
  chunks: number;
  definitions: number;
  index_s: number;
  /** find_symbol by bare name. */
  unique_sampled: number;
  precision_at_1_unique: number;
  shared_sampled: number;
  hit_at_5_shared: number;
  /** Of the shared names, those with at most 5 definitions (all fit in the first 5) and those with more. */
  shared_le5_sampled: number;
  hit_at_5_shared_le5: number;
  shared_gt5_sampled: number;
  hit_at_5_shared_gt5: number;
  /** The shared names' definitions looked up by qualified name instead: first, or among the first 5 where the qualified name is shared too. */
  qualified_hit_at_1_shared: number;
  qualified_hit_at_5_shared: number;
  /**
   * The shared names asked with `near` (and, for comparison, the same ones without), keyed
   * `<kind>.<le5|gt5|qualified>.hit_at_<1|5>[_without_near]`. user: a random file that uses the name (and
   * the enclosing type's name, for a member) and defines no symbol of that name; sibling: a random other
   * file of the definition's directory; member_user: for a member whose `Type.name` no other definition
   * has, a user file that names no other type with a member of that name (the one case where the truth is
   * known without resolving types).
   */
  near: Record<string, { share: number; of: number }>;
  /** Any order of the definitions puts 5 of a name's N in the first 5: hit@5 of a uniform sample of > 5 is this, whatever the ranking. */
  any_ranking_hit_at_5_gt5: number;
  /** references vs word grep. */
  identifiers: number;
  grep_code_lines: number;
  refs_recall: number;
  /** Grep code lines in no stored chunk (chunks left out for holding a secret): neither search nor references see them. */
  grep_code_lines_not_indexed: number;
  refs_recall_indexed_lines: number;
  grep_comment_string_lines: number;
  comment_string_left_out: number;
  grep_other_file_lines: number;
  /** Lines references lists that grep's code lines do not hold (the word on no code line: none expected). */
  refs_not_in_grep: number;
  /** Distinct chunk symbols that find_symbol resolves to a definition of that exact qualified name. */
  chunk_symbols: number;
  chunk_symbols_resolved: number;
  /** Cost. */
  symbol_bytes: number | null;
  symbol_bytes_per_chunk: number | null;
  db_bytes: number;
  extract_ms: number;
  store_ms: number;
  extra_ms_per_chunk: number;
  extra_share_of_index: number;
  misses: string[];
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function indexRepo(root: string, dataDir: string): Promise<{ store: IndexStore; seconds: number }> {
  const store = openIndexStore(dataDir);
  const started = Date.now();
  const summary = await runIndex({ root, store, embedder: new NoneEmbedder(), log: () => {} });
  if (summary.state !== 'done') throw new Error(`indexing ${root} ended ${summary.state}: ${summary.error ?? ''}`);
  return { store, seconds: (Date.now() - started) / 1000 };
}

function readRows(dataDir: string): {
  defs: DefinitionRow[];
  files: { path: string; language: string }[];
  chunkSymbols: string[];
  chunks: number;
  /** Per path, the lines some chunk holds (lines of chunks left out for a secret are in none). */
  covered: Map<string, Set<number>>;
} {
  const db = new Database(join(dataDir, INDEX_DB_FILE), { readonly: true });
  try {
    return {
      defs: db
        .prepare('SELECT f.path AS path, s.name AS name, s.qualified AS qualified, s.kind AS kind, s.start_line AS startLine FROM symbols s JOIN files f ON f.id = s.file_id ORDER BY f.path, s.ord')
        .all() as DefinitionRow[],
      files: db.prepare('SELECT path, language FROM files ORDER BY path').all() as { path: string; language: string }[],
      chunkSymbols: db.prepare("SELECT DISTINCT c.symbol FROM chunks c WHERE c.symbol IS NOT NULL AND c.kind NOT IN ('block', 'section', 'lines')").pluck().all() as string[],
      chunks: db.prepare('SELECT count(*) FROM chunks').pluck().get() as number,
      covered: coverage(db.prepare('SELECT f.path AS path, c.start_line AS startLine, c.end_line AS endLine FROM chunks c JOIN files f ON f.id = c.file_id').all() as { path: string; startLine: number; endLine: number }[]),
    };
  } finally {
    db.close();
  }
}

function coverage(rows: { path: string; startLine: number; endLine: number }[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const r of rows) {
    let lines = out.get(r.path);
    if (!lines) out.set(r.path, (lines = new Set()));
    for (let line = r.startLine; line <= r.endLine; line++) lines.add(line);
  }
  return out;
}

/** A word grep of `name`: identifier characters on neither side. */
function wordPattern(name: string): RegExp {
  return new RegExp(`(?<![A-Za-z0-9_$])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_$])`, 'g');
}

const COMMENT = /comment/;
const STRING = /string|char_literal|template|heredoc|raw_text|regex/;

/** What the match at `index` is in: the innermost node there, and its ancestors up to a statement. */
function classify(root: import('web-tree-sitter').Node, index: number): 'comment' | 'string' | 'code' {
  let node: import('web-tree-sitter').Node | null = root.descendantForIndex(index);
  for (let depth = 0; node && depth < 6; depth++, node = node.parent) {
    if (COMMENT.test(node.type)) return 'comment';
    if (STRING.test(node.type) && node.type !== 'template_substitution' && node.type !== 'interpolation') return 'string';
    if (/identifier$|^constant$|^name$/.test(node.type)) return 'code';
  }
  return 'code';
}

async function measureRepo(name: string, root: string): Promise<RepoResult> {
  const dataDir = mkdtempSync(join(tmpdir(), `codecarto-bench-symbols-${name}-`));
  log(`${name}: indexing ${root}`);
  const { store, seconds } = await indexRepo(root, dataDir);
  const { defs, files, chunkSymbols, chunks, covered } = readRows(dataDir);
  const random = seededRandom(SEED);

  // ---- find_symbol by bare name
  const byName = new Map<string, number>();
  for (const d of defs) byName.set(d.name, (byName.get(d.name) ?? 0) + 1);
  const sample = shuffle(defs, random).slice(0, DEFINITIONS);
  // A stream of its own, so that the sample above stays the one measured before `near` existed.
  const nearRandom = seededRandom(SEED + 7);
  const filesByDir = new Map<string, string[]>();
  for (const f of files) {
    const dir = dirOf(f.path);
    let list = filesByDir.get(dir);
    if (!list) filesByDir.set(dir, (list = []));
    list.push(f.path);
  }
  const usersCache = new Map<string, Set<string>>();
  /** Files where the identifier occurs other than as a definition. */
  const usersOf = (id: string): Set<string> => {
    let users = usersCache.get(id);
    if (!users) {
      users = new Set(store.symbols.refs(id).filter((r) => unpackOccurrences(r.occurrences).some((o) => o.kind !== 'definition')).map((r) => r.path));
      usersCache.set(id, users);
    }
    return users;
  };
  const pickOne = <T>(items: T[]): T | undefined => (items.length === 0 ? undefined : items[Math.floor(nearRandom() * items.length)]);
  /** Per figure, [hits, asked]: see RepoResult.near. */
  const near: Record<string, [number, number]> = {};
  const count1 = (key: string, hit: boolean) => {
    const c = (near[key] ??= [0, 0]);
    c[1]++;
    if (hit) c[0]++;
  };
  /** hit@1 and hit@5 of `d` asked by `name` near `file`, and without near, under `prefix`. */
  const askNear = (prefix: string, d: DefinitionRow, name: string, file: string, isIt: (r: { path: string; start_line: number; symbol: string }) => boolean) => {
    const withNear = findSymbols(store, { name, near: file, root }).results.findIndex(isIt);
    const without = findSymbols(store, { name }).results.findIndex(isIt);
    count1(`${prefix}.hit_at_1`, withNear === 0);
    count1(`${prefix}.hit_at_5`, withNear >= 0 && withNear < 5);
    count1(`${prefix}.hit_at_1_without_near`, without === 0);
    count1(`${prefix}.hit_at_5_without_near`, without >= 0 && without < 5);
  };
  const definers = new Map<string, Set<string>>();
  for (const d of defs) {
    let paths = definers.get(d.name);
    if (!paths) definers.set(d.name, (paths = new Set()));
    paths.add(d.path);
  }
  const tail = (qualified: string) => qualified.split('.').slice(-2).join('.');
  let unique = 0, uniqueHit = 0, le5 = 0, le5Hit = 0, gt5 = 0, gt5Hit = 0, qualifiedHit1 = 0, qualifiedHit5 = 0;
  const misses: string[] = [];
  for (const d of sample) {
    const results = findSymbols(store, { name: d.name }).results;
    const at = results.findIndex((r) => r.path === d.path && r.start_line === d.startLine && r.symbol === d.qualified);
    const count = byName.get(d.name)!;
    if (count === 1) {
      unique++;
      if (at === 0) uniqueHit++;
      else misses.push(`${d.qualified} (${d.path}:${d.startLine}) at ${at}`);
      continue;
    }
    if (count <= 5) {
      le5++;
      if (at >= 0 && at < 5) le5Hit++;
      else misses.push(`${d.qualified} (${d.path}:${d.startLine}, ${count} share the name) at ${at}`);
    } else {
      gt5++;
      if (at >= 0 && at < 5) gt5Hit++;
    }
    // What an agent does when a name is shared: ask for the qualified name.
    const byQualified = findSymbols(store, { name: d.qualified }).results;
    const q = byQualified.findIndex((r) => r.path === d.path && r.start_line === d.startLine && r.symbol === d.qualified);
    if (q === 0) qualifiedHit1++;
    if (q >= 0 && q < 5) qualifiedHit5++;

    // With near: never the definition's own file (that would hand over the answer), nor one that defines
    // the name too (its use of the name is most likely its own definition).
    const isIt = (r: { path: string; start_line: number; symbol: string }) => r.path === d.path && r.start_line === d.startLine && r.symbol === d.qualified;
    const bucket = count <= 5 ? 'le5' : 'gt5';
    const type = d.qualified.includes('.') ? d.qualified.split('.').slice(-2)[0] : null;
    const typeUsers = type ? usersOf(type) : null;
    const candidates = [...usersOf(d.name)].filter((p) => !definers.get(d.name)!.has(p) && (!typeUsers || typeUsers.has(p))).sort();
    const user = pickOne(candidates);
    if (user !== undefined) {
      askNear(`user.${bucket}`, d, d.name, user, isIt);
      askNear('user.qualified', d, d.qualified, user, isIt);
      count1('user.in_same_dir', dirOf(user) === dirOf(d.path));
    }
    const sibling = pickOne((filesByDir.get(dirOf(d.path)) ?? []).filter((p) => p !== d.path));
    if (sibling !== undefined) askNear(`sibling.${bucket}`, d, d.name, sibling, isIt);
    // Where the truth is known: a member `T.name` no other definition shares, asked near a file that names
    // T and the name and no other type with a member of that name.
    if (type && defs.filter((x) => x.name === d.name && tail(x.qualified) === tail(d.qualified)).length === 1) {
      const otherTypes = new Set(defs.filter((x) => x.name === d.name && x.qualified.includes('.')).map((x) => x.qualified.split('.').slice(-2)[0]).filter((t) => t !== type));
      const strict = pickOne(candidates.filter((p) => ![...otherTypes].some((t) => usersOf(t).has(p))));
      if (strict !== undefined) askNear(`member_user.${bucket}`, d, d.name, strict, isIt);
    }
  }
  let gt5Names = 0, gt5Defs = 0;
  for (const n of byName.values()) if (n > 5) (gt5Names++, (gt5Defs += n));

  // ---- references vs word grep
  const identifiers = shuffle([...new Set(sample.map((d) => d.name))].filter((n) => n.length >= 3), random).slice(0, IDENTIFIERS);
  const patterns = identifiers.map((id) => ({ id, re: wordPattern(id) }));
  const grepLines = new Map<string, { code: Set<string>; commentString: Set<string>; other: number }>();
  for (const id of identifiers) grepLines.set(id, { code: new Set(), commentString: new Set(), other: 0 });
  for (const file of files) {
    const text = readFileSync(join(root, file.path), 'utf8');
    const parsed = hasGrammar(file.language) && SYNTAX_SPECS[file.language] !== undefined;
    let tree: import('web-tree-sitter').Tree | null = null;
    let lineStarts: number[] | null = null;
    try {
      for (const { id, re } of patterns) {
        re.lastIndex = 0;
        let m: RegExpExecArray | null;
        const perLine = new Map<number, Set<string>>();
        while ((m = re.exec(text)) !== null) {
          if (!parsed) {
            grepLines.get(id)!.other++;
            continue;
          }
          if (!tree) tree = (await getParser(file.language)).parse(text);
          lineStarts ??= starts(text);
          const line = lineAt(lineStarts, m.index);
          let kinds = perLine.get(line);
          if (!kinds) perLine.set(line, (kinds = new Set()));
          kinds.add(classify(tree!.rootNode, m.index));
        }
        for (const [line, kinds] of perLine) {
          const key = `${file.path}:${line}`;
          if (kinds.has('code')) grepLines.get(id)!.code.add(key);
          else grepLines.get(id)!.commentString.add(key);
        }
      }
    } finally {
      tree?.delete();
    }
  }
  let codeLines = 0, found = 0, commentString = 0, commentStringLeftOut = 0, other = 0, extra = 0, notIndexed = 0;
  const refMisses: string[] = [];
  for (const id of identifiers) {
    const refLines = new Set<string>();
    for (const row of store.symbols.refs(id)) for (const o of unpackOccurrences(row.occurrences)) refLines.add(`${row.path}:${o.line}`);
    const grep = grepLines.get(id)!;
    codeLines += grep.code.size;
    for (const key of grep.code) {
      const at = key.lastIndexOf(':');
      if (refLines.has(key)) found++;
      else if (!covered.get(key.slice(0, at))?.has(Number(key.slice(at + 1)))) notIndexed++;
      else if (refMisses.length < 12) refMisses.push(`${id} @ ${key}`);
    }
    commentString += grep.commentString.size;
    for (const key of grep.commentString) if (!refLines.has(key)) commentStringLeftOut++;
    other += grep.other;
    for (const key of refLines) if (!grep.code.has(key) && !grep.commentString.has(key)) extra++;
    findReferences(store, { name: id }); // the tool's own path runs too (its answer is capped; the table is what is scored)
  }

  // ---- search hits' symbols resolve
  let resolved = 0;
  for (const symbol of chunkSymbols) {
    if (findSymbols(store, { name: symbol }).results.some((r) => r.symbol === symbol)) resolved++;
    else if (misses.length < 40) misses.push(`chunk symbol ${symbol} unresolved`);
  }

  // ---- cost: extraction on parsed trees, and writes to SQLite, timed apart from the index run
  const { symbol_bytes: bytes, extract_ms: extractMs, store_ms: storeMs } = await measureSymbolCost(root, dataDir);
  const dbBytes = statSync(join(dataDir, INDEX_DB_FILE)).size;
  const languages = [...new Set(files.map((f) => f.language).filter((l) => hasGrammar(l)))].join(',');
  store.close();
  rmSync(dataDir, { recursive: true, force: true });
  const share = (a: number, b: number) => (b === 0 ? 1 : a / b);
  if (refMisses.length > 0) misses.push(...refMisses.map((m) => `references missed ${m}`));
  return {
    repository: name,
    languages,
    files: files.length,
    chunks,
    definitions: defs.length,
    index_s: seconds,
    unique_sampled: unique,
    precision_at_1_unique: share(uniqueHit, unique),
    shared_sampled: le5 + gt5,
    hit_at_5_shared: share(le5Hit + gt5Hit, le5 + gt5),
    shared_le5_sampled: le5,
    hit_at_5_shared_le5: share(le5Hit, le5),
    shared_gt5_sampled: gt5,
    hit_at_5_shared_gt5: share(gt5Hit, gt5),
    qualified_hit_at_1_shared: share(qualifiedHit1, le5 + gt5),
    qualified_hit_at_5_shared: share(qualifiedHit5, le5 + gt5),
    near: Object.fromEntries(Object.entries(near).sort().map(([k, [hits, asked]]) => [k, { share: share(hits, asked), of: asked }])),
    any_ranking_hit_at_5_gt5: share(5 * gt5Names, gt5Defs),
    identifiers: identifiers.length,
    grep_code_lines: codeLines,
    refs_recall: share(found, codeLines),
    grep_code_lines_not_indexed: notIndexed,
    refs_recall_indexed_lines: share(found, codeLines - notIndexed),
    grep_comment_string_lines: commentString,
    comment_string_left_out: commentStringLeftOut,
    grep_other_file_lines: other,
    refs_not_in_grep: extra,
    chunk_symbols: chunkSymbols.length,
    chunk_symbols_resolved: resolved,
    symbol_bytes: bytes,
    symbol_bytes_per_chunk: bytes === null ? null : bytes / chunks,
    db_bytes: dbBytes,
    extract_ms: extractMs,
    store_ms: storeMs,
    extra_ms_per_chunk: (extractMs + storeMs) / chunks,
    extra_share_of_index: (extractMs + storeMs) / 1000 / seconds,
    misses,
  };
}

function dirOf(path: string): string {
  return path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
}

function starts(text: string): number[] {
  const out = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) out.push(i + 1);
  return out;
}

function lineAt(lineStarts: number[], index: number): number {
  let lo = 0, hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid] <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/**
 * find_symbol and references latency on one index of every repository together (10,000+ chunks): through
 * the MCP tools (an in-process client, as an agent's call minus the transport), and of the query functions.
 */
async function measureLatency(repos: { name: string; root: string }[]): Promise<Record<string, number>> {
  const combined = mkdtempSync(join(tmpdir(), 'codecarto-bench-symbols-all-'));
  for (const { name, root } of repos) cpSync(root, join(combined, name), { recursive: true, filter: (src) => !src.split('/').includes('.git') });
  const home = mkdtempSync(join(tmpdir(), 'codecarto-bench-symbols-home-'));
  log(`latency: indexing ${repos.length} repositories together`);
  const session = await connectInProcess({ home, watch: 'off' });
  const time = async (fn: () => unknown) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  try {
    const state = (await session.call('set_project', { path: combined, provider: 'none' })).structuredContent;
    const run = await session.client.callTool({ name: 'index', arguments: { wait_seconds: 3600 } }, undefined, { timeout: 3_600_000 });
    if ((run.structuredContent as { state?: string }).state !== 'done') throw new Error(`indexing the combined corpus: ${JSON.stringify(run.structuredContent)}`);
    const dataDir = state.data_dir as string;
    const { defs, chunks } = readRows(dataDir);
    const store = openIndexStore(dataDir);
    const random = seededRandom(SEED + 1);
    const names = shuffle([...new Set(defs.map((d) => d.name))], random).slice(0, 500);
    const qualifiedNames = shuffle(defs.filter((d) => d.qualified.includes('.')), random).slice(0, 300).map((d) => d.qualified);
    // Warm up statement caches and the page cache, as a running server has them.
    for (const name of names.slice(0, 20)) {
      findSymbols(store, { name });
      await session.call('find_symbol', { name });
    }
    const nearFiles = shuffle([...new Set(defs.map((d) => d.path))], seededRandom(SEED + 2)).slice(0, 100);
    const timeSync = (fn: () => unknown) => {
      const t = performance.now();
      fn();
      return performance.now() - t;
    };
    const fn = {
      bare: names.map((name) => timeSync(() => findSymbols(store, { name }))),
      qualified: qualifiedNames.map((name) => timeSync(() => findSymbols(store, { name }))),
      fuzzy: names.slice(0, 100).map((name) => timeSync(() => findSymbols(store, { name: `${name}qz` }))),
      refs: names.slice(0, 300).map((name) => timeSync(() => findReferences(store, { name }))),
      // near a file holding some definition (a fixed list, drawn apart from the one below).
      near: names.map((name, i) => timeSync(() => findSymbols(store, { name, near: nearFiles[i % nearFiles.length], root: combined }))),
    };
    const tool = { bare: [] as number[], qualified: [] as number[], refs: [] as number[], outline: [] as number[] };
    for (const name of names) tool.bare.push(await time(() => session.call('find_symbol', { name })));
    for (const name of qualifiedNames) tool.qualified.push(await time(() => session.call('find_symbol', { name })));
    for (const name of names.slice(0, 300)) tool.refs.push(await time(() => session.call('references', { name })));
    const paths = shuffle([...new Set(defs.map((d) => d.path))], random).slice(0, 200);
    for (const path of paths) tool.outline.push(await time(() => session.call('outline', { path })));
    store.close();
    return {
      chunks,
      definitions: defs.length,
      find_symbol_bare_p50_ms: median(fn.bare),
      find_symbol_qualified_p50_ms: median(fn.qualified),
      find_symbol_fuzzy_p50_ms: median(fn.fuzzy),
      find_symbol_fuzzy_p95_ms: percentile(fn.fuzzy, 95),
      find_symbol_near_p50_ms: median(fn.near),
      find_symbol_near_p95_ms: percentile(fn.near, 95),
      references_p50_ms: median(fn.refs),
      references_p95_ms: percentile(fn.refs, 95),
      tool_find_symbol_bare_p50_ms: median(tool.bare),
      tool_find_symbol_bare_p95_ms: percentile(tool.bare, 95),
      tool_find_symbol_qualified_p50_ms: median(tool.qualified),
      tool_references_p50_ms: median(tool.refs),
      tool_references_p95_ms: percentile(tool.refs, 95),
      tool_outline_p50_ms: median(tool.outline),
    };
  } finally {
    await session.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(combined, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const repos = readdirSync(reposDir)
    .filter((name) => statSync(join(reposDir, name)).isDirectory() && (!only || only.has(name)))
    .map((name) => ({ name, root: join(reposDir, name) }));
  const results: RepoResult[] = [];
  for (const repo of repos) results.push(await measureRepo(repo.name, repo.root));
  const latency = await measureLatency(repos);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const lines = [
    '| repository | files | chunks | definitions | find_symbol p@1 (unique) | hit@5 (shared, <=5 / >5) | shared by qualified name: hit@1, hit@5 | refs recall (of indexed lines) | comment/string lines left out | chunk symbols resolved | symbol bytes/chunk | extra ms/chunk (share of index) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) =>
      `| ${r.repository} | ${r.files} | ${r.chunks} | ${r.definitions} | ${r.precision_at_1_unique.toFixed(3)} (${r.unique_sampled}) | ` +
      `${r.hit_at_5_shared.toFixed(3)} (${r.shared_sampled}: ${r.hit_at_5_shared_le5.toFixed(3)} of ${r.shared_le5_sampled} / ${r.hit_at_5_shared_gt5.toFixed(3)} of ${r.shared_gt5_sampled}) | ` +
      `${r.qualified_hit_at_1_shared.toFixed(3)}, ${r.qualified_hit_at_5_shared.toFixed(3)} | ` +
      `${r.refs_recall.toFixed(3)} (${r.refs_recall_indexed_lines.toFixed(3)}; ${r.grep_code_lines} lines, ${r.grep_code_lines_not_indexed} in secret chunks; ${r.identifiers} names) | ${r.comment_string_left_out} of ${r.grep_comment_string_lines} (+${r.grep_other_file_lines} in unparsed files) | ` +
      `${r.chunk_symbols_resolved}/${r.chunk_symbols} | ${r.symbol_bytes_per_chunk === null ? 'n/a' : r.symbol_bytes_per_chunk.toFixed(0)} | ${r.extra_ms_per_chunk.toFixed(2)} (${pct(r.extra_share_of_index)}) |`,
    ),
    '',
    `Latency on one index of all of them (${latency.chunks} chunks, ${latency.definitions} definitions), through the MCP tools (in-process client): ` +
      `find_symbol bare p50 ${ms(latency.tool_find_symbol_bare_p50_ms)} (p95 ${ms(latency.tool_find_symbol_bare_p95_ms)}), qualified p50 ${ms(latency.tool_find_symbol_qualified_p50_ms)}, ` +
      `references p50 ${ms(latency.tool_references_p50_ms)} (p95 ${ms(latency.tool_references_p95_ms)}), outline of a file p50 ${ms(latency.tool_outline_p50_ms)}. ` +
      `Query functions alone: find_symbol bare p50 ${ms(latency.find_symbol_bare_p50_ms)}, qualified ${ms(latency.find_symbol_qualified_p50_ms)}, ` +
      `fuzzy (no such name) p50 ${ms(latency.find_symbol_fuzzy_p50_ms)} (p95 ${ms(latency.find_symbol_fuzzy_p95_ms)}), references p50 ${ms(latency.references_p50_ms)} (p95 ${ms(latency.references_p95_ms)}), ` +
      `find_symbol bare with near p50 ${ms(latency.find_symbol_near_p50_ms)} (p95 ${ms(latency.find_symbol_near_p95_ms)}).`,
  ];
  const f = (r: RepoResult, key: string) => {
    const asked = r.near[key];
    const without = r.near[key.replace(/(hit_at_\d)$/, '$1_without_near')];
    return asked ? `${without.share.toFixed(3)} -> ${asked.share.toFixed(3)} (${asked.of})` : '-';
  };
  lines.push(
    '',
    'find_symbol with near, without -> with (asked): user = a file using the name; sibling = another file of its directory; member = a file naming its type (see RepoResult.near)',
    '| repository | any ranking: hit@5 of > 5 | user hit@1 <= 5 | user hit@5 > 5 | user by qualified name hit@1 | sibling hit@1 <= 5 | sibling hit@5 > 5 | member hit@1 <= 5 | member hit@1 > 5 | member hit@5 > 5 |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) =>
      `| ${r.repository} | ${r.any_ranking_hit_at_5_gt5.toFixed(3)} | ${f(r, 'user.le5.hit_at_1')} | ${f(r, 'user.gt5.hit_at_5')} | ${f(r, 'user.qualified.hit_at_1')} | ` +
      `${f(r, 'sibling.le5.hit_at_1')} | ${f(r, 'sibling.gt5.hit_at_5')} | ${f(r, 'member_user.le5.hit_at_1')} | ${f(r, 'member_user.gt5.hit_at_1')} | ${f(r, 'member_user.gt5.hit_at_5')} |`,
    ),
  );
  for (const r of results) if (r.misses.length > 0) lines.push('', `${r.repository} misses (first ones):`, ...r.misses.slice(0, 15).map((m) => `  ${m}`));
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify({ seed: SEED, results, latency })}\n`);
}

await main();
