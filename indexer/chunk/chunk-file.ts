/**
 * The chunking entry point: source text in, chunks out. A pure function of its inputs: the same
 * file and options always give the same chunks. It never throws on bad input; code that cannot be
 * parsed is chunked by line windows instead.
 */
import type { Chunk } from './chunk.js';
import { extractSymbols } from './extract-symbols.js';
import type { FileSymbols } from './file-symbols.js';
import { LineBudget, type Piece } from './line-budget.js';
import { SYNTAX_LANGUAGES } from './languages.js';
import { syntaxPieces } from './syntax-pieces.js';
import { buildOutline } from './syntax-outline.js';
import { SYNTAX_SPECS, type SyntaxSpec } from './syntax-specs.js';
import { lineWindowPieces, markdownPieces } from './text-pieces.js';
import { getParser } from './tree-sitter-parser.js';
import type { Tree } from 'web-tree-sitter';
import type { TextTokenizer } from '../../models/tokenizer.js';

export const DEFAULT_MAX_TOKENS = 512;

/**
 * Files larger than this are chunked by lines without parsing: past a few MB they are generated
 * code or data, and a parse would hold the tree (tens of bytes per node) in WebAssembly memory.
 */
const MAX_PARSE_CHARS = 4_000_000;

export interface ChunkOptions {
  /** Token budget per chunk, including the `path: symbol` header the embedder adds (default 512). */
  maxTokens?: number;
  tokenizer: TextTokenizer;
}

export interface SourceFile {
  /** Repository-relative path with forward slashes. */
  path: string;
  text: string;
  /** A name from languageForPath(). */
  language: string;
}

/** Languages whose failure was already logged: one line per language, not one per file. */
const reported = new Set<string>();

function reportOnce(language: string, message: string, error: unknown): void {
  if (reported.has(language)) return;
  reported.add(language);
  // stderr only: stdout carries the MCP protocol.
  console.error(`codecarto: ${message}; chunking ${language} files by lines instead:`, error instanceof Error ? error.message : error);
}

/**
 * Cuts a file into chunks whose line ranges are disjoint, in order, and together cover every
 * non-blank line (the only exception: a line longer than the budget is cut into several chunks
 * that share its line number). Empty and whitespace-only files give no chunks.
 */
export async function chunkFile(file: SourceFile, options: ChunkOptions): Promise<Chunk[]> {
  return (await cut(file, options, false)).chunks;
}

/**
 * chunkFile() and the file's symbol table from the same parse. Symbols are null where the file is not
 * parsed (no grammar, too large, a parse that failed): such a file has chunks and no symbols.
 */
export async function chunkFileWithSymbols(file: SourceFile, options: ChunkOptions): Promise<{ chunks: Chunk[]; symbols: FileSymbols | null }> {
  return cut(file, options, true);
}

async function cut(file: SourceFile, options: ChunkOptions, wantSymbols: boolean): Promise<{ chunks: Chunk[]; symbols: FileSymbols | null }> {
  if (file.text.trim() === '') return { chunks: [], symbols: null };
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  const budget = new LineBudget(file.text, file.path, maxTokens, options.tokenizer);
  const { pieces, symbols } = await piecesFor(file, budget, wantSymbols);
  const chunks = pieces.map((piece) => ({
    path: file.path,
    language: file.language,
    symbol: piece.symbol,
    kind: piece.kind,
    startLine: piece.start + 1,
    endLine: piece.end + 1,
    text: budget.text(piece),
    tokens: budget.embeddingTokens(piece),
  }));
  return { chunks, symbols };
}

async function piecesFor(file: SourceFile, budget: LineBudget, wantSymbols: boolean): Promise<{ pieces: Piece[]; symbols: FileSymbols | null }> {
  if (file.language === 'markdown') return { pieces: markdownPieces(budget), symbols: null };
  const spec = SYNTAX_SPECS[file.language];
  if (!spec || !SYNTAX_LANGUAGES.includes(file.language) || file.text.length > MAX_PARSE_CHARS) {
    return { pieces: lineWindowPieces(budget), symbols: null };
  }
  let parser;
  try {
    parser = await getParser(file.language);
  } catch (error) {
    reportOnce(file.language, `cannot load the tree-sitter grammar for ${file.language}`, error);
    return { pieces: lineWindowPieces(budget), symbols: null };
  }
  // Parse and walk synchronously after the await: the parser is shared across concurrent calls.
  let tree = null;
  try {
    tree = parser.parse(file.text);
    if (!tree) throw new Error('the parser returned no tree');
    const pieces = syntaxPieces(buildOutline(tree.rootNode, spec, budget.lineCount), budget);
    return { pieces, symbols: wantSymbols ? symbolsOf(tree, file, spec) : null };
  } catch (error) {
    reportOnce(file.language, `syntax chunking failed for ${file.path}`, error);
    return { pieces: lineWindowPieces(budget), symbols: null };
  } finally {
    tree?.delete();
  }
}

/** A symbol table that cannot be read costs the file its symbols, never its chunks. */
function symbolsOf(tree: Tree, file: SourceFile, spec: SyntaxSpec): FileSymbols | null {
  try {
    return extractSymbols(tree, file.text, file.language, spec);
  } catch (error) {
    if (!reported.has(`symbols:${file.language}`)) {
      reported.add(`symbols:${file.language}`);
      console.error(`codecarto: reading the symbols of ${file.path} failed; such ${file.language} files get chunks and no symbols:`, error instanceof Error ? error.message : error);
    }
    return null;
  }
}
