import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IndexJob } from '../indexer/run/index-job.js';
import { startingProgress, type IndexProgress } from '../indexer/run/index-progress.js';
import { emptySummary } from '../indexer/run/index-summary.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { IndexStore } from '../indexer/store/store-types.js';
import { DgxEmbedder } from '../models/dgx-embedder.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import { seededRandom } from '../models/seeded-random.js';
import { formatClock, PLAIN_EVERY_MS, ProgressDisplay, ProgressLine } from '../src/progress-line.js';
import { FakeEmbeddingServer, wordTokenizer } from './helpers/fake-embedding-server.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

const T0 = 1_700_000_000_000;

function progress(fields: Partial<IndexProgress>): IndexProgress {
  return { ...startingProgress(true), ...fields };
}

/** The number of '#' in a bar line. */
function filled(line: string): number {
  return /\[(#*)-*\]/.exec(line)?.[1]?.length ?? 0;
}

describe('ProgressLine', () => {
  it('never moves the bar backwards while totals grow, and never goes back a phase (bug: the bar shrank as chunks were queued)', () => {
    const random = seededRandom(7);
    const line = new ProgressLine(T0);
    let files = { done: 0, total: 40 };
    let chunks = { done: 0, total: 0 };
    let last = { phase: 'reading', filled: 0 };
    for (let step = 0; step < 400; step++) {
      const phase = step < 200 ? 'reading' : 'embedding';
      // Work moves forward, totals jump ahead of it (more files found, more texts queued).
      files = { done: Math.min(files.done + Math.floor(random() * 3), files.total), total: files.total + (random() < 0.2 ? 30 : 0) };
      chunks = { done: Math.min(chunks.done + Math.floor(random() * 20), chunks.total), total: chunks.total + Math.floor(random() * 40) };
      const text = line.render(
        progress({ phase, files_done: files.done, files_total: files.total, chunks_embedded: chunks.done, chunks_to_embed: chunks.total }),
        T0 + step * 100,
        'bar',
      );
      expect(text.startsWith(phase === 'reading' ? 'reading files [' : 'embedding [')).toBe(true);
      if (phase === last.phase) expect(filled(text)).toBeGreaterThanOrEqual(last.filled);
      last = { phase, filled: filled(text) };
    }
    // A late event from an earlier phase does not take the display back to it.
    const late = line.render(progress({ phase: 'reading', files_done: 1, files_total: 500, chunks_embedded: 10, chunks_to_embed: 10_000 }), T0 + 60_000, 'bar');
    expect(late).toMatch(/^embedding \[/);
    expect(filled(late)).toBeGreaterThanOrEqual(last.filled);
    // In plain words the percentage holds still the same way.
    const plain = new ProgressLine(T0);
    expect(plain.render(progress({ files_done: 50, files_total: 100 }), T0, 'plain')).toContain('50/100 files (50%)');
    expect(plain.render(progress({ files_done: 50, files_total: 200 }), T0, 'plain')).toContain('50/200 files (50%)');
    expect(plain.render(progress({ files_done: 160, files_total: 200 }), T0, 'plain')).toContain('160/200 files (80%)');
  });

  it('means something with provider none: files read, not "0/0 chunks embedded" (bug: the bar stayed empty)', () => {
    const line = new ProgressLine(T0);
    const counting = line.render({ ...startingProgress(false), files_done: 12 }, T0 + 2_000, 'bar');
    expect(counting).toBe('reading files 12 files | 0:02');
    const known = line.render({ ...startingProgress(false), files_done: 30, files_total: 60 }, T0 + 3_000, 'bar');
    expect(known).toBe(`reading files [${'#'.repeat(12)}${'-'.repeat(12)}] 30/60 files | 0:03`);
    expect(known).not.toMatch(/chunk/);
  });

  it('says what it waits for and for how long, on a clock of its own', () => {
    const line = new ProgressLine(T0);
    const waiting = progress({
      phase: 'embedding',
      chunks_embedded: 96,
      chunks_to_embed: 480,
      waiting: { what: 'http://127.0.0.1:9/embed (ECONNREFUSED, retrying)', since: T0 + 10_000 },
    });
    expect(line.render(waiting, T0 + 52_000, 'bar')).toBe(
      `embedding [${'#'.repeat(5)}${'-'.repeat(19)}] 96/480 chunks | 0:52 | waiting 0:42 for http://127.0.0.1:9/embed (ECONNREFUSED, retrying)`,
    );
    expect(line.render(waiting, T0 + 3_723_000, 'plain')).toBe(
      'indexing: embedding 96/480 chunks (20%), 1:02:03 elapsed; waiting 1:01:53 for http://127.0.0.1:9/embed (ECONNREFUSED, retrying)',
    );
    expect(formatClock(59_999)).toBe('0:59');
  });
});

describe('ProgressDisplay', () => {
  /** A display on a fake stream, with the clock and the timer in the test's hands. */
  function display(isTTY: boolean, read: () => IndexProgress) {
    const writes: string[] = [];
    let now = T0;
    let tick: (() => void) | null = null;
    const shown = new ProgressDisplay({
      out: { isTTY, columns: 200, write: (text: string) => writes.push(text) },
      startedAt: T0,
      read,
      now: () => now,
      every: (ms, fn) => {
        expect(ms).toBe(1_000);
        tick = fn;
        return () => (tick = null);
      },
    });
    return {
      shown,
      writes,
      /** Advances the clock by `ms` in one-second ticks, with progress events between ticks or none. */
      advance(ms: number, events: boolean) {
        for (let t = 0; t < ms; t += 1_000) {
          now += 1_000;
          if (events) shown.changed();
          tick?.();
        }
      },
      ticking: () => tick !== null,
    };
  }

  it('without a terminal: one plain line every few seconds, then a final line', () => {
    let files = 0;
    const d = display(false, () => progress({ files_done: (files += 7), files_total: null }));
    d.shown.start();
    d.advance(12_000, true);
    expect(PLAIN_EVERY_MS).toBe(5_000);
    expect(d.writes).toEqual([
      'indexing: reading files 7 files, 0:00 elapsed\n',
      'indexing: reading files 14 files, 0:05 elapsed\n',
      'indexing: reading files 21 files, 0:10 elapsed\n',
    ]);
    d.shown.finish({ ...emptySummary(), state: 'done', files_scanned: 90, chunks_embedded: 300 });
    expect(d.writes.at(-1)).toBe('indexing: done in 0:12: 90 files read, 300 chunks embedded\n');
    expect(d.ticking()).toBe(false);
    expect(d.writes.join('')).not.toContain('\r');
  });

  it('on a terminal: redraws every second without events, so the clock runs while an endpoint is retried', () => {
    const stuck = progress({ phase: 'embedding', chunks_embedded: 10, chunks_to_embed: 100, waiting: { what: 'http://dgx/embed (ECONNREFUSED, retrying)', since: T0 } });
    const d = display(true, () => stuck);
    d.shown.start();
    d.advance(3_000, false);
    const frames = d.writes.filter((w) => w.startsWith('\r'));
    expect(frames.map((f) => /\| (\d:\d\d) \| waiting (\d:\d\d)/.exec(f)?.slice(1))).toEqual([
      ['0:00', '0:00'],
      ['0:01', '0:01'],
      ['0:02', '0:02'],
      ['0:03', '0:03'],
    ]);
    d.shown.above('[codecarto] a log line');
    expect(d.writes.slice(-2)).toEqual(['\r[codecarto] a log line\x1b[K\n', expect.stringMatching(/^\rembedding \[/)]);
    d.shown.finish({ ...emptySummary(), state: 'failed', error: 'x' });
    expect(d.writes.at(-1)).toBe('\rindexing: failed after 0:03\x1b[K\n');
  });
});

describe('index progress from a real run', () => {
  const servers: FakeEmbeddingServer[] = [];
  const stores: IndexStore[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) store.close();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  function repo(files: number): string {
    const dir = join(tempDir('progress-repo'), 'repo');
    mkdirSync(join(dir, 'src'), { recursive: true });
    for (let i = 0; i < files; i++) writeFileSync(join(dir, 'src', `m${i}.py`), `def handler_${i}(request):\n    return respond(request, ${i})\n`);
    return dir;
  }

  it('an endpoint refusing connections shows as a wait naming it, cleared when it answers again', async () => {
    const server = await FakeEmbeddingServer.start({ dims: 16 });
    servers.push(server);
    const embedder = new DgxEmbedder({ endpoint: server.endpoint, tokenizer: wordTokenizer, backoff: { initialMs: 50, maxMs: 200, factor: 2 }, retryWindowMs: 30_000 });
    const store = openIndexStore(tempDir('progress-data'));
    stores.push(store);
    await server.refuseFor(1_500);
    const job = new IndexJob({ root: repo(12), store, embedder, full: false, log: () => {} });
    const seen: IndexProgress[] = [];
    job.onProgress((_summary, p) => seen.push({ ...p }));
    const summary = await job.done;
    await embedder.close();
    expect(summary.state).toBe('done');
    const waits = seen.filter((p) => p.waiting);
    expect(waits.length).toBeGreaterThan(0);
    expect(waits[0]!.waiting!.what).toBe(`${server.endpoint} (ECONNREFUSED, retrying)`);
    expect(seen.at(-1)!.waiting).toBeNull();
    expect(seen.map((p) => p.phase)).toContain('embedding');
    expect(job.progress).toMatchObject({ phase: 'finished', files_done: 12, files_total: 12, chunks_embedded: 12, chunks_to_embed: 12, waiting: null });
  });

  it('provider none: files done out of files found, no embedding phase', async () => {
    const store = openIndexStore(tempDir('progress-none'));
    stores.push(store);
    const job = new IndexJob({ root: repo(30), store, embedder: new NoneEmbedder(), full: false, log: () => {}, prepareWorkers: 0 });
    const seen: IndexProgress[] = [];
    job.onProgress((_summary, p) => seen.push({ ...p }));
    await job.done;
    expect(seen.every((p) => p.phase === 'reading' && !p.embeds)).toBe(true);
    const done = seen.map((p) => p.files_done);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(seen.at(-1)).toMatchObject({ files_done: 30, files_total: 30 });
    expect(job.progress.phase).toBe('finished');
  });

  it('`codecarto index` with stderr piped (not a terminal) prints plain progress lines and a final line', () => {
    const dir = repo(40);
    const env: NodeJS.ProcessEnv = { ...process.env, CODECARTO_HOME: tempDir('progress-home') };
    delete env.CODECARTO_PROVIDER;
    delete env.CODECARTO_PROJECT;
    const run = spawnSync(process.execPath, [cliPath, 'index', dir, '--provider', 'none'], { env, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    const lines = run.stderr.split('\n');
    expect(lines[0]).toBe(`project: ${dir}`);
    expect(lines.find((l) => l.startsWith('indexing: reading files'))).toMatch(/^indexing: reading files (\d+|\d+\/40) files( \(\d+%\))?, 0:\d\d elapsed$/);
    expect(lines).toContainEqual(expect.stringMatching(/^indexing: done in 0:\d\d: 40 files read$/));
    expect(run.stderr).not.toMatch(/\r|\x1b\[/);
  });
});
