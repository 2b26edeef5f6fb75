/**
 * The chunking entry point: source text in, chunks out. A pure function of its inputs: the same
 * file and options always give the same chunks. It never throws on bad input; code that cannot be
 * parsed is chunked by line windows instead.
 */
import type { Chunk } from './chunk.js';
import { LineBudget, type Piece } from './line-budget.js';
import { SYNTAX_LANGUAGES } from './languages.js';
import { syntaxPieces } from './syntax-pieces.js';
import { buildOutline } from './syntax-outline.js';
import { SYNTAX_SPECS } from './syntax-specs.js';
import { lineWindowPieces, markdownPieces } from './text-pieces.js';
import { getParser } from './tree-sitter-parser.js';
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
  if (file.text.trim() === '') return [];
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  const budget = new LineBudget(file.text, file.path, maxTokens, options.tokenizer);
  const pieces = await piecesFor(file, budget);
  return pieces.map((piece) => ({
    path: file.path,
    language: file.language,
    symbol: piece.symbol,
    kind: piece.kind,
    startLine: piece.start + 1,
    endLine: piece.end + 1,
    text: budget.text(piece),
    tokens: budget.embeddingTokens(piece),
  }));
}

async function piecesFor(file: SourceFile, budget: LineBudget): Promise<Piece[]> {
  if (file.language === 'markdown') return markdownPieces(budget);
  const spec = SYNTAX_SPECS[file.language];
  if (!spec || !SYNTAX_LANGUAGES.includes(file.language) || file.text.length > MAX_PARSE_CHARS) {
    return lineWindowPieces(budget);
  }
  let parser;
  try {
    parser = await getParser(file.language);
  } catch (error) {
    reportOnce(file.language, `cannot load the tree-sitter grammar for ${file.language}`, error);
    return lineWindowPieces(budget);
  }
  // Parse and walk synchronously after the await: the parser is shared across concurrent calls.
  let tree = null;
  try {
    tree = parser.parse(file.text);
    if (!tree) throw new Error('the parser returned no tree');
    return syntaxPieces(buildOutline(tree.rootNode, spec, budget.lineCount), budget);
  } catch (error) {
    reportOnce(file.language, `syntax chunking failed for ${file.path}`, error);
    return lineWindowPieces(budget);
  } finally {
    tree?.delete();
  }
}
