/**
 * Lazily loads tree-sitter grammars (WebAssembly, no native build) and hands out one parser per
 * language. web-tree-sitter must stay at 0.25.x: 0.26+ cannot load the tree-sitter-wasms grammars.
 *
 * All 14 grammars below load with web-tree-sitter 0.25.10 + tree-sitter-wasms 0.1.13 (checked);
 * C# is slow to compile the first time (~2.5 s), so nothing is loaded before it is needed.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Language, Parser } from 'web-tree-sitter';

/** Our language name -> grammar file in tree-sitter-wasms/out. */
const GRAMMAR_FILES: Readonly<Record<string, string>> = {
  typescript: 'tree-sitter-typescript.wasm',
  tsx: 'tree-sitter-tsx.wasm',
  javascript: 'tree-sitter-javascript.wasm',
  python: 'tree-sitter-python.wasm',
  go: 'tree-sitter-go.wasm',
  rust: 'tree-sitter-rust.wasm',
  java: 'tree-sitter-java.wasm',
  c: 'tree-sitter-c.wasm',
  cpp: 'tree-sitter-cpp.wasm',
  csharp: 'tree-sitter-c_sharp.wasm',
  ruby: 'tree-sitter-ruby.wasm',
  php: 'tree-sitter-php.wasm',
  kotlin: 'tree-sitter-kotlin.wasm',
  swift: 'tree-sitter-swift.wasm',
};

export function hasGrammar(language: string): boolean {
  return Object.hasOwn(GRAMMAR_FILES, language);
}

let runtime: Promise<void> | null = null;
/** Promises, so that concurrent first calls share one load instead of racing. */
const parsers = new Map<string, Promise<Parser>>();
/**
 * The previous grammar load. Loads run one at a time: web-tree-sitter links each grammar into one shared
 * WebAssembly table, and two loads in flight resolve each other's symbols ("bad export type for
 * 'tree_sitter_typescript_external_scanner_create'" while loading C, seen with concurrent chunking).
 */
let lastLoad: Promise<unknown> = Promise.resolve();

function grammarPath(file: string): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('tree-sitter-wasms/package.json')), 'out', file);
}

async function loadParser(language: string): Promise<Parser> {
  const file = GRAMMAR_FILES[language];
  if (!file) throw new Error(`no tree-sitter grammar for language "${language}"`);
  // Parser.init() instantiates the runtime module; it must run exactly once per process.
  runtime ??= Parser.init();
  await runtime;
  const grammar = await Language.load(grammarPath(file));
  const parser = new Parser();
  parser.setLanguage(grammar);
  return parser;
}

/**
 * The shared parser for `language`. Parsing is synchronous, so callers that parse right after the
 * await cannot interleave on one parser. A failed load stays failed (the promise is cached) so that
 * a broken grammar costs one attempt, not one per file.
 */
export function getParser(language: string): Promise<Parser> {
  let parser = parsers.get(language);
  if (!parser) {
    parser = lastLoad.then(() => loadParser(language));
    lastLoad = parser.catch(() => undefined);
    parsers.set(language, parser);
  }
  return parser;
}
