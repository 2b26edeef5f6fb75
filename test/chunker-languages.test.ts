import { expect, test } from 'vitest';
import { chunkFile } from '../indexer/chunk/chunk-file.js';
import { SYNTAX_LANGUAGES, languageForPath } from '../indexer/chunk/languages.js';
import { getParser } from '../indexer/chunk/tree-sitter-parser.js';
import { loadMistralTokenizer } from '../models/hf-tokenizer.js';

test('languageForPath maps extensions and well-known names, and skips what is not text', () => {
  const cases: Record<string, string | null> = {
    'src/a.ts': 'typescript', 'src/a.mts': 'typescript', 'App.tsx': 'tsx', 'x.jsx': 'javascript', 'x.cjs': 'javascript',
    'a/b.py': 'python', 'main.go': 'go', 'lib.rs': 'rust', 'A.java': 'java', 'x.c': 'c', 'x.h': 'c',
    'x.hpp': 'cpp', 'x.cc': 'cpp', 'P.cs': 'csharp', 'Rakefile': 'ruby', 'x.rb': 'ruby', 'i.php': 'php',
    'M.kt': 'kotlin', 'S.swift': 'swift', 'README.md': 'markdown', 'docs/x.MDX': 'markdown',
    'package.json': 'json', 'ci.yml': 'yaml', 'Cargo.toml': 'toml', 'run.sh': 'shell', 'q.sql': 'sql',
    'Makefile': 'make', 'Dockerfile': 'dockerfile', 'Dockerfile.dev': 'dockerfile', 'LICENSE': 'text', 'README': 'text',
    'logo.png': null, 'a.zip': null, 'font.woff2': null, 'package-lock.json': null, 'app.min.js': null,
    'bin/tool': null, 'x.unknownext': null,
  };
  for (const [path, language] of Object.entries(cases)) expect(languageForPath(path), path).toBe(language);
});

test('every syntax language has a grammar that loads with web-tree-sitter 0.25', async () => {
  for (const language of SYNTAX_LANGUAGES) {
    const parser = await getParser(language);
    const tree = parser.parse('x');
    expect(tree, language).not.toBeNull();
    tree!.delete();
  }
  expect([...SYNTAX_LANGUAGES].sort()).toEqual(
    ['c', 'cpp', 'csharp', 'go', 'java', 'javascript', 'kotlin', 'php', 'python', 'ruby', 'rust', 'swift', 'tsx', 'typescript'],
  );
});

test('code in a language without a grammar is chunked by lines', async () => {
  const text = 'object Main {\n  def main(args: Array[String]): Unit = println("hi")\n}\n';
  const chunks = await chunkFile({ path: 'Main.scala', text, language: 'scala' }, { maxTokens: 512, tokenizer: loadMistralTokenizer() });
  expect(chunks.map((c) => [c.kind, c.symbol, c.startLine, c.endLine])).toEqual([['lines', null, 1, 3]]);
});

test('definitions are found inside top-level statements, not only at the top level', async () => {
  const tokenizer = loadMistralTokenizer();
  const body = (name: string) => `  ${name}(req, res) {\n    const user = req.session.user ?? anonymousVisitor(req.headers);\n    return res.render('${name}', { user, items: listItemsFor(user) });\n  },`;
  const text = `module.exports = {\n${body('index')}\n${body('show')}\n};\n`;
  const chunks = await chunkFile({ path: 'routes.js', text, language: 'javascript' }, { maxTokens: 256, tokenizer });
  expect(chunks.map((c) => `${c.startLine}-${c.endLine} ${c.kind} ${c.symbol}`)).toEqual([
    '1-1 block null', // top-level code between definitions stays a block
    '2-5 method index',
    '6-10 method show', // the closing `};` rides along
  ]);
});
