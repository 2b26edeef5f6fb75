/**
 * The symbol table in SQLite: definitions (`symbols`) and identifier occurrences (`symbol_refs`, one row per
 * name and file, packed: see indexer/chunk/file-symbols.ts). Rows are replaced in the transaction that
 * replaces the file's chunks and go with the file (ON DELETE CASCADE), so symbols are exactly as fresh and
 * as crash-safe as chunks.
 */
import type Database from 'better-sqlite3';
import type { FileSymbols } from '../chunk/file-symbols.js';

/**
 * A file indexed before this version has no symbols: the next index run reads every file once more (meta
 * `symbol_table`, indexer/run/run-index.ts) and keeps the vectors, since its chunks do not change.
 */
export const SYMBOL_TABLE_VERSION = '1';
export const SYMBOL_TABLE_META = 'symbol_table';

export const SYMBOL_SCHEMA = `
-- ord: the definition's place in its file; parent: the ord of the definition around it.
CREATE TABLE IF NOT EXISTS symbols (
  file_id    INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  ord        INTEGER NOT NULL,
  name       TEXT NOT NULL,
  qualified  TEXT NOT NULL,
  kind       TEXT NOT NULL,
  signature  TEXT NOT NULL,
  start_line INTEGER NOT NULL,
  end_line   INTEGER NOT NULL,
  parent     INTEGER,
  PRIMARY KEY (file_id, ord)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS symbols_name ON symbols(name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS symbols_qualified ON symbols(qualified COLLATE NOCASE);

-- occurrences: "line kind [enclosing ord]" entries, e.g. "12c3,15u,20d".
CREATE TABLE IF NOT EXISTS symbol_refs (
  name        TEXT NOT NULL,
  file_id     INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  occurrences TEXT NOT NULL,
  PRIMARY KEY (name, file_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS symbol_refs_file ON symbol_refs(file_id);
`;

export interface SymbolRow {
  fileId: number;
  ord: number;
  path: string;
  language: string;
  name: string;
  qualified: string;
  kind: string;
  signature: string;
  startLine: number;
  endLine: number;
  parent: number | null;
}

export interface RefRow {
  fileId: number;
  path: string;
  occurrences: string;
}

const SYMBOL_COLUMNS = `s.file_id AS fileId, s.ord AS ord, f.path AS path, f.language AS language, s.name AS name,
  s.qualified AS qualified, s.kind AS kind, s.signature AS signature, s.start_line AS startLine,
  s.end_line AS endLine, s.parent AS parent`;

/** Prepared statements over the symbol tables; writes run inside the caller's transaction. */
export class SymbolTables {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      deleteSymbols: p('DELETE FROM symbols WHERE file_id = ?'),
      deleteRefs: p('DELETE FROM symbol_refs WHERE file_id = ?'),
      insertSymbol: p(
        `INSERT INTO symbols(file_id, ord, name, qualified, kind, signature, start_line, end_line, parent)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertRefs: p('INSERT OR REPLACE INTO symbol_refs(name, file_id, occurrences) VALUES (?, ?, ?)'),
      byName: p(`SELECT ${SYMBOL_COLUMNS} FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.name = ? COLLATE NOCASE LIMIT ?`),
      byQualified: p(`SELECT ${SYMBOL_COLUMNS} FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.qualified = ? COLLATE NOCASE LIMIT ?`),
      // LIKE is case-insensitive and uses the NOCASE index for a constant prefix.
      byPrefix: p(`SELECT ${SYMBOL_COLUMNS} FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.name LIKE ? ESCAPE '\\' LIMIT ?`),
      byQualifiedPrefix: p(`SELECT ${SYMBOL_COLUMNS} FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.qualified LIKE ? ESCAPE '\\' LIMIT ?`),
      names: p('SELECT DISTINCT name FROM symbols').pluck(),
      ofFile: p(`SELECT ${SYMBOL_COLUMNS} FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = ? ORDER BY s.ord`),
      topLevelUnder: p(
        `SELECT ${SYMBOL_COLUMNS} FROM symbols s JOIN files f ON f.id = s.file_id
         WHERE s.parent IS NULL AND f.path >= ? AND f.path < ? ORDER BY f.path, s.ord LIMIT ?`,
      ),
      filesUnder: p('SELECT count(*) FROM files WHERE path >= ? AND path < ?').pluck(),
      topLevelCount: p('SELECT count(*) FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.parent IS NULL AND f.path >= ? AND f.path < ?').pluck(),
      fileByPath: p('SELECT id FROM files WHERE path = ?').pluck(),
      refs: p('SELECT r.file_id AS fileId, f.path AS path, r.occurrences AS occurrences FROM symbol_refs r JOIN files f ON f.id = r.file_id WHERE r.name = ? ORDER BY f.path'),
      symbolsAt: p(`SELECT ${SYMBOL_COLUMNS} FROM json_each(?) j JOIN symbols s ON s.file_id = ? AND s.ord = j.value JOIN files f ON f.id = s.file_id`),
      chunkLines: p(
        `SELECT c.start_line AS startLine, c.end_line AS endLine, t.text AS text FROM chunks c JOIN texts t ON t.hash = c.text_hash
         WHERE c.file_id = ? AND c.end_line >= ? AND c.start_line <= ? ORDER BY c.start_line`,
      ),
      counts: p('SELECT (SELECT count(*) FROM symbols) AS symbols, (SELECT count(*) FROM symbol_refs) AS refRows'),
      refFiles: p('SELECT count(*) FROM symbol_refs WHERE name = ?').pluck(),
      namesUsedIn: p('SELECT name FROM symbol_refs WHERE file_id = ?').pluck(),
      topLevelNames: p('SELECT s.file_id AS fileId, s.name AS name FROM json_each(?) j JOIN symbols s ON s.file_id = j.value WHERE s.parent IS NULL'),
    };
  }

  /** Replaces a file's symbols (null: the file has none, e.g. no grammar). Call inside the file's transaction. */
  replace(fileId: number, symbols: FileSymbols | null | undefined): void {
    this.s.deleteSymbols.run(fileId);
    this.s.deleteRefs.run(fileId);
    if (!symbols) return;
    symbols.defs.forEach((d, ord) => {
      this.s.insertSymbol.run(fileId, ord, d.name, d.qualified, d.kind, d.signature, d.startLine, d.endLine, d.parent);
    });
    for (const [name, occurrences] of symbols.refs) this.s.insertRefs.run(name, fileId, occurrences);
  }

  /** Definitions named `name`, any case. */
  byName(name: string, limit: number): SymbolRow[] {
    return this.s.byName.all(name, limit) as SymbolRow[];
  }

  byQualified(qualified: string, limit: number): SymbolRow[] {
    return this.s.byQualified.all(qualified, limit) as SymbolRow[];
  }

  /** Definitions whose name (or, with `qualified`, qualified name) starts with `prefix`, any case. */
  byPrefix(prefix: string, limit: number, qualified = false): SymbolRow[] {
    const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return (qualified ? this.s.byQualifiedPrefix : this.s.byPrefix).all(pattern, limit) as SymbolRow[];
  }

  /** Every distinct definition name (for fuzzy matching). */
  names(): string[] {
    return this.s.names.all() as string[];
  }

  /** A file's definitions in order, or null when the file is not indexed. */
  ofFile(path: string): SymbolRow[] | null {
    if (this.s.fileByPath.get(path) === undefined) return null;
    return this.s.ofFile.all(path) as SymbolRow[];
  }

  /** Top-level definitions of the files below `dir` ('' for all) in path order (at most `limit`), how many there are, and how many files. */
  topLevelUnder(dir: string, limit: number): { rows: SymbolRow[]; total: number; files: number } {
    const [from, to] = dir === '' ? ['', '\uffff'] : [`${dir}/`, `${dir}0`]; // '0' sorts right after '/'
    return {
      rows: this.s.topLevelUnder.all(from, to, limit) as SymbolRow[],
      total: this.s.topLevelCount.get(from, to) as number,
      files: this.s.filesUnder.get(from, to) as number,
    };
  }

  /** The id of an indexed file, or null. */
  fileId(path: string): number | null {
    return (this.s.fileByPath.get(path) as number | undefined) ?? null;
  }

  /** Files in which the identifier `name` occurs (exact case): how widely a type or function is used. */
  filesUsing(name: string): number {
    return this.s.refFiles.get(name) as number;
  }

  /** Every identifier that occurs in a file (used, called, imported or defined there). */
  namesUsedIn(fileId: number): Set<string> {
    return new Set(this.s.namesUsedIn.all(fileId) as string[]);
  }

  /** The top-level definition names of each of `fileIds`. */
  topLevelNames(fileIds: number[]): Map<number, string[]> {
    const out = new Map<number, string[]>();
    if (fileIds.length === 0) return out;
    for (const row of this.s.topLevelNames.all(JSON.stringify(fileIds)) as { fileId: number; name: string }[]) {
      let names = out.get(row.fileId);
      if (!names) out.set(row.fileId, (names = []));
      names.push(row.name);
    }
    return out;
  }

  refs(name: string): RefRow[] {
    return this.s.refs.all(name) as RefRow[];
  }

  /** Definitions of one file by ord. */
  symbolsAt(fileId: number, ords: number[]): SymbolRow[] {
    if (ords.length === 0) return [];
    return this.s.symbolsAt.all(JSON.stringify(ords), fileId) as SymbolRow[];
  }

  /** Lines first..last of an indexed file as stored (blank lines, which no chunk holds, are ''). */
  lines(fileId: number, first: number, last: number): Map<number, string> {
    const out = new Map<number, string>();
    for (const chunk of this.s.chunkLines.all(fileId, first, last) as { startLine: number; endLine: number; text: string }[]) {
      const lines = chunk.text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = chunk.startLine + i;
        if (line >= first && line <= last && !out.has(line)) out.set(line, lines[i]);
      }
    }
    return out;
  }

  counts(): { symbols: number; refRows: number } {
    return this.s.counts.get() as { symbols: number; refRows: number };
  }

  /** Bytes of the symbol tables and their indexes (SQLite's dbstat), or null where dbstat is not compiled in. */
  bytes(): number | null {
    try {
      const sql = `SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ('symbols', 'symbols_name', 'symbols_qualified', 'symbol_refs', 'symbol_refs_file')`;
      return this.db.prepare(sql).pluck().get() as number;
    } catch {
      return null;
    }
  }
}
