/**
 * Issue 18 items 3 and 5, through the real MCP client against real lexical indexes: answers sized for a
 * context window (every size measured with the Mistral tokenizer, text and structuredContent JSON both)
 * and searches that say why they found nothing. The repository is zod's v3 sources (real TypeScript) plus
 * files written here: a long method whose matching line is far below its top, data that tokenizes badly
 * (base64, hex tables, CJK and emoji, UPPER_SNAKE enums), and one file per language for the aliases.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateTokens } from '../indexer/search/token-estimate.js';
import { loadMistralTokenizer } from '../models/hf-tokenizer.js';
import { connectInProcess, type InProcessSession, type Structured, type ToolResult } from './helpers/in-process.js';
import { copyThirdPartyTree, tempDir } from './helpers/stdio-client.js';
import { countTokensInPieces } from './bench/question-scoring.js';

const tokenizer = loadMistralTokenizer();

/** Mistral tokens, counted as the benchmark counts them. */
const countTokens = (text: string): number => countTokensInPieces((piece) => tokenizer.count(piece), text);

/** What a client shows its model: the text block, or JSON.stringify(structuredContent) (Claude Code). */
const answerTokens = (result: ToolResult) => ({ text: countTokens(result.content[0].text), json: countTokens(JSON.stringify(result.structuredContent)) });

/** A deterministic pseudo-random generator, so the data files are the same on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * A method of 95 short lines, kept whole by the chunker (512 tokens): the line about quarantining is its
 * 82nd body line, file line 90, beyond the 60 lines a snippet used to show from the top.
 */
function deepMethod(): string {
  const body: string[] = [];
  for (let i = 0; i < 95; i++) {
    if (i === 82) body.push('        self.quarantine_poisoned_webhook(payload)');
    else body.push(i % 2 === 0 ? '        total += rate' : '');
  }
  return [
    'import logging',
    '',
    '',
    'class LedgerReconciler:',
    '    """Reconciles the ledger against the bank statement."""',
    '',
    '    def reconcile_statement(self, statement, payload, rate=1):',
    ...body,
    '        return total',
    '',
  ].join('\n');
}

function writeExtraFiles(repo: string): void {
  const dir = join(repo, 'extra');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ledger_reconciler.py'), deepMethod());

  const next = random(7);
  const blobLines = Array.from({ length: 300 }, () => `  '${Array.from({ length: 76 }, () => BASE64[Math.floor(next() * 64)]).join('')}' +`);
  writeFileSync(
    join(dir, 'embedded_icon.ts'),
    ['/** The embedded icon, base64 PNG: decodeEmbeddedIcon turns it back into bytes. */', 'export const EMBEDDED_ICON_BASE64 =', ...blobLines, "  '';", '',
      'export function decodeEmbeddedIcon(): Uint8Array {', '  return Uint8Array.from(atob(EMBEDDED_ICON_BASE64), (c) => c.charCodeAt(0));', '}', ''].join('\n'),
  );

  const hex = Array.from({ length: 64 }, (_, row) => `  ${Array.from({ length: 8 }, (_, col) => `0x${Math.floor(next() * 2 ** 32).toString(16).padStart(8, '0')}`).join(', ')}, /* ${row * 8} */`);
  const decimals = Array.from({ length: 60 }, (_, row) => `  {${Array.from({ length: 6 }, () => (next() * 1e6).toFixed(3)).join(', ')}}, // row ${row}`);
  writeFileSync(
    join(dir, 'crc_tables.c'),
    ['/* CRC-32 lookup table for the reflected polynomial 0xEDB88320. */', 'static const unsigned int crc_table[512] = {', ...hex, '};', '',
      'static const double calibration_polynomial[60][6] = {', ...decimals, '};', '',
      'unsigned int crc_lookup(unsigned int crc, unsigned char byte) {', '  return crc_table[(crc ^ byte) & 0xff] ^ (crc >> 8);', '}', ''].join('\n'),
  );

  const words = ['你好，欢迎使用数据库连接池', 'Привет, добро пожаловать', 'こんにちは、ようこそ', '안녕하세요 환영합니다', 'Grüße aus Köln, naïve café'];
  const emoji = ['🎉', '🚀', '✨', '🔥', '👋🏽', '🇯🇵'];
  const messages = Array.from({ length: 200 }, (_, i) => `    "greeting_message_${i}": "${words[i % words.length]} ${emoji[i % emoji.length]}${emoji[(i + 2) % emoji.length]} #${i}",`);
  writeFileSync(join(dir, 'greeting_messages.py'), ['GREETING_MESSAGE_TRANSLATIONS = {', ...messages, '}', '', 'def greeting_message(key):', '    return GREETING_MESSAGE_TRANSLATIONS[key]', ''].join('\n'));

  const codes = Array.from({ length: 300 }, (_, i) => `  X_V_ERROR_CODE_${['INVALID', 'MISSING', 'DUPLICATE', 'UNEXPECTED'][i % 4]}_${String.fromCharCode(65 + (i % 26))}${i} = ${1000 + i},`);
  writeFileSync(join(dir, 'error_codes.ts'), ['export enum ErrorCodes {', ...codes, '}', ''].join('\n'));

  // One file per language, each defining frobnicate: a language filter must pick exactly its own.
  const languageFiles: Record<string, string> = {
    'frob.go': 'package frob\n\nfunc Frobnicate(widget string) string {\n\treturn widget\n}\n',
    'frob.cpp': 'int frobnicate(int widget) {\n  return widget;\n}\n',
    'frob.rs': 'pub fn frobnicate(widget: u32) -> u32 {\n    widget\n}\n',
    'Frob.cs': 'class Frob {\n  public int Frobnicate(int widget) { return widget; }\n}\n',
    'frob.rb': 'def frobnicate(widget)\n  widget\nend\n',
    'frob.kt': 'fun frobnicate(widget: Int): Int {\n    return widget\n}\n',
    'frob.sh': 'frobnicate() {\n  echo "$1"\n}\n',
    'frob.py': 'def frobnicate(widget):\n    return widget\n',
    'frob.js': 'export function frobnicate(widget) {\n  return widget;\n}\n',
    'frob.ts': 'export function frobnicate(widget: number): number {\n  return widget;\n}\n',
  };
  for (const [name, text] of Object.entries(languageFiles)) writeFileSync(join(dir, name), text);
}

let session: InProcessSession;
let repo: string;
const search = (args: Record<string, unknown>) => session.call('search', { mode: 'lexical', ...args });
const hitsOf = (result: ToolResult): Structured[] => result.structuredContent.results;

beforeAll(async () => {
  repo = copyThirdPartyTree('zod/src/v3', 'answers');
  writeExtraFiles(repo);
  session = await connectInProcess({ home: tempDir('answers-home') });
  const set = await session.call('set_project', { path: repo, provider: 'none' });
  expect(set.isError, set.content[0]?.text).toBeFalsy();
  const run = await session.call('index', { wait_seconds: 120 });
  expect(run.structuredContent.state).toBe('done');
}, 180_000);

afterAll(async () => {
  await session?.close();
});

/**
 * Reads a snippet back against the file: every shown line is the file's line at the number the snippet
 * implies (the hit's start line, then the number after each `⋮ line N`), cut lines ending in `…` being a
 * prefix of it. Returns the line numbers shown.
 */
function checkSnippetAgainstFile(hit: Structured): number[] {
  const fileLines = readFileSync(join(repo, hit.path), 'utf8').split('\n');
  const shown: number[] = [];
  let line = hit.start_line;
  const snippetLines: string[] = hit.snippet.split('\n');
  snippetLines.forEach((text, i) => {
    const marker = /^⋮ line (\d+)$/.exec(text);
    if (marker) {
      expect(Number(marker[1]), `${hit.path}: elision must skip forward`).toBeGreaterThan(line);
      line = Number(marker[1]);
      return;
    }
    if (text === '⋮') {
      expect(i, `${hit.path}: a bare ⋮ ends the snippet`).toBe(snippetLines.length - 1);
      expect(line, `${hit.path}: a bare ⋮ means lines are left before end_line`).toBeLessThanOrEqual(hit.end_line);
      return;
    }
    const original = fileLines[line - 1];
    if (text.includes('…') && text !== original) {
      // A cut line: its pieces between the cuts appear in the file's line, in order, from its start.
      let at = 0;
      text.split('…').forEach((piece, p) => {
        const found = original.indexOf(piece, at);
        expect(p === 0 ? found === 0 : found >= at, `${hit.path}:${line} holds ${JSON.stringify(piece)}`).toBe(true);
        at = found + piece.length;
      });
    } else {
      expect(text, `${hit.path}:${line}`).toBe(original);
    }
    shown.push(line);
    line += 1;
  });
  expect(shown.every((n) => n >= hit.start_line && n <= hit.end_line)).toBe(true);
  return shown;
}

const REAL_QUERIES = [
  'parse a string into a date',
  'discriminated union of object types',
  'refine with a custom error message',
  'optional and nullable wrappers',
  'format the issues of a ZodError',
  'safeParse returns success or the error',
  'minimum length of an array',
  'strict object rejects unknown keys',
  'coerce the input to a number',
  'transform and pipe the parsed value',
  'poisoned webhook payload quarantine',
  'crc lookup table polynomial',
  'greeting message translations',
  'decode the embedded icon',
  'invalid duplicate error code',
];

describe('answers sized for a context window (issue 18.3)', () => {
  it('shows each hit\'s location, symbol, signature and the lines that match, even far below the top of the code', async () => {
    const result = await search({ query: 'poisoned webhook payload quarantine' });
    expect(result.isError).toBeFalsy();
    const hit = hitsOf(result)[0];
    expect(hit).toMatchObject({ path: 'extra/ledger_reconciler.py', symbol: 'LedgerReconciler.reconcile_statement', language: 'python' });
    const lines = hit.snippet.split('\n');
    // The signature first, then (after an elision that says where) the matching line, 100 lines further down.
    expect(lines[0]).toBe('    def reconcile_statement(self, statement, payload, rate=1):');
    expect(hit.start_line).toBeLessThanOrEqual(7);
    expect(hit.end_line - hit.start_line).toBeGreaterThan(60);
    const matchLine = 90; // the method starts on line 7; its body line 82 is line 90
    expect(hit.snippet).toContain('self.quarantine_poisoned_webhook(payload)');
    const elision = /^⋮ line (\d+)$/m.exec(hit.snippet);
    expect(Number(elision?.[1])).toBeGreaterThan(20);
    expect(Number(elision?.[1])).toBeLessThanOrEqual(matchLine);
    expect(checkSnippetAgainstFile(hit)).toContain(matchLine);
    expect(hit.snippet.split('\n').length).toBeLessThan(20);
    // The text block holds the same hit: location, symbol, score, and the same snippet.
    expect(result.content[0].text).toContain(`${hit.path}:${hit.start_line}-${hit.end_line}  ${hit.symbol}  (${hit.score})\n${hit.snippet}`);
  });

  it('a default answer (k = 10) costs at most 1,200 Mistral tokens, as text and as structuredContent JSON', async () => {
    const sizes: { query: string; text: number; json: number }[] = [];
    for (const query of REAL_QUERIES) {
      const result = await search({ query });
      expect(result.isError, query).toBeFalsy();
      expect(hitsOf(result).length, query).toBeGreaterThan(0);
      sizes.push({ query, ...answerTokens(result) });
      // Every snippet reads back against its file, and the text holds the same hits.
      for (const hit of hitsOf(result)) {
        checkSnippetAgainstFile(hit);
        expect(result.content[0].text).toContain(`${hit.path}:${hit.start_line}-${hit.end_line}  ${hit.symbol ?? hit.kind}  (${hit.score})\n${hit.snippet}`);
      }
    }
    for (const size of sizes) {
      expect(size.text, size.query).toBeLessThanOrEqual(1200);
      expect(size.json, size.query).toBeLessThanOrEqual(1200);
    }
    // The budget is used, not wasted: on average over half of it goes to the model.
    expect(sizes.reduce((s, x) => s + x.json, 0) / sizes.length).toBeGreaterThan(600);
  }, 60_000);

  it('max_tokens caps any answer and no answer exceeds 20,000 tokens, whatever k and detail, data files included', async () => {
    for (const query of ['crc lookup table polynomial', 'greeting message translations', 'decode the embedded icon base64', 'invalid duplicate error code', 'parse the input']) {
      for (const args of [
        { k: 100, detail: 'full' },
        { k: 100, detail: 'full', max_tokens: 20_000 },
        { k: 100, detail: 'lines' },
        { k: 100, detail: 'locations' },
        { k: 10, detail: 'full', max_tokens: 2000 },
        { k: 30, max_tokens: 300 },
        { k: 5, detail: 'full', max_tokens: 200 },
      ]) {
        const result = await search({ query, ...args });
        expect(result.isError, `${query} ${JSON.stringify(args)}`).toBeFalsy();
        const cap = args.max_tokens ?? 20_000;
        const size = answerTokens(result);
        expect(size.text, `${query} ${JSON.stringify(args)} text`).toBeLessThanOrEqual(cap);
        expect(size.json, `${query} ${JSON.stringify(args)} JSON`).toBeLessThanOrEqual(cap);
      }
    }
    // A full answer of 100 results is large but within the cap; a small cap leaves results out and says so.
    const full = await search({ query: 'parse the input', k: 100, detail: 'full' });
    expect(answerTokens(full).json).toBeGreaterThan(8000);
    const small = await search({ query: 'parse the input', k: 30, max_tokens: 300 });
    expect(small.structuredContent.results_omitted).toBeGreaterThan(0);
    expect(hitsOf(small).length + small.structuredContent.results_omitted).toBe(30);
    expect(small.content[0].text).toMatch(/more results left out to stay within max_tokens 300: raise max_tokens/);
    // Where not even one signature line fits, the best hit still comes back as a location.
    const tiny = await search({ query: 'parse the input', k: 5, detail: 'full', max_tokens: 200 });
    expect(hitsOf(tiny).length).toBeGreaterThan(0);
    expect(hitsOf(tiny)[0].path).toBe(hitsOf(small)[0].path);
  }, 120_000);

  it('detail "locations" drops the code, "full" shows the whole range when it fits, and max_tokens buys more lines', async () => {
    const query = 'poisoned webhook payload quarantine';
    const locations = await search({ query, detail: 'locations' });
    for (const hit of hitsOf(locations)) expect(hit).not.toHaveProperty('snippet');
    expect(locations.content[0].text.split('\n').slice(2)).toEqual(hitsOf(locations).map((h) => `${h.path}:${h.start_line}-${h.end_line}  ${h.symbol ?? h.kind}  (${h.score})`));
    const lines = await search({ query });
    expect(answerTokens(locations).json).toBeLessThan(answerTokens(lines).json / 2);

    const full = await search({ query, k: 1, detail: 'full' });
    const [hit] = hitsOf(full);
    expect(hit.snippet.split('\n').length).toBe(hit.end_line - hit.start_line + 1);
    expect(hit.snippet).not.toContain('⋮');
    checkSnippetAgainstFile(hit);

    const small = hitsOf(await search({ query: 'parse the input', max_tokens: 1200 }));
    const large = hitsOf(await search({ query: 'parse the input', max_tokens: 4000, detail: 'full' }));
    const shownLines = (hits: Structured[]) => hits.reduce((sum, h) => sum + checkSnippetAgainstFile(h).length, 0);
    expect(shownLines(large)).toBeGreaterThan(2 * shownLines(small));
  }, 60_000);

  it('refuses a detail or max_tokens it does not know, saying what it takes', async () => {
    for (const [args, message] of [
      [{ detail: 'everything' }, /detail must be "locations", "lines" or "full"/],
      [{ max_tokens: 50 }, /max_tokens must be a whole number from 200 to 20000/],
      [{ max_tokens: 25_000 }, /max_tokens must be a whole number from 200 to 20000/],
    ] as const) {
      const result = await search({ query: 'parse', ...args });
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(result.content[0].text).toMatch(message);
    }
  });

  it('estimates tokens from characters at or above the Mistral count on code, JSON and data', () => {
    const samples = [
      readFileSync(join(repo, 'types.ts'), 'utf8').slice(0, 20_000),
      readFileSync(join(repo, 'extra', 'crc_tables.c'), 'utf8'),
      readFileSync(join(repo, 'extra', 'greeting_messages.py'), 'utf8'),
      readFileSync(join(repo, 'extra', 'error_codes.ts'), 'utf8'),
      readFileSync(join(repo, 'extra', 'embedded_icon.ts'), 'utf8').slice(0, 8000),
    ];
    for (const text of samples) {
      for (const view of [text, JSON.stringify(text)]) expect(estimateTokens(view)).toBeGreaterThanOrEqual(countTokens(view));
    }
  });
});

describe('no silent empties (issue 18.5)', () => {
  it('a project with nothing indexed says so, with reason "not_indexed" and what to call', async () => {
    const fresh = await connectInProcess({ home: tempDir('answers-empty') });
    try {
      const empty = join(tempDir('answers-unindexed'), 'repo');
      mkdirSync(empty, { recursive: true });
      writeFileSync(join(empty, 'main.py'), 'def main():\n    pass\n');
      expect((await fresh.call('set_project', { path: empty, provider: 'none' })).isError).toBeFalsy();
      const result = await fresh.call('search', { query: 'main' });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent.results).toEqual([]);
      expect(result.structuredContent.reason).toBe('not_indexed');
      expect(result.content[0].text).toMatch(/Nothing is indexed for this project yet: call `index` first/);
      expect(result.content[0].text).toMatch(/No results/);
    } finally {
      await fresh.close();
    }
  });

  it('an unknown language is an error that lists the accepted names', async () => {
    const result = await search({ query: 'frobnicate', language: ['klingon'] });
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toMatch(/Unknown language "klingon"/);
    expect(result.content[0].text).toMatch(/Accepted: .*\bcpp\b.*\bgo\b.*\bpython\b.*\btypescript\b/);
  });

  it('common aliases and extensions name the language: py, ts, js, rs, golang, c++, cpp, cs, c#, rb, kt, sh', async () => {
    const cases: [string, string][] = [
      ['py', 'extra/frob.py'], ['PY', 'extra/frob.py'], ['ts', 'extra/frob.ts'], ['js', 'extra/frob.js'], ['rs', 'extra/frob.rs'],
      ['golang', 'extra/frob.go'], ['c++', 'extra/frob.cpp'], ['cpp', 'extra/frob.cpp'], ['cs', 'extra/Frob.cs'], ['c#', 'extra/Frob.cs'],
      ['rb', 'extra/frob.rb'], ['kt', 'extra/frob.kt'], ['sh', 'extra/frob.sh'], ['bash', 'extra/frob.sh'],
    ];
    for (const [language, path] of cases) {
      const result = await search({ query: 'frobnicate widget', language: [language] });
      expect(result.isError, `${language}: ${result.content[0].text}`).toBeFalsy();
      expect(hitsOf(result).map((h) => h.path), language).toEqual([path]);
    }
  });

  it('a path_glob that matches no indexed file says so and shows an indexed path', async () => {
    const result = await search({ query: 'parse', path_glob: 'lib/**/*.java' });
    expect(result.structuredContent.results).toEqual([]);
    expect(result.structuredContent.reason).toBe('path_glob_matches_no_file');
    const note: string = result.structuredContent.note;
    expect(note).toMatch(/path_glob "lib\/\*\*\/\*\.java" matches none of the \d+ indexed files/);
    const example = /An indexed path: "([^"]+)"/.exec(note)?.[1];
    expect(example).toBeDefined();
    expect(readFileSync(join(repo, example!), 'utf8').length).toBeGreaterThan(0);
    expect(result.content[0].text).toContain(note);

    // An absolute path is the usual mistake: the note says globs are relative, and the example matches the extension.
    const absolute = await search({ query: 'parse', path_glob: `${repo}/helpers/*.py` });
    expect(absolute.structuredContent.reason).toBe('path_glob_matches_no_file');
    expect(absolute.structuredContent.note).toMatch(/relative to the project root/);
    expect(absolute.structuredContent.note).toMatch(/An indexed path: "[^"]+\.py"/);
    // When the glob made relative matches, the note gives it, and a path it matches.
    const fixable = await search({ query: 'parse', path_glob: `${repo}/helpers/*.ts` });
    expect(fixable.structuredContent.note).toMatch(/relative to the project root, without a leading \/: "helpers\/\*\.ts" matches\. An indexed path: "helpers\/\w+\.ts"/);
  });

  it('a known language that no indexed file is in says so and lists the indexed languages; a query that matches nothing says so', async () => {
    const result = await search({ query: 'parse', language: ['swift'] });
    expect(result.structuredContent.reason).toBe('language_matches_no_file');
    expect(result.structuredContent.note).toMatch(/No indexed file is in swift\. Indexed languages: typescript \(\d+ files\), /);

    const nothing = await search({ query: 'zyzzyvaquux' });
    expect(nothing.structuredContent.results).toEqual([]);
    expect(nothing.structuredContent.reason).toBe('no_match');
    expect(nothing.content[0].text).toMatch(/No indexed code contains a word of the query/);
  });
});
