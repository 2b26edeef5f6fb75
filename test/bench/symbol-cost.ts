/**
 * What the symbol table adds to an index (issue 19.4), shared by `npm run bench` and `npm run bench:symbols`:
 * its bytes (SQLite dbstat over symbols, symbol_refs and their indexes) and the extra index time, measured
 * apart from the index run as the time of extracting the symbols from already parsed trees plus writing
 * them to a scratch SQLite file (parsing is shared with chunking, so it is not counted).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { extractSymbols } from '../../indexer/chunk/extract-symbols.js';
import type { FileSymbols } from '../../indexer/chunk/file-symbols.js';
import { SYNTAX_SPECS } from '../../indexer/chunk/syntax-specs.js';
import { getParser, hasGrammar } from '../../indexer/chunk/tree-sitter-parser.js';
import { INDEX_DB_FILE } from '../../indexer/store/sqlite-index-store.js';
import { openDatabase } from '../../indexer/store/sqlite-store.js';
import { SymbolTables } from '../../indexer/store/symbol-tables.js';

export interface SymbolCost {
  /** Bytes of the symbol tables and their indexes, or null where SQLite has no dbstat. */
  symbol_bytes: number | null;
  extract_ms: number;
  store_ms: number;
}

/** The cost of the symbols of the index in `dataDir`, whose files are read again from `root`. */
export async function measureSymbolCost(root: string, dataDir: string): Promise<SymbolCost> {
  const db = new Database(join(dataDir, INDEX_DB_FILE), { readonly: true });
  let files: { path: string; language: string }[];
  let bytes: number | null;
  try {
    files = db.prepare('SELECT path, language FROM files ORDER BY path').all() as { path: string; language: string }[];
    bytes = new SymbolTables(db).bytes();
  } finally {
    db.close();
  }
  let extractMs = 0;
  const perFile: FileSymbols[] = [];
  for (const file of files) {
    const spec = SYNTAX_SPECS[file.language];
    if (!spec || !hasGrammar(file.language)) continue;
    const text = readFileSync(join(root, file.path), 'utf8');
    if (text.length > 4_000_000) continue;
    const tree = (await getParser(file.language)).parse(text);
    if (!tree) continue;
    const t = performance.now();
    perFile.push(extractSymbols(tree, text, file.language, spec));
    extractMs += performance.now() - t;
    tree.delete();
  }
  const scratchDir = mkdtempSync(join(tmpdir(), 'codecarto-bench-symbols-scratch-'));
  const scratch = openDatabase(join(scratchDir, INDEX_DB_FILE));
  const tables = new SymbolTables(scratch);
  const insertFile = scratch.prepare("INSERT INTO files(id, path, size, mtime_ms, hash, language) VALUES (?, ?, 0, 0, '', '')");
  const t0 = performance.now();
  perFile.forEach((symbols, i) =>
    scratch.transaction(() => {
      insertFile.run(i + 1, `file${i}`);
      tables.replace(i + 1, symbols);
    })(),
  );
  const storeMs = performance.now() - t0;
  scratch.close();
  rmSync(scratchDir, { recursive: true, force: true });
  return { symbol_bytes: bytes, extract_ms: extractMs, store_ms: storeMs };
}
