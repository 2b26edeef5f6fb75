import { describe, expect, test, vi } from 'vitest';
import { embeddingText, type Chunk } from '../indexer/chunk/chunk.js';
import { chunkFile } from '../indexer/chunk/chunk-file.js';
import { SAMPLES, type Sample } from './chunker-samples.js';
import { loadMistralTokenizer } from '../models/hf-tokenizer.js';

const tokenizer = loadMistralTokenizer();
/** Small enough that the samples' classes split into members; methods in the samples exceed 256/8. */
const MAX = 256;

function outline(chunks: Chunk[]): string[] {
  return chunks.map((c) => `${c.startLine}-${c.endLine} ${c.kind} ${c.symbol}`);
}

/**
 * The chunker's core contract: chunks are in order, their line ranges do not overlap, they cover
 * every non-blank line, and each chunk's text is exactly its source lines.
 */
export function expectPartition(text: string, chunks: Chunk[]): void {
  const lines = text.split('\n');
  const owner = new Array<number>(lines.length).fill(-1);
  chunks.forEach((chunk, i) => {
    expect(chunk.startLine).toBeGreaterThanOrEqual(1);
    expect(chunk.endLine).toBeGreaterThanOrEqual(chunk.startLine);
    expect(chunk.text).toBe(lines.slice(chunk.startLine - 1, chunk.endLine).join('\n'));
    for (let line = chunk.startLine - 1; line < chunk.endLine; line++) {
      expect(owner[line], `line ${line + 1} is in chunks ${owner[line]} and ${i}`).toBe(-1);
      owner[line] = i;
    }
    if (i > 0) expect(chunk.startLine).toBeGreaterThan(chunks[i - 1].endLine);
  });
  lines.forEach((line, i) => {
    if (line.trim() !== '') expect(owner[i], `line ${i + 1} (${JSON.stringify(line)}) is in no chunk`).toBeGreaterThanOrEqual(0);
  });
}

const EXPECTED: Record<string, string[]> = {
  typescript: [
    '1-2 block null',
    '4-8 interface Route',
    '10-12 class Router', // doc comment + header + field; not the methods
    '14-19 method Router.add',
    '21-31 method Router.handle', // the class's closing brace rides with its last method
    '33-39 function createRouter',
  ],
  tsx: [
    '1-7 interface TodoItem', // a tiny import merges into the one definition beside it
    '9-22 function TodoList',
    '24-27 function EmptyState', // `export const X = () => ...` is a function
  ],
  javascript: [
    '1-3 block null',
    '5-10 method LruCache.constructor', // the bare `class LruCache {` line is context for its first member
    '12-21 method LruCache.get',
    '23-30 method LruCache.set',
    '32-42 function memoize',
    '44-44 block null',
  ],
  python: [
    '1-2 block null',
    '5-6 class KeyValueStore',
    '8-12 method KeyValueStore.__init__',
    '14-17 method KeyValueStore.size', // with its decorator
    '19-22 method KeyValueStore.save',
    '25-28 function open_store',
    '31-33 block null',
  ],
  go: [
    '1-6 block null',
    '8-13 struct Server',
    '15-22 method Server.Start', // receiver type qualifies the method, doc comment attached
    '24-30 method Server.String',
    '32-37 function NewServer',
  ],
  rust: [
    '1-1 block null',
    '3-8 struct Stack', // doc comment and #[derive] attached
    '10-13 method Stack.new',
    '15-22 method Stack.push',
    '24-28 method Stack.fmt', // `impl Display for Stack<T>` methods are Stack's
    '30-36 function sum_all',
  ],
  java: [
    '1-4 block null',
    '6-7 class Inventory',
    '9-14 method Inventory.add',
    '16-23 method Inventory.remove',
    '25-32 method Inventory.Report.render', // nested class qualifies
  ],
  c: [
    '1-8 struct buffer',
    '10-20 function buffer_grow',
    '22-29 function buffer_append',
  ],
  cpp: [
    '1-2 block null',
    '4-10 method linalg.Matrix.Matrix',
    '12-15 method linalg.Matrix.at',
    '17-21 class linalg.Matrix', // private fields after the methods
    '23-31 function linalg.trace',
  ],
  csharp: [
    '1-2 block null',
    '4-10 class Bank.Accounts.Account',
    '12-17 method Bank.Accounts.Account.Deposit',
    '19-26 method Bank.Accounts.Account.Withdraw',
    '28-32 interface Bank.Accounts.IAuditor',
  ],
  ruby: [
    '1-1 block null',
    '3-5 class Greetings.Greeter',
    '7-10 method Greetings.Greeter.initialize',
    '12-16 method Greetings.Greeter.greet',
    '18-21 function Greetings.load_all',
  ],
  php: [
    '1-5 block null',
    '7-9 class Cart',
    '11-17 method Cart.add',
    '19-27 method Cart.total',
    '29-32 function format_price',
  ],
  kotlin: [
    '1-3 block null',
    '5-6 class TaskQueue',
    '8-15 method TaskQueue.enqueue',
    '17-24 method TaskQueue.drain',
    '26-29 function describe',
  ],
  swift: [
    '1-5 interface Shape',
    '7-9 struct Rectangle',
    '11-14 method Rectangle.area',
    '16-20 method Rectangle.scaled',
    '22-28 function totalArea',
  ],
};

async function chunk(sample: Pick<Sample, 'path' | 'text' | 'language'>, maxTokens = MAX): Promise<Chunk[]> {
  return chunkFile(sample, { maxTokens, tokenizer });
}

describe('syntax chunks per language', () => {
  for (const [language, expected] of Object.entries(EXPECTED)) {
    test(language, async () => {
      const sample = SAMPLES[language];
      const chunks = await chunk(sample);
      expect(outline(chunks)).toEqual(expected);
      expectPartition(sample.text, chunks);
      for (const c of chunks) {
        expect(c.path).toBe(sample.path);
        expect(c.language).toBe(language);
      }
    });
  }

  test('every sample has a test', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.keys(SAMPLES).sort());
  });
});

test('at the default budget every chunk fits, header included, by real token count', async () => {
  for (const sample of Object.values(SAMPLES)) {
    const chunks = await chunkFile(sample, { maxTokens: 512, tokenizer });
    expectPartition(sample.text, chunks);
    for (const c of chunks) expect(tokenizer.count(embeddingText(c))).toBeLessThanOrEqual(512);
  }
});

test('a class chunk holds its header and fields but not its methods', async () => {
  const chunks = await chunk(SAMPLES.typescript);
  const router = chunks.find((c) => c.symbol === 'Router')!;
  expect(router.kind).toBe('class');
  expect(router.text).toContain('export class Router extends EventEmitter {');
  expect(router.text).toContain('private readonly routes: Route[] = [];');
  expect(router.text).not.toContain('this.routes.push');
  expect(router.text).not.toContain('async handle');
  const add = chunks.find((c) => c.symbol === 'Router.add')!;
  expect(add.text).toContain('this.routes.push');
  // The method body is embedded exactly once across the file.
  expect(chunks.filter((c) => c.text.includes('this.routes.push'))).toHaveLength(1);
});

test('a class small enough to be one chunk is one class chunk', async () => {
  const text = `class Point {\n  x = 0;\n  y = 0;\n  norm() { return Math.hypot(this.x, this.y); }\n}\n`;
  const chunks = await chunk({ path: 'p.ts', text, language: 'typescript' });
  expect(outline(chunks)).toEqual(['1-5 class Point']);
});

test('tiny top-level siblings merge into blocks instead of one chunk each', async () => {
  const parts: string[] = [];
  for (let i = 0; i < 40; i++) {
    parts.push(i % 2 === 0 ? `export const LIMIT_${i} = ${i * 7};` : `export function twice${i}(n: number) {\n  return n * ${i};\n}`);
  }
  const text = parts.join('\n\n') + '\n';
  const chunks = await chunk({ path: 'consts.ts', text, language: 'typescript' });
  expectPartition(text, chunks);
  expect(chunks.length).toBeGreaterThan(1);
  expect(chunks.length).toBeLessThanOrEqual(8); // not 40
  for (const c of chunks) {
    expect(c.kind).toBe('block'); // several definitions: named after none of them
    expect(c.symbol).toBeNull();
    expect(tokenizer.count(c.text)).toBeLessThanOrEqual(MAX / 2);
  }
});

test('a tiny definition merged with plain code keeps its name', async () => {
  const text = `import { x } from './x.js';\n\nexport function double() {\n  return x * 2;\n}\n`;
  const chunks = await chunk({ path: 'd.ts', text, language: 'typescript' });
  expect(outline(chunks)).toEqual(['1-5 function double']);
});

test('a long function splits by lines into pieces that each fit the budget', async () => {
  const body = Array.from({ length: 300 }, (_, i) => `  total += compute(values[${i}], weights[${i}] * ${i % 7}); // step ${i}`);
  const text = `export function accumulate(values: number[], weights: number[]): number {\n  let total = 0;\n${body.join('\n')}\n  return total;\n}\n`;
  const maxTokens = 200;
  const chunks = await chunk({ path: 'src/accumulate.ts', text, language: 'typescript' }, maxTokens);
  expectPartition(text, chunks);
  expect(chunks.length).toBeGreaterThan(10);
  for (const c of chunks) {
    expect(c.kind).toBe('function');
    expect(c.symbol).toBe('accumulate');
    expect(tokenizer.count(c.text)).toBeLessThanOrEqual(maxTokens);
    expect(tokenizer.count(embeddingText(c))).toBeLessThanOrEqual(maxTokens);
  }
  // Balanced windows: the last piece is not a sliver.
  const sizes = chunks.map((c) => tokenizer.count(c.text));
  expect(Math.min(...sizes)).toBeGreaterThan(Math.max(...sizes) / 3);
});

test('a line longer than the budget is cut by characters', async () => {
  const items = Array.from({ length: 2000 }, (_, i) => `{id:${i},name:"item-${i}",tags:["a${i % 13}","b${i % 7}"]}`);
  const line = `var DATA=[${items.join(',')}];`;
  const text = `// generated\n${line}\nexport default DATA;\n`;
  const chunks = await chunk({ path: 'data.min.js', text, language: 'javascript' }, 128);
  const cut = chunks.filter((c) => c.startLine === 2);
  expect(cut.length).toBeGreaterThan(10);
  expect(cut.map((c) => c.text).join('')).toBe(line);
  for (const c of chunks) {
    expect(c.endLine).toBe(c.startLine === 2 ? 2 : c.endLine);
    expect(tokenizer.count(c.text)).toBeLessThanOrEqual(128);
  }
  // Lines other than the cut one are still covered exactly once.
  expect(outline(chunks.filter((c) => c.startLine !== 2))).toEqual(['1-1 block null', '3-3 block null']);
});

test('markdown splits at headings with heading paths as symbols', async () => {
  const filler = (n: number) => Array.from({ length: n }, (_, i) => `Sentence ${i} explains one more detail of this part of the guide.`).join('\n');
  const text = [
    'Intro text before any heading.',
    '',
    '# Project',
    filler(6),
    '',
    '## Install',
    filler(6),
    '',
    '### From source',
    '```sh',
    '# not a heading: a shell comment in a fence',
    'make install',
    '```',
    filler(4),
    '',
    'Usage',
    '-----',
    filler(6),
    '',
  ].join('\n');
  const chunks = await chunk({ path: 'README.md', text, language: 'markdown' });
  expectPartition(text, chunks);
  expect(outline(chunks)).toEqual([
    '1-1 section null',
    '3-9 section Project',
    '11-17 section Project > Install',
    '19-27 section Project > Install > From source',
    '29-36 section Project > Usage', // setext heading
  ]);
  expect(chunks.every((c) => c.kind === 'section')).toBe(true);
  const fromSource = chunks.find((c) => c.symbol === 'Project > Install > From source')!;
  expect(fromSource.text).toContain('# not a heading');
});

test('tiny markdown subsections fold into their parent; oversize sections split', async () => {
  const text = ['# Guide', 'Short.', '## Tip', 'One line.', '## Long part', ...Array.from({ length: 120 }, (_, i) => `Line ${i} of a very long section body.`)].join('\n');
  const chunks = await chunk({ path: 'docs/guide.md', text, language: 'markdown' }, 128);
  expectPartition(text, chunks);
  expect(chunks[0]).toMatchObject({ symbol: 'Guide', startLine: 1, endLine: 4 });
  const long = chunks.filter((c) => c.symbol === 'Guide > Long part');
  expect(long.length).toBeGreaterThan(3);
  for (const c of chunks) expect(tokenizer.count(c.text)).toBeLessThanOrEqual(128);
});

test('other text files become line windows under the budget', async () => {
  const text = Array.from({ length: 400 }, (_, i) => (i % 25 === 24 ? '' : `key_${i}: value number ${i} # comment ${i}`)).join('\n');
  const chunks = await chunk({ path: 'config.yaml', text, language: 'yaml' }, 96);
  expectPartition(text, chunks);
  expect(chunks.length).toBeGreaterThan(10);
  for (const c of chunks) {
    expect(c.kind).toBe('lines');
    expect(c.symbol).toBeNull();
    expect(tokenizer.count(embeddingText(c))).toBeLessThanOrEqual(96);
  }
  const small = await chunk({ path: 'LICENSE', text: 'MIT License\n\nCopyright (c) someone\n', language: 'text' });
  expect(outline(small)).toEqual(['1-3 lines null']);
});

test('files with syntax errors still chunk, without throwing or logging', async () => {
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  const text = `export class Broken {\n  method( {\n    return ;;; ))\n  }\n\nfunction ok(a: number) {\n  return a + 1;\n}\n<<<<<<< HEAD\nconst x = 1;\n=======\nconst x = 2;\n>>>>>>> branch\n`;
  for (const language of ['typescript', 'python', 'go', 'rust', 'cpp', 'swift']) {
    const chunks = await chunk({ path: `broken.${language}`, text, language });
    expectPartition(text, chunks);
  }
  expect(error).not.toHaveBeenCalled();
  error.mockRestore();
});

test('empty and whitespace-only files give no chunks', async () => {
  for (const language of ['typescript', 'markdown', 'text', 'python']) {
    expect(await chunk({ path: 'empty', text: '', language })).toEqual([]);
    expect(await chunk({ path: 'blank', text: '\n  \n\t\n', language })).toEqual([]);
  }
});

test('CRLF files keep their exact text and line numbers', async () => {
  const sample = SAMPLES.python;
  const text = sample.text.replace(/\n/g, '\r\n');
  const chunks = await chunk({ ...sample, text });
  expectPartition(text, chunks);
  expect(outline(chunks)).toEqual(EXPECTED.python);
});

test('chunking is deterministic, also when files of several languages are chunked concurrently', async () => {
  const samples = Object.values(SAMPLES);
  const sequential: Chunk[][] = [];
  for (const sample of samples) sequential.push(await chunk(sample));
  const concurrent = await Promise.all([...samples, ...samples].map((sample) => chunk(sample)));
  expect(concurrent.slice(0, samples.length)).toEqual(sequential);
  expect(concurrent.slice(samples.length)).toEqual(sequential);
});
