/**
 * `node dist/test/bench/scale-probe.js [--files 20000] [--chunks-per-file 10] [--dims 64] [--dir DIR]`
 *
 * What a re-index costs as the index grows, without paying for a corpus build: writes a tree of small
 * files and fills a store for it directly (every file with `chunks-per-file` chunks, FTS rows and
 * vectors, sizes and times matching the files on disk), then times opening the store, a re-index with
 * nothing changed and a one-file re-index, each split by store method. Vectors are small (`--dims`), so
 * HNSW inserts do not hide the rest; `npm run bench` measures them at 4096 dims. With `--dir` the tree
 * and store are kept and reused.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIndex } from '../../indexer/run/run-index.js';
import { SECRET_RULES_VERSION } from '../../indexer/prepare/secrets/secret-scanner.js';
import { openIndexStore } from '../../indexer/store/sqlite-index-store.js';
import type { ChunkInput } from '../../indexer/store/store-types.js';
import { SYMBOL_TABLE_META, SYMBOL_TABLE_VERSION } from '../../indexer/store/symbol-tables.js';
import { timedStore, type MethodTime } from './bench-store.js';
import { HashedEmbedder } from './hashed-embedder.js';

interface Args {
  files: number;
  perFile: number;
  dims: number;
  dir: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { files: 20_000, perFile: 10, dims: 64, dir: null };
  for (let i = 0; i < argv.length; i++) {
    const value = () => Number(argv[++i]);
    if (argv[i] === '--files') args.files = value();
    else if (argv[i] === '--chunks-per-file') args.perFile = value();
    else if (argv[i] === '--dims') args.dims = value();
    else if (argv[i] === '--dir') args.dir = argv[++i];
    else throw new Error(`scale-probe: unknown argument ${argv[i]}`);
  }
  return args;
}

const log = (line: string) => process.stderr.write(`scale-probe: ${line}\n`);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const WORDS = 'parse render cache token batch vector shard merge split queue retry budget header symbol chunk ledger invoice parcel route socket'.split(' ');

function fileText(n: number, perFile: number): string {
  return Array.from({ length: perFile }, (_, i) => `def f${n}_${i}(x):\n    return x.${WORDS[(n + i) % WORDS.length]}(${i})\n`).join('\n');
}

/** The chunks a file would have (one per function); their text is what FTS and the store hold. */
function chunksOf(path: string, n: number, perFile: number): ChunkInput[] {
  return Array.from({ length: perFile }, (_, i) => {
    const text = `def f${n}_${i}(x):\n    """${WORDS[(n * 7 + i) % WORDS.length]} ${WORDS[(n + 3 * i) % WORDS.length]} step ${n} ${i}"""\n    return x.${WORDS[(n + i) % WORDS.length]}(${i})\n`;
    const embedText = `${path}: f${n}_${i}\n${text}`;
    return { language: 'python', symbol: `f${n}_${i}`, kind: 'function', startLine: 3 * i + 1, endLine: 3 * i + 2, text, textHash: sha(embedText), embedText };
  });
}

async function build(root: string, dataDir: string, args: Args, embedder: HashedEmbedder): Promise<void> {
  const started = performance.now();
  const store = openIndexStore(dataDir);
  store.setModel({ modelId: embedder.modelId, dims: args.dims, distance: 'cosine' });
  for (let n = 0; n < args.files; n++) {
    const path = `d${Math.floor(n / 100)}/m${n}.py`;
    const abs = join(root, path);
    if (n % 100 === 0) mkdirSync(join(root, `d${Math.floor(n / 100)}`), { recursive: true });
    const content = fileText(n, args.perFile);
    writeFileSync(abs, content);
    const info = statSync(abs);
    store.upsertFile({ path, size: info.size, mtimeMs: info.mtimeMs, hash: sha(content), language: 'python' }, chunksOf(path, n, args.perFile));
    if (n % 200 === 199 || n === args.files - 1) {
      const pending = store.pendingTexts();
      store.putVectors(pending.map((p) => ({ textHash: p.textHash, vector: embedder.vectors.vector(p.embedText) })));
      store.flushVectorIndex({ periodic: true });
      if (n % 2000 === 1999) log(`built ${n + 1} files in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
  }
  // Every file counts as read with today's secret rules and symbol table, as after a real index.
  store.setMeta('secret_rules', SECRET_RULES_VERSION);
  store.setMeta(SYMBOL_TABLE_META, SYMBOL_TABLE_VERSION);
  store.flushVectorIndex({ force: true });
  store.close();
}

const round = (ms: number) => Math.round(ms * 10) / 10;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const work = args.dir ?? mkdtempSync(join(tmpdir(), 'codecarto-scale-'));
  const root = join(work, 'tree');
  const dataDir = join(work, 'index');
  const embedder = new HashedEmbedder({ dims: args.dims });
  try {
    if (!existsSync(join(dataDir, 'index.db'))) {
      mkdirSync(root, { recursive: true });
      await build(root, dataDir, args, embedder);
    }
    // Settle: a kept store may need a migration, and a kept tree has the last probe's edit undone.
    const settle = openIndexStore(dataDir);
    await runIndex({ root, store: settle, embedder });
    settle.close();
    const loadAtStart = loadavg()[0];
    let t = performance.now();
    const base = openIndexStore(dataDir);
    const openMs = performance.now() - t;
    const counts = base.counts();
    const times = new Map<string, MethodTime>();
    const store = timedStore(base, times);
    const runs: { kind: string; s: number; store_ms: Record<string, number> }[] = [];
    const edited = join(root, 'd0', 'm0.py');
    const original = readFileSync(edited, 'utf8');
    // 'one file' is the edit handed over as the watcher does (changedPaths); 'one file walked' finds it by a walk.
    const kinds = ['no change', 'no change', 'no change', 'one file', 'one file', 'one file', 'one file walked', 'one file walked', 'one file walked'];
    for (const kind of kinds) {
      if (kind.startsWith('one file')) appendFileSync(edited, `\ndef edit_${runs.length}(x):\n    return x.route(${runs.length})\n`);
      times.clear();
      t = performance.now();
      const summary = await runIndex({ root, store, embedder, changedPaths: kind === 'one file' ? ['d0/m0.py'] : null });
      const s = (performance.now() - t) / 1000;
      if (summary.state !== 'done') throw new Error(`scale-probe: ${kind} re-index ${summary.state}: ${summary.error ?? ''}`);
      const changed = summary.files_changed + summary.files_added;
      if (changed !== (kind.startsWith('one file') ? 1 : 0)) throw new Error(`scale-probe: ${kind} re-index changed ${changed} files`);
      runs.push({ kind, s: Math.round(s * 1000) / 1000, store_ms: Object.fromEntries([...times].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => [k, round(v.ms)])) });
      log(`${kind}: ${s.toFixed(3)} s`);
    }
    writeFileSync(edited, original);
    base.close();
    process.stdout.write(
      `${JSON.stringify({ files: counts.files, chunks: counts.chunks, dims: args.dims, open_ms: round(openMs), loadavg_1m: [loadAtStart, loadavg()[0]].map((x) => Math.round(x * 10) / 10), runs })}\n`,
    );
  } finally {
    await embedder.close();
    if (!args.dir) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
