import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runIndex } from '../indexer/run/run-index.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { ChunkRow, IndexStore } from '../indexer/store/store-types.js';
import { loadMistralTokenizer } from '../models/hf-tokenizer.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { loadConfig } from '../src/config.js';
import { connectInProcess } from './helpers/in-process.js';
import { copyThirdPartyTree, tempDir } from './helpers/stdio-client.js';

/** hnswlib-node (C++, JavaScript, TypeScript declarations, Markdown, a compiled addon) plus files the reader must skip. */
function makeRepo(): string {
  const repo = copyThirdPartyTree('hnswlib-node', 'prep');
  writeFileSync(join(repo, 'blob.ts'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256)));
  writeFileSync(join(repo, 'bundle.js'), 'var a=1;'.repeat(4000));
  writeFileSync(join(repo, 'tool.py'), 'class Tool:\n    def run(self, items):\n        return [i * 2 for i in items]\n');
  return repo;
}

function allChunks(store: IndexStore): ChunkRow[] {
  const n = store.counts().chunks;
  return store.getChunks(Array.from({ length: n + 100 }, (_, i) => i + 1)).sort((a, b) => a.id - b.id);
}

async function indexWith(repo: string, options: { prepareWorkers?: number; workersAfterFiles?: number; tokenizer?: TextTokenizer }, store = openIndexStore(tempDir('prep-data'))) {
  const logs: string[] = [];
  const summary = await runIndex({ root: repo, store, embedder: new NoneEmbedder({ tokenizer: options.tokenizer }), log: (l) => logs.push(l), ...options });
  return { store, summary, logs, chunks: allChunks(store), files: store.listFiles() };
}

const startedWorkers = (logs: string[]) => logs.some((l) => l.startsWith('index: preparing files on'));
describe('file preparation on worker threads', () => {
  it('a fresh index prepares on a worker and stores exactly what the main thread stores, in walk order', async () => {
    const repo = makeRepo();
    const onMain = await indexWith(repo, { prepareWorkers: 0 });
    const onWorker = await indexWith(repo, { prepareWorkers: 1 });
    expect(startedWorkers(onMain.logs)).toBe(false);
    expect(onWorker.logs).toContain('index: preparing files on 1 worker thread');
    expect(onMain.chunks.length).toBeGreaterThan(100);
    // Same rows, same ids: chunk ids follow walk order whichever thread chunked the files.
    expect(onWorker.chunks).toEqual(onMain.chunks);
    expect(onWorker.files).toEqual(onMain.files);
    const { seconds: a, ...mainSummary } = onMain.summary;
    const { seconds: b, ...workerSummary } = onWorker.summary;
    expect(a + b).toBeGreaterThan(0);
    expect(workerSummary).toEqual(mainSummary);
    expect(mainSummary.files_skipped).toMatchObject({ binary: 1, minified: 1 });
    onMain.store.close();
    onWorker.store.close();
  }, 120_000);

  it('an incremental run starts workers only past a number of changed files', async () => {
    const repo = makeRepo();
    const first = await indexWith(repo, {});
    expect(startedWorkers(first.logs)).toBe(true);

    // One edited file (and the two skipped ones, which are read again each run): on the main thread.
    writeFileSync(join(repo, 'tool.py'), 'def only_change():\n    return 1\n');
    const one = await indexWith(repo, { workersAfterFiles: 4 }, first.store);
    expect(one.summary).toMatchObject({ state: 'done', files_changed: 1 });
    expect(startedWorkers(one.logs)).toBe(false);

    // Past the threshold the rest goes to a worker, and the result is what a main-thread run gives.
    for (let i = 0; i < 6; i++) writeFileSync(join(repo, `added${i}.py`), `def added_function_${i}():\n    return ${i}\n`);
    const many = await indexWith(repo, { workersAfterFiles: 4 }, first.store);
    expect(many.summary).toMatchObject({ state: 'done', files_added: 6 });
    expect(startedWorkers(many.logs)).toBe(true);
    const reference = await indexWith(repo, { prepareWorkers: 0 });
    const shape = (rows: ChunkRow[]) => rows.map(({ id: _id, ...row }) => row).sort((x, y) => `${x.path}:${x.startLine}`.localeCompare(`${y.path}:${y.startLine}`));
    expect(shape(many.chunks)).toEqual(shape(reference.chunks));
    first.store.close();
    reference.store.close();
  }, 120_000);

  it('a worker that cannot start hands its files back to the main thread and nothing is lost', async () => {
    const repo = makeRepo();
    const mistral = loadMistralTokenizer();
    // The worker loads the tokenizer from `files` and refuses to count with one whose id differs.
    const mislabelled: TextTokenizer = { id: 'sha256:0000000000000000', files: mistral.files, encode: (t) => mistral.encode(t), count: (t) => mistral.count(t) };
    const broken = await indexWith(repo, { prepareWorkers: 1, tokenizer: mislabelled });
    const reference = await indexWith(repo, { prepareWorkers: 0 });
    expect(broken.logs.some((l) => /a file preparation worker stopped \(.*tokenizer sha256:[0-9a-f]+, the indexer uses sha256:0{16}/.test(l))).toBe(true);
    expect(broken.summary.state).toBe('done');
    expect(broken.chunks).toEqual(reference.chunks);
    broken.store.close();
    reference.store.close();
  }, 120_000);
});

describe('CODECARTO_INDEX_WORKERS', () => {
  it('is checked at start and sets the worker threads of the server\'s index runs', async () => {
    expect(loadConfig({ CODECARTO_INDEX_WORKERS: '0' }).indexWorkers).toBe(0);
    expect(loadConfig({ CODECARTO_INDEX_WORKERS: '3' }).indexWorkers).toBe(3);
    expect(loadConfig({}).indexWorkers).toBeUndefined();
    for (const bad of ['two', '-1', '1.5', '99']) {
      expect(() => loadConfig({ CODECARTO_INDEX_WORKERS: bad })).toThrow(/CODECARTO_INDEX_WORKERS must be a whole number from 0 to 16/);
    }

    const repo = makeRepo();
    for (const [env, expected] of [[{ CODECARTO_INDEX_WORKERS: '0' }, false], [{}, true]] as const) {
      const logs: string[] = [];
      const session = await connectInProcess({ ...loadConfig(env), home: tempDir('workers-home'), project: undefined, watch: 'off' }, { log: (l) => logs.push(l) });
      expect((await session.call('set_project', { path: repo, provider: 'none' })).isError).toBeFalsy();
      const indexed = await session.call('index', { wait_seconds: 120 });
      expect(indexed.structuredContent.state).toBe('done');
      expect(logs.some((l) => l.includes('preparing files on'))).toBe(expected);
      await session.close();
    }
  }, 120_000);
});
