import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexSummary } from '../indexer/run/index-summary.js';
import { runIndex } from '../indexer/run/run-index.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { createEmbedder } from '../models/create-embedder.js';
import { DgxEmbedder } from '../models/dgx-embedder.js';
import type { Embedder } from '../models/embedder.js';
import { makeTestModel } from '../models/test-model.js';
import { formatSummary } from '../tools/index-project.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { connectInProcess, type InProcessSession, type Structured } from './helpers/in-process.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

/**
 * Issue 15.8: the index summary accounts for every chunk. Before, chunks whose text was identical to
 * another chunk embedded in the same run were counted nowhere ("10217 embedded, 9 reused" of 10,756).
 * The oracle here is the index's own SQLite file, read before and after each run.
 */

const TERMS = ['chunks_embedded', 'chunks_shared', 'chunks_reused', 'chunks_unchanged', 'chunks_unembedded'] as const;
const TEXT_LABELS: Record<string, (typeof TERMS)[number]> = {
  embedded: 'chunks_embedded',
  shared: 'chunks_shared',
  reused: 'chunks_reused',
  unchanged: 'chunks_unchanged',
  without: 'chunks_unembedded',
};

/** The identity, in the structured summary and in the text line "Chunks: N in the index = a embedded + b shared ...; d deleted." */
function expectAccountedFor(summary: Structured, text: string): void {
  expect(TERMS.reduce((sum, key) => sum + summary[key], 0)).toBe(summary.chunks_total);
  const line = /^Chunks: (\d+) in the index = (.+?); (\d+) deleted/m.exec(text);
  expect(line, text).not.toBeNull();
  expect(Number(line![1])).toBe(summary.chunks_total);
  expect(Number(line![3])).toBe(summary.chunks_deleted);
  const fromText = Object.fromEntries(TERMS.map((key) => [key, 0]));
  if (line![2] !== '0') {
    for (const term of line![2].split(' + ')) {
      const [, n, label] = /^(\d+) (\w+)/.exec(term)!;
      fromText[TEXT_LABELS[label]] += Number(n);
    }
  }
  expect(fromText).toEqual(Object.fromEntries(TERMS.map((key) => [key, summary[key]])));
}

/** path -> text hashes of its chunks, and which texts have a vector, read from the index's SQLite file. */
function snapshot(home: string): { chunks: Map<string, string[]>; withVector: Set<string> } {
  const projects = join(home, 'projects');
  const [dir] = readdirSync(projects).filter((d) => readdirSync(join(projects, d)).includes('index.db'));
  const db = new Database(join(projects, dir, 'index.db'), { readonly: true });
  try {
    const chunks = new Map<string, string[]>();
    for (const row of db.prepare('SELECT f.path AS path, c.text_hash AS hash FROM chunks c JOIN files f ON f.id = c.file_id ORDER BY c.id').all() as { path: string; hash: string }[]) {
      chunks.set(row.path, [...(chunks.get(row.path) ?? []), row.hash]);
    }
    const withVector = new Set((db.prepare('SELECT text_hash FROM vectors').pluck().all() as string[]));
    return { chunks, withVector };
  } finally {
    db.close();
  }
}

/**
 * What the summary must say, worked out per chunk from the index before and after the run: chunks of
 * rewritten files are reused (vector from before), embedded (first of a new text) or shared (the rest);
 * the others are unchanged. Without vectors, rewritten files' chunks are unembedded.
 */
function expectedCounts(before: ReturnType<typeof snapshot>, after: ReturnType<typeof snapshot>, rewritten: string[], vectors: boolean) {
  const counts = { chunks_total: 0, chunks_embedded: 0, chunks_shared: 0, chunks_reused: 0, chunks_unchanged: 0, chunks_unembedded: 0 };
  const firstSeen = new Set<string>();
  for (const [path, hashes] of after.chunks) {
    counts.chunks_total += hashes.length;
    if (!rewritten.includes(path)) {
      counts.chunks_unchanged += hashes.length;
      continue;
    }
    for (const hash of hashes) {
      if (!vectors) counts.chunks_unembedded++;
      else if (before.withVector.has(hash)) counts.chunks_reused++;
      else if (firstSeen.has(hash)) counts.chunks_shared++;
      else {
        firstSeen.add(hash);
        counts.chunks_embedded++;
      }
    }
  }
  return counts;
}

// Big enough that each function is a chunk of its own.
const fn = (name: string, salt: string) =>
  `export function ${name}(values: number[], limit: number): number[] {\n` +
  `  // ${salt}\n` +
  Array.from({ length: 14 }, (_, i) => `  const step${i} = values.map((v) => v * ${i + 1} + limit - ${salt.length + i});\n`).join('') +
  `  return values.filter((v) => v < limit).concat(step0, step13);\n}\n`;

function makeRepo(): string {
  const repo = join(tempDir('acct'), 'repo');
  mkdirSync(join(repo, 'src'), { recursive: true });
  writeFileSync(join(repo, 'src', 'shapes.ts'), [fn('scaleValues', 'shapes one'), fn('clampValues', 'shapes two'), fn('shiftValues', 'shapes three')].join('\n'));
  // Two identical files, and one function repeated word for word inside another file.
  copyFileSync(join(repo, 'src', 'shapes.ts'), join(repo, 'src', 'shapes-copy.ts'));
  writeFileSync(join(repo, 'src', 'twice.ts'), [fn('repeatedHelper', 'same'), fn('uniqueHelper', 'twice only'), fn('repeatedHelper', 'same')].join('\n'));
  writeFileSync(join(repo, 'src', 'other.ts'), fn('otherValues', 'other v1'));
  return repo;
}

/**
 * Run 2: a changed file that keeps one function (reused) and repeats a new one (shared), an added copy and
 * two identical new files (embedded each: a vector's key includes its file's path), a removed file.
 */
function editRepo(repo: string): string[] {
  writeFileSync(join(repo, 'src', 'other.ts'), [fn('otherValues', 'other v1'), fn('otherValues', 'other v2'), fn('otherValues', 'other v2')].join('\n'));
  copyFileSync(join(repo, 'src', 'shapes.ts'), join(repo, 'src', 'shapes-third.ts'));
  mkdirSync(join(repo, 'fresh'), { recursive: true });
  writeFileSync(join(repo, 'fresh', 'a.ts'), fn('freshValues', 'fresh'));
  writeFileSync(join(repo, 'fresh', 'b.ts'), fn('freshValues', 'fresh'));
  rmSync(join(repo, 'src', 'shapes-copy.ts'));
  return ['src/other.ts', 'src/shapes-third.ts', 'fresh/a.ts', 'fresh/b.ts'];
}

for (const provider of ['none', 'onnx'] as const) {
  describe(`index summary chunk accounting, provider ${provider}`, () => {
    let session: InProcessSession;
    let home: string;
    let repo: string;
    let modelDir: string;
    /** Passage texts the model was asked to embed. */
    const sent: string[] = [];

    beforeAll(async () => {
      home = tempDir('home');
      repo = makeRepo();
      modelDir = join(tempDir('model'), 'tiny');
      if (provider === 'onnx') await makeTestModel(modelDir, { hidden: 16, dims: 64 });
      session = await connectInProcess(
        { home, watch: 'off' },
        {
          createEmbedder: async (settings, log) => countingPassages(await createEmbedder(settings, log, { ...process.env, CODECARTO_HOME: home }), sent),
        },
      );
      const set = await session.call('set_project', { path: repo, provider, ...(provider === 'onnx' ? { model: modelDir, device: 'cpu' } : {}) });
      expect(set.isError, set.content[0].text).toBeFalsy();
    });
    afterAll(async () => {
      await session?.close();
    });

    const index = async () => {
      const result = await session.call('index', { wait_seconds: 60 });
      expect(result.isError, result.content[0].text).toBeFalsy();
      expect(result.structuredContent.state).toBe('done');
      return result;
    };

    it('first run: identical functions in one file share one vector and are counted as shared', async () => {
      const before = { chunks: new Map(), withVector: new Set<string>() };
      const { structuredContent: s, content } = await index();
      const after = snapshot(home);
      expectAccountedFor(s, content[0].text);
      expect(s).toMatchObject(expectedCounts(before, after, [...after.chunks.keys()], provider === 'onnx'));
      if (provider === 'onnx') {
        // The repeated function in twice.ts; the copy of shapes.ts has its own path in its header, so its own vectors.
        expect(s.chunks_shared).toBeGreaterThanOrEqual(1);
        expect(s.chunks_embedded).toBe(sent.length);
        expect(content[0].text).toMatch(/\d+ shared \(identical text embedded once in this run\)/);
      } else {
        expect(s).toMatchObject({ chunks_embedded: 0, chunks_shared: 0, chunks_reused: 0, chunks_unchanged: 0, chunks_unembedded: s.chunks_total });
      }
    });

    it('incremental run: unchanged, reused, newly embedded and shared chunks add up to the total', async () => {
      const before = snapshot(home);
      const sentBefore = sent.length;
      const rewritten = editRepo(repo);
      const { structuredContent: s, content } = await index();
      const after = snapshot(home);
      expectAccountedFor(s, content[0].text);
      expect(s).toMatchObject({ files_added: 3, files_changed: 1, files_removed: 1 });
      expect(s.chunks_deleted).toBe(before.chunks.get('src/shapes-copy.ts')!.length);
      const expected = expectedCounts(before, after, rewritten, provider === 'onnx');
      expect(s).toMatchObject(expected);
      expect(s.chunks_unchanged).toBeGreaterThan(0);
      if (provider === 'onnx') {
        expect(s.chunks_embedded).toBe(sent.length - sentBefore);
        expect(s.chunks_reused).toBeGreaterThanOrEqual(1); // other.ts kept its first function
        expect(s.chunks_shared).toBeGreaterThanOrEqual(1); // the repeated new function in other.ts
      } else {
        expect(s.chunks_unembedded).toBeGreaterThan(0);
      }
    });

    it('a run with no change counts every chunk as unchanged', async () => {
      const { structuredContent: s, content } = await index();
      expectAccountedFor(s, content[0].text);
      expect(s).toMatchObject({ chunks_embedded: 0, chunks_shared: 0, chunks_reused: 0, chunks_unembedded: 0, chunks_unchanged: s.chunks_total });
    });

    it('the outputSchema declares and describes the new counts', async () => {
      const { tools } = await session.client.listTools();
      const schema = tools.find((t) => t.name === 'index')!.outputSchema as { properties: Record<string, { description?: string }>; required?: string[] };
      for (const key of ['chunks_shared', 'chunks_unchanged', 'chunks_unembedded']) {
        expect(schema.properties[key].description!.length).toBeGreaterThan(20);
        expect(schema.required).toContain(key);
      }
      expect(schema.properties.chunks_total.description).toMatch(/embedded \+ shared \+ reused \+ unchanged \+ unembedded/);
    });

    it('codecarto index prints the same accounting, in --json and in text', () => {
      const cliRepo = makeRepo();
      const cliHome = tempDir('cli-home');
      const flags = ['--provider', provider, ...(provider === 'onnx' ? ['--model', modelDir, '--device', 'cpu'] : [])];
      const env: NodeJS.ProcessEnv = { ...process.env, CODECARTO_HOME: cliHome, CODECARTO_WATCH: '0' };
      delete env.CODECARTO_PROVIDER;
      delete env.CODECARTO_PROJECT;
      const cli = (args: string[]) => {
        const run = spawnSync(process.execPath, [cliPath, 'index', cliRepo, ...flags, ...args], { env, encoding: 'utf8', timeout: 120_000 });
        expect(run.status, run.stderr).toBe(0);
        return run.stdout;
      };
      const json = JSON.parse(cli(['--json'])) as Structured;
      expect(json.chunks_shared).toBe(provider === 'onnx' ? json.chunks_total - json.chunks_embedded : 0);
      expectAccountedFor(json, formatSummary(json as IndexSummary));
      editRepo(cliRepo);
      const text = cli([]);
      const line = /^Chunks: (\d+) in the index = /m.exec(text);
      expect(line, text).not.toBeNull();
      const terms = [...text.split('\n').find((l) => l.startsWith('Chunks:'))!.split(' = ')[1].split(';')[0].matchAll(/(\d+) /g)].map((m) => Number(m[1]));
      expect(terms.reduce((a, b) => a + b, 0)).toBe(Number(line![1]));
    });
  });
}

describe('chunk accounting when a run fails and when the model changes', () => {
  it('a failed run counts the chunks it did not reach as unembedded, and the next run as embedded or shared', async () => {
    const server = await FakeEmbeddingServer.start({ dims: 64, stallMs: 50 });
    const repo = join(tempDir('acct-fail'), 'repo');
    mkdirSync(repo, { recursive: true });
    for (let i = 0; i < 30; i++) writeFileSync(join(repo, `f${i}.py`), `def function_${i % 20}(x):\n    return x * ${i % 20} + ${(i % 20) * 7}\n`);
    const store = openIndexStore(tempDir('acct-fail-data'));
    const embedder = new DgxEmbedder({ endpoint: server.endpoint, batchSize: 4, maxParallelCalls: 1, retryWindowMs: 300, backoff: { initialMs: 20, maxMs: 50, factor: 2 } });
    const again = await FakeEmbeddingServer.start({ dims: 64 });
    const next = new DgxEmbedder({ endpoint: again.endpoint, batchSize: 4 });
    const other = new DgxEmbedder({ endpoint: again.endpoint, batchSize: 4, model: 'another/model' });
    try {
      let stopped = false;
      const failed = await runIndex({
        root: repo,
        store,
        embedder,
        onProgress: (s) => {
          if (!stopped && s.chunks_embedded >= 8) {
            stopped = true;
            void server.refuseFor(60_000);
          }
        },
      });
      expect(failed.state).toBe('failed');
      expectAccountedFor(failed as unknown as Structured, formatSummary(failed));
      expect(failed.chunks_unembedded).toBe(store.counts().chunks - store.counts().chunksWithVectors);
      expect(failed.chunks_unembedded).toBeGreaterThan(0);
      // 30 files, 30 distinct embedding texts: files 20-29 repeat the code of files 0-9 under their own paths.
      expect(failed.chunks_total).toBe(30);

      // Nothing changed on disk: the texts the failed run left are embedded now, in files this run does not rewrite.
      const resumed = await runIndex({ root: repo, store, embedder: next });
      expect(resumed.state).toBe('done');
      expectAccountedFor(resumed as unknown as Structured, formatSummary(resumed));
      expect(resumed.chunks_embedded).toBe(again.requests.flatMap((r) => r.texts).length);
      expect(resumed.chunks_embedded + failed.chunks_embedded).toBe(30);
      expect(resumed.chunks_unchanged).toBe(30 - failed.chunks_unembedded);

      // Another model: every vector is recomputed, so no chunk keeps an old one.
      const changed: IndexSummary = await runIndex({ root: repo, store, embedder: other });
      expectAccountedFor(changed as unknown as Structured, formatSummary(changed));
      expect(changed).toMatchObject({ chunks_embedded: 30, chunks_shared: 0, chunks_reused: 0, chunks_unchanged: 0, chunks_unembedded: 0 });
    } finally {
      store.close();
      await Promise.all([embedder.close(), next.close(), other.close()]);
      await server.close();
      await again.close();
    }
  });
});

/** The real embedder, with the passage texts it is asked to embed recorded. */
function countingPassages(embedder: Embedder, sent: string[]): Embedder {
  return new Proxy(embedder, {
    get(target, prop) {
      if (prop === 'embed') {
        return (request: Parameters<Embedder['embed']>[0]) => {
          if (request.purpose === 'passage') sent.push(...request.texts);
          return target.embed(request);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
