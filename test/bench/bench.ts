/**
 * `npm run bench [-- --json] [-- --corpus <dir>] [-- --grid] [-- --skip onnx,...] [-- --hnsw M,efC,ef] [-- --sizes 10k,50k,200k]`
 *
 * Measures the CPU side of codecarto on real code (docs/performance.md explains every figure):
 * one index build with a near-zero-cost 4096-dim embedder (the pipeline), then search latency, HNSW
 * recall, one-file re-index and memory on that index, and a second build with the generated ONNX test
 * model. With `--sizes`, one index grows through each size (real code, then renamed copies of it) and
 * the figures are measured at each, with their growth from the smallest to the largest.
 * Progress goes to stderr; the report to stdout, with `--json` ending in one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fixedBatches, padFactor, planBatches } from '../../indexer/run/batch-planner.js';
import { embeddingText, type Chunk } from '../../indexer/chunk/chunk.js';
import { chunkFile } from '../../indexer/chunk/chunk-file.js';
import { readSourceFile } from '../../indexer/prepare/file-reader.js';
import { languageForPath } from '../../indexer/chunk/languages.js';
import { walkRepository, WalkStats } from '../../indexer/walk/walker.js';
import { runIndex } from '../../indexer/run/run-index.js';
import type { IndexSummary } from '../../indexer/run/index-summary.js';
import { candidateDepth, search } from '../../indexer/search/search.js';
import { INDEX_DB_FILE, openIndexStore } from '../../indexer/store/sqlite-index-store.js';
import { decodeVector, EMBED_TEXT, SqliteStore } from '../../indexer/store/sqlite-store.js';
import type { ChunkInput, ChunkRow, IndexStore } from '../../indexer/store/store-types.js';
import { DEFAULT_HNSW_PARAMS, efForPoints, VectorIndex, type HnswParams } from '../../indexer/store/vector-index.js';
import { loadMistralTokenizer } from '../../models/hf-tokenizer.js';
import { OnnxEmbedder } from '../../models/onnx-embedder.js';
import { makeTestModel } from '../../models/test-model.js';
import { cosineSimilarity } from '../../models/vector-math.js';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import { copyCorpus, copyDefaultCorpus, copyName, copyRenamed, ONNX_PART, scaledSources, type SourceDir } from './corpus.js';
import { MemorySampler } from './memory-sampler.js';
import { measureSymbolCost } from './symbol-cost.js';
import { allChunks, passageQuery, pickQueries, timedStore, wordQuery, type MethodTime } from './bench-store.js';
import { BENCH_DIMS, HashedEmbedder, HashedVectors, PrecomputedQueryEmbedder, seededRandom, textKey } from './hashed-embedder.js';
import { runGrid, sampleRows, type GridRow } from './hnsw-measure.js';
import { mean, median, percentile, recallAtK, type ExactHit } from './vector-math.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Targets of issue 7 on the 2-core development machine. */
const TARGETS = {
  pipeline_tokens_per_s: { min: 45_000 },
  pad_factor: { max: 1.15 },
  recall_at_10: { min: 0.98 },
  search_p50_ms: { max: 50 },
  reindex_one_file_s: { max: 3 },
  // Per chunk: what each further chunk adds to the peak. The fixed part (tokenizer, grammars, heaps) is reported beside it.
  bytes_per_chunk_rss_peak_marginal: { max: 20 * 1024 },
} as const;

/** Vectors per grid build: big enough for HNSW's behaviour at scale, small enough for six builds in minutes. */
const GRID_VECTORS = 4000;

/** ef values tried on the full index in the recall phase. */
const RECALL_EFS = [64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536];
/** Neighbours semantic search asks the vector index for at k = 10 (its first 10 are what recall judges). */
const SEARCH_DEPTH = candidateDepth(10);

const PHASES = ['search', 'recall', 'reindex', 'memory', 'onnx'] as const;
type TargetName = keyof typeof TARGETS;

/** Everything the bench reports; the --json line is this object. Optional fields belong to skippable phases. */
interface BenchResult {
  machine: Record<string, string | number>;
  hnsw_params: HnswParams;
  /** "package@version" per part of the default corpus, or the --corpus directory. */
  corpus: string[] | string;
  corpus_bytes: number;
  files: number;
  chunks: number;
  /** Distinct chunk texts (what is embedded and inserted into HNSW). */
  texts: number;
  tokens: number;
  chunks_by_part: Record<string, number>;
  files_skipped: Record<string, number>;
  pipeline_s: number | null;
  pipeline_tokens_per_s: number;
  pipeline_chunks_per_s: number;
  pipeline_tokens_per_cpu_s: number;
  /** Only when files were prepared on the main thread (--workers 0): then the timed parts add up to wall time. */
  pipeline_tokens_per_s_without_vectors: number | null;
  pipeline_breakdown_ms: Record<string, number>;
  hnsw_inserts_per_s: number;
  pad_factor: number | null;
  pad_factor_fixed48: number | null;
  pad_factor_whole_plan: number | null;
  batch_limits: { max_texts: number; token_budget: number };
  bytes_per_chunk_disk: number;
  bytes_per_chunk_rss_peak: number;
  rss_peak_mb: number;
  rss_before_mb: number;
  /** The main isolate's share of RSS at the highest sample (the rest: HNSW graph, workers, SQLite, code). */
  memory_at_peak_mb: Record<string, number> | null;
  /** Growth of the indexing peak per chunk added (--child-peak): the fixed costs cancel out. */
  bytes_per_chunk_rss_peak_marginal?: number;
  peak_marginal_detail?: string;
  bytes_per_chunk_rss_open?: number;
  /** The symbol tables and their indexes (SQLite dbstat), per chunk; null where SQLite has no dbstat. */
  symbol_bytes_per_chunk?: number | null;
  /** Extracting symbols from the parsed trees plus writing them, per chunk (test/bench/symbol-cost.ts). */
  symbol_ms_per_chunk?: number | null;
  symbol_detail?: { extract_ms: number; store_ms: number; share_of_pipeline: number | null };
  open_index_ms?: number;
  /** A fresh process from its start to a semantic and a lexical search answered on the opened index. */
  open_to_first_search_ms?: number;
  queries: { word: number; passage: number; word_examples: string[] };
  search_p50_ms?: number | null;
  search_p95_ms?: number | null;
  search_breakdown_mean_ms?: Record<string, number | null>;
  recall_at_10?: number | null;
  recall_at_10_word_queries?: number | null;
  /** Recall@10 of the graph (float16 vectors, as stored) against exact search on the embedder's float32 vectors. */
  recall_at_10_vs_float32?: { passage: number | null; word: number | null; exact_float16_vs_float32: number | null };
  hnsw_query_p50_ms?: number | null;
  exact_query_ms?: number | null;
  vector_stats?: Record<string, number | null>;
  /** Recall@10 of the full index at other ef values (passage-like and word queries) and median ms per query. */
  recall_by_ef?: { ef: number; passage: number | null; word: number | null; p50_ms: number | null }[];
  /** The ef the store searches this index with (efForPoints: grows with the index) and at which recall_at_10* are measured. */
  search_ef?: number | null;
  reindex_file?: string;
  reindex_one_file_s?: number | null;
  reindex_one_file_runs_s?: (number | null)[];
  /** The same one-file edit found by walking the tree (an `index` call), as reindex_one_file_s measured before issue 20.2. */
  reindex_one_file_walk_s?: number | null;
  reindex_flush_hnsw_s?: number | null;
  reindex_chunks_embedded?: number[];
  reindex_no_change_s?: number | null;
  /** Writing an HNSW snapshot (what a run does only when its log is long; off the one-file path). */
  snapshot_write_s?: number | null;
  hnsw_grid?: { vectors: number; dims: number; queries: string[]; rows: GridRow[] };
  onnx_corpus?: string;
  onnx_chunks?: number;
  onnx_index_s?: number | null;
  onnx_index_tokens_per_s?: number;
  onnx_pad_factor?: number | null;
  loadavg_1m_at_end?: number;
  targets?: Record<TargetName, { target: string; value: number | null; met: boolean | null }>;
}

/** The figures measured at each size of a `--sizes` run. */
const SIZE_FIGURES = [
  'search_p50_ms',
  'search_p95_ms',
  'recall_at_10',
  'recall_at_10_word_queries',
  'search_ef',
  'reindex_one_file_s',
  'reindex_one_file_walk_s',
  'reindex_no_change_s',
  'snapshot_write_s',
  'open_index_ms',
  'open_to_first_search_ms',
  'bytes_per_chunk_rss_open',
  'bytes_per_chunk_disk',
  'pipeline_tokens_per_s',
] as const;
type SizeFigure = (typeof SIZE_FIGURES)[number];

interface SizeRow {
  target: number;
  files: number;
  chunks: number;
  /** Copies of the sources in the tree (0: the real code only). */
  parts: string[];
  figures: Partial<Record<SizeFigure, number | null>>;
  /** The index run that grew the index to this size. */
  build_s: number;
  reindex_file?: string;
  recall_by_ef?: BenchResult['recall_by_ef'];
}

interface SizesResult {
  machine: Record<string, string | number>;
  hnsw_params: HnswParams;
  sources: string[];
  rows: SizeRow[];
  /** Largest size's value over the smallest's, per figure. */
  growth: Partial<Record<SizeFigure, number | null>>;
  total_s: number;
  loadavg_1m_at_end: number;
}
type Phase = (typeof PHASES)[number];

interface Args {
  json: boolean;
  corpus: string | null;
  grid: boolean;
  /** Only the grid, on vectors of the first GRID_VECTORS chunks: no index build, so minutes faster. */
  gridOnly: boolean;
  skip: Set<Phase>;
  queries: number;
  keep: boolean;
  hnsw: HnswParams;
  /** The indexer's file-preparation workers (undefined: its default). */
  workers?: number;
  /** Index sizes (chunks) to grow through and measure at; null: one build of the corpus. */
  sizes: number[] | null;
  /** Repositories copied after the default corpus in a --sizes run (../corpora beside the checkout). */
  extraCorpus: string | null;
}

/** "10k,50k,200k" -> [10000, 50000, 200000]. */
function parseSizes(list: string): number[] {
  const sizes = list.split(',').map((v) => {
    const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(v.trim());
    if (!m) throw new Error(`bench: --sizes takes numbers like 10k,50k,200k, not ${v}`);
    return Math.round(Number(m[1]) * (m[2].toLowerCase() === 'k' ? 1e3 : m[2].toLowerCase() === 'm' ? 1e6 : 1));
  });
  return sizes.sort((a, b) => a - b);
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    json: false,
    corpus: null,
    grid: false,
    gridOnly: false,
    skip: new Set(),
    queries: 200,
    keep: false,
    hnsw: { ...DEFAULT_HNSW_PARAMS },
    sizes: null,
    extraCorpus: join(repoRoot, '..', 'corpora'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      return v;
    };
    if (a === '--json') args.json = true;
    else if (a === '--corpus') args.corpus = resolve(value());
    else if (a === '--grid') args.grid = true;
    else if (a === '--grid-only') args.gridOnly = true;
    else if (a === '--keep') args.keep = true;
    else if (a === '--queries') args.queries = Math.max(1, Number(value()));
    else if (a === '--workers') args.workers = Math.max(0, Number(value()));
    else if (a === '--sizes') args.sizes = parseSizes(value());
    else if (a === '--extra-corpus') args.extraCorpus = resolve(value());
    else if (a === '--no-extra-corpus') args.extraCorpus = null;
    else if (a === '--skip') {
      const list = value();
      for (const p of list === 'all' ? PHASES : list.split(',')) {
        if (!(PHASES as readonly string[]).includes(p)) throw new Error(`bench: --skip takes ${PHASES.join(',')}, not ${p}`);
        args.skip.add(p as Phase);
      }
    } else if (a === '--hnsw') {
      const [M, efConstruction, ef] = value().split(',').map(Number);
      args.hnsw = { M, efConstruction, ef };
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'npm run bench -- [--json] [--corpus DIR] [--grid | --grid-only] [--skip search,recall,reindex,memory,onnx] [--queries N] [--hnsw M,efC,ef] [--workers N] [--keep]\n' +
          '               [--sizes 10k,50k,200k [--extra-corpus DIR | --no-extra-corpus]]\n',
      );
      process.exit(0);
    } else throw new Error(`bench: unknown argument ${a}`);
  }
  return args;
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

function machine(): Record<string, string | number> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    mem_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavg_1m_at_start: Number(loadavg()[0].toFixed(2)),
  };
}

const round = (x: number, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'codecarto-bench-'));
  const corpus = join(work, 'corpus');
  log(`work dir ${work}`);
  try {
    let corpusName: string[] | string = [];
    if (args.sizes) {
      // mainSizes builds its own tree.
    } else if (args.corpus) {
      copyCorpus(args.corpus, corpus);
      corpusName = args.corpus;
    } else {
      mkdirSync(corpus);
      corpusName = copyDefaultCorpus(join(repoRoot, 'node_modules'), corpus);
    }
    if (args.sizes) {
      await mainSizes(args, work, corpus);
      return;
    }
    const loadAtStart = loadavg()[0];
    if (args.gridOnly) {
      await gridOnly(corpus, work, args);
      return;
    }

    // ---- 1. pipeline: walk + read + parse + chunk + tokenize + plan + store (SQLite + HNSW), zero-cost vectors ----
    const embedder = new HashedEmbedder();
    const dataDir = join(work, 'index');
    const times = new Map<string, MethodTime>();
    // The planner's token count per text, as the indexer passes it along with the chunks it stores.
    const plannedTokens = new Map<string, number>();
    const store = timedStore(openIndexStore(dataDir, { hnsw: args.hnsw }), times, (name, callArgs) => {
      if (name !== 'upsertFile') return;
      for (const input of callArgs[1] as (ChunkInput & { tokens?: number })[]) {
        if (typeof input.tokens === 'number') plannedTokens.set(input.textHash, input.tokens);
      }
    });
    const rssBefore = process.memoryUsage().rss;
    const memory = new MemorySampler();
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    const summary = await runIndex({ root: corpus, store, embedder, log, prepareWorkers: args.workers, onProgress: () => memory.sample() });
    memory.stop();
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const peakRss = process.resourceUsage().maxRSS * 1024;
    if (summary.state !== 'done') throw new Error(`bench: index run ${summary.state}: ${summary.error ?? ''}`);
    const chunks = summary.chunks_total;
    const methodMs = (name: string) => times.get(name)?.ms ?? 0;
    const putMs = methodMs('putVectors');
    const flushMs = methodMs('flushVectorIndex');
    const storeMs = [...times.values()].reduce((a, t) => a + t.ms, 0);
    const pipelineS = seconds - embedder.ms / 1000;
    log(`pipeline: ${summary.files_added} files, ${chunks} chunks, ${summary.tokens_embedded} tokens in ${seconds.toFixed(1)} s`);

    // ---- 2. pad factors on the same chunks ----
    const rows = allChunks(store);
    const chunksByPart: Record<string, number> = {};
    for (const row of rows) {
      const part = row.path.split('/')[0];
      chunksByPart[part] = (chunksByPart[part] ?? 0) + 1;
    }
    const seen = new Set<string>();
    const items: { key: string; tokens: number }[] = [];
    let recounted = 0;
    for (const row of rows) {
      if (seen.has(row.textHash)) continue;
      seen.add(row.textHash);
      const text = embeddingText(row);
      // The chunker's count when the indexer used it, else the count the indexer's tokenizer call recorded.
      let n = plannedTokens.get(row.textHash) ?? embedder.tokenizer.counts.get(textKey(text));
      if (n === undefined) {
        recounted++;
        n = embedder.tokenizer.count(text);
      }
      // As the indexer counts: the model adds BOS and EOS, and truncates.
      items.push({ key: row.textHash, tokens: Math.min(n + 2, embedder.maxInputTokens) });
    }
    if (recounted > 0) log(`pad factor: the token counts of ${recounted} texts were not seen during the run and were counted again`);

    const result: BenchResult = {
      machine: machine(),
      hnsw_params: args.hnsw,
      corpus: corpusName,
      corpus_bytes: dirBytes(corpus),
      files: summary.files_added,
      chunks,
      texts: summary.chunks_embedded,
      tokens: summary.tokens_embedded,
      chunks_by_part: chunksByPart,
      files_skipped: summary.files_skipped,
      pipeline_s: round(seconds, 2),
      // The bench embedder's own arithmetic is not part of codecarto's pipeline (a real model's runs elsewhere).
      pipeline_tokens_per_s: Math.round(summary.tokens_embedded / pipelineS),
      pipeline_chunks_per_s: Math.round(chunks / pipelineS),
      // Steadier than wall time on a shared machine; with worker threads it measures work, not speed.
      pipeline_tokens_per_cpu_s: Math.round(summary.tokens_embedded / (cpuS - embedder.ms / 1000)),
      // Meaningful on one thread only, where time inside synchronous calls adds up to wall time.
      pipeline_tokens_per_s_without_vectors: args.workers === 0 ? Math.round(summary.tokens_embedded / (pipelineS - (putMs + flushMs) / 1000)) : null,
      pipeline_breakdown_ms: {
        tokenize: Math.round(embedder.tokenizer.ms),
        tokenize_calls: embedder.tokenizer.calls,
        embed_hashed_vectors: Math.round(embedder.ms),
        store_put_vectors: Math.round(putMs),
        store_flush_hnsw: Math.round(flushMs),
        store_upsert_file: Math.round(methodMs('upsertFile')),
        store_other: Math.round(storeMs - putMs - flushMs - methodMs('upsertFile')),
        other: Math.round(seconds * 1000 - embedder.tokenizer.ms - embedder.ms - storeMs),
      },
      hnsw_inserts_per_s: Math.round(summary.chunks_embedded / (putMs / 1000)),
      pad_factor: round(summary.tokens_padded / summary.tokens_embedded),
      pad_factor_fixed48: round(padFactor(fixedBatches(items, 48))),
      pad_factor_whole_plan: round(padFactor(planBatches(items, { maxTexts: embedder.maxBatchSize, tokenBudget: embedder.tokenBudget }))),
      batch_limits: { max_texts: embedder.maxBatchSize, token_budget: embedder.tokenBudget },
      bytes_per_chunk_disk: Math.round(dirBytes(dataDir) / chunks),
      bytes_per_chunk_rss_peak: Math.round((peakRss - rssBefore) / chunks),
      rss_peak_mb: Math.round(peakRss / 2 ** 20),
      rss_before_mb: Math.round(rssBefore / 2 ** 20),
      memory_at_peak_mb: memory.atPeak(),
      queries: { word: 0, passage: 0, word_examples: [] },
    };

    // ---- 2b. what the symbol table adds (issue 19.4): its bytes, and its extraction and writes timed apart ----
    const symbolCost = await measureSymbolCost(corpus, dataDir);
    result.symbol_bytes_per_chunk = symbolCost.symbol_bytes === null ? null : Math.round(symbolCost.symbol_bytes / chunks);
    result.symbol_ms_per_chunk = round((symbolCost.extract_ms + symbolCost.store_ms) / chunks, 3);
    result.symbol_detail = { extract_ms: Math.round(symbolCost.extract_ms), store_ms: Math.round(symbolCost.store_ms), share_of_pipeline: round((symbolCost.extract_ms + symbolCost.store_ms) / 1000 / seconds, 3) };

    // ---- 3. memory of an opened index, in a clean child process ----
    if (!args.skip.has('memory')) {
      store.close();
      // At rest: closing checkpoints and removes the write-ahead log.
      result.bytes_per_chunk_disk = Math.round(dirBytes(dataDir) / chunks);
      Object.assign(result, openPhase(dataDir, chunks));
      log('memory: indexing most of the corpus, then the rest, in a child process');
      const peakChild = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child-peak', corpus, work], { encoding: 'utf8' });
      if (peakChild.status !== 0) throw new Error(`bench: the peak child failed: ${peakChild.stderr}`);
      const p = JSON.parse(peakChild.stdout.trim().split('\n').pop() as string) as { added: string; chunks1: number; chunks2: number; peak1: number; peak2: number };
      result.bytes_per_chunk_rss_peak_marginal = Math.round((p.peak2 - p.peak1) / (p.chunks2 - p.chunks1));
      result.peak_marginal_detail = `peak ${Math.round(p.peak1 / 2 ** 20)} MiB at ${p.chunks1} chunks, ${Math.round(p.peak2 / 2 ** 20)} MiB at ${p.chunks2} after adding ${p.added}`;
    }
    const served = args.skip.has('memory') ? store : timedStore(openIndexStore(dataDir, { hnsw: args.hnsw }), times);

    // ---- 4. queries ----
    const queries = makeQueries(rows, embedder, args.queries);
    result.queries = { word: queries.word.length, passage: queries.passage.length, word_examples: queries.word.slice(0, 3) };
    if (!args.skip.has('search')) Object.assign(result, await searchPhase(served, embedder, queries, times));

    // ---- 5. recall of the store's own HNSW snapshot against brute force on the same vectors ----
    if (!args.skip.has('recall')) Object.assign(result, recallPhase(dataDir, queries, args.hnsw.ef, embedder));

    // ---- 6. one-file re-index ----
    if (!args.skip.has('reindex')) Object.assign(result, await reindexPhase(served, corpus, rows, embedder, times));
    served.close();
    if (served !== store) store.close();

    // ---- 7. HNSW parameter grid (item 4), on demand: it costs minutes of inserts ----
    if (args.grid) {
      // The stored vectors (a projected snapshot holds only their projections): full dims, as the grid measures hnswlib on them.
      const stored = [...storedVectors(dataDir)];
      const matrix = { dims: BENCH_DIMS, count: stored.length, data: new Float32Array(stored.length * BENCH_DIMS), labels: stored.map((r) => r.label) };
      stored.forEach((r, i) => matrix.data.set(r.vector, i * BENCH_DIMS));
      const subset = sampleRows(matrix, GRID_VECTORS, seededRandom(3));
      const gridQueries = [
        { name: 'passage', vectors: queries.vectorsOf(queries.passage) },
        { name: 'word', vectors: queries.vectorsOf(queries.word) },
      ];
      const rows = runGrid(subset, gridQueries, work, log);
      result.hnsw_grid = { vectors: subset.count, dims: BENCH_DIMS, queries: gridQueries.map((q) => `${q.vectors.length} ${q.name}`), rows };
    }

    // ---- 8. total index time with the generated ONNX test model (fresh index, CPU execution provider) ----
    if (!args.skip.has('onnx')) {
      const root = args.corpus ? corpus : join(corpus, ONNX_PART);
      const modelDir = join(work, 'test-model');
      await makeTestModel(modelDir);
      const onnx = await OnnxEmbedder.create({ modelDir, device: 'cpu' });
      const onnxStore = openIndexStore(join(work, 'index-onnx'), { hnsw: args.hnsw });
      try {
        const t = performance.now();
        const s = await runIndex({ root, store: onnxStore, embedder: onnx, log });
        const total = (performance.now() - t) / 1000;
        if (s.state !== 'done') throw new Error(`bench: ONNX index run ${s.state}: ${s.error ?? ''}`);
        result.onnx_corpus = args.corpus ? corpusName.toString() : ONNX_PART;
        result.onnx_chunks = s.chunks_total;
        result.onnx_index_s = round(total, 1);
        result.onnx_index_tokens_per_s = Math.round(s.tokens_embedded / total);
        result.onnx_pad_factor = round(s.tokens_padded / s.tokens_embedded);
        log(`ONNX test model index of ${result.onnx_corpus}: ${s.chunks_total} chunks in ${total.toFixed(1)} s`);
      } finally {
        onnxStore.close();
        await onnx.close();
      }
    }

    result.loadavg_1m_at_end = round(loadavg()[0], 2) ?? undefined;
    if (Math.max(loadAtStart, loadavg()[0]) > cpus().length) log(`the load average exceeded the core count: timings are pessimistic`);
    const targets = {} as NonNullable<BenchResult['targets']>;
    for (const name of Object.keys(TARGETS) as TargetName[]) {
      const target: { min?: number; max?: number } = TARGETS[name];
      const value = result[name];
      const met = typeof value !== 'number' ? null : target.min !== undefined ? value >= target.min : value <= (target.max as number);
      targets[name] = { target: target.min !== undefined ? `>= ${target.min}` : `<= ${target.max}`, value: typeof value === 'number' ? value : null, met };
    }
    result.targets = targets;
    report(result, args.json);
  } finally {
    if (args.keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

interface Queries {
  word: string[];
  passage: string[];
  vectorsOf: (qs: string[]) => Float32Array[];
  vectors: Map<string, Float32Array>;
}

/** Word and passage-like queries from random chunks, with their vectors computed once. */
function makeQueries(rows: ChunkRow[], embedder: HashedEmbedder, count: number): Queries {
  const word = pickQueries(rows, count, 1, wordQuery);
  const passage = pickQueries(rows, count, 2, passageQuery);
  const vectors = new Map<string, Float32Array>();
  for (const q of [...word, ...passage]) vectors.set(q, embedder.vectors.vector(q));
  return { word, passage, vectors, vectorsOf: (qs) => qs.map((q) => vectors.get(q) as Float32Array) };
}

/** Hybrid search latency over the word queries, after 10 warm-up queries, split by store method. */
async function searchPhase(served: IndexStore, embedder: HashedEmbedder, queries: Queries, times: Map<string, MethodTime>): Promise<Partial<BenchResult>> {
  const queryEmbedder = new PrecomputedQueryEmbedder(embedder, queries.vectors);
  for (const q of queries.word.slice(0, 10)) await search(served, queryEmbedder, { query: q, k: 10, mode: 'hybrid' });
  times.clear();
  const latencies: number[] = [];
  for (const q of queries.word) {
    const t = performance.now();
    const response = await search(served, queryEmbedder, { query: q, k: 10, mode: 'hybrid' });
    latencies.push(performance.now() - t);
    if (response.mode !== 'hybrid') throw new Error(`bench: search fell back to ${response.mode}: ${response.note ?? ''}`);
  }
  // Mean ms per search spent in each store method; the rest is fusion, merging and snippets.
  const breakdown: Record<string, number | null> = {};
  let inStore = 0;
  for (const [name, t] of [...times.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
    breakdown[name] = round(t.ms / latencies.length, 2);
    inStore += t.ms;
  }
  breakdown.outside_store = round(mean(latencies) - inStore / latencies.length, 2);
  const out = { search_p50_ms: round(percentile(latencies, 50), 2), search_p95_ms: round(percentile(latencies, 95), 2), search_breakdown_mean_ms: breakdown };
  log(`search: p50 ${out.search_p50_ms} ms, p95 ${out.search_p95_ms} ms over ${latencies.length} hybrid queries`);
  return out;
}

/** The one HNSW snapshot file in the data directory (after a forced flush there is exactly one). */
function snapshotFile(dataDir: string): string {
  const files = readdirSync(dataDir).filter((f) => /^vectors.*\.hnsw$/.test(f));
  if (files.length !== 1) throw new Error(`bench: expected one HNSW snapshot in ${dataDir}, found ${files.join(', ') || 'none'}`);
  return join(dataDir, files[0]);
}

/** Every stored vector (float16 in SQLite, read back as float32), with its label and embedding text. */
function* storedVectors(dataDir: string): IterableIterator<{ label: number; vector: Float32Array; embedText: string }> {
  const db = new Database(join(dataDir, INDEX_DB_FILE), { readonly: true });
  try {
    const rows = db.prepare(`SELECT v.label AS label, v.vector AS vector, ${EMBED_TEXT} AS embedText FROM vectors v JOIN texts t ON t.hash = v.text_hash ORDER BY v.label`);
    for (const row of rows.iterate() as IterableIterator<{ label: number; vector: Buffer; embedText: string }>) {
      yield { label: row.label, vector: decodeVector(row.vector, BENCH_DIMS), embedText: row.embedText };
    }
  } finally {
    db.close();
  }
}

/** Points per native brute-force batch: 16,384 x 4096 floats is 256 MiB, so a 200,000-chunk index is never held twice. */
const EXACT_BATCH = 16_384;

/**
 * Exact top-k of each query by hnswlib's native brute force over `points`, fed in batches (each batch's
 * top-k merged into the running top-k), so memory stays one batch however large the index.
 */
function exactOver(points: Iterable<{ label: number; vector: Float32Array }>, count: number, queries: Float32Array[], k: number): ExactHit[][] {
  const best: ExactHit[][] = queries.map(() => []);
  const qs = queries.map((q) => Array.from(q));
  let batch: hnswlib.BruteforceSearch | null = null;
  let held = 0;
  const drain = () => {
    if (!batch || held === 0) return;
    const b = batch;
    qs.forEach((q, i) => {
      const { neighbors, distances } = b.searchKnn(q, Math.min(k, held));
      const merged = best[i].concat(neighbors.map((label, j) => ({ label, similarity: 1 - distances[j] })));
      best[i] = merged.sort((x, y) => y.similarity - x.similarity || x.label - y.label).slice(0, k);
    });
    batch = null;
    held = 0;
  };
  for (const p of points) {
    if (!batch) {
      batch = new hnswlib.BruteforceSearch('cosine', BENCH_DIMS);
      batch.initIndex(Math.max(1, Math.min(EXACT_BATCH, count)));
    }
    batch.addPoint(Array.from(p.vector), p.label);
    if (++held === EXACT_BATCH) drain();
  }
  drain();
  return best;
}

/**
 * Recall@10 of the store's HNSW snapshot, searched as semantic search does (VectorIndex: a projected graph's
 * candidates rescored exactly from SQLite; the first 10 of the SEARCH_DEPTH asked), at the size's ef (and an
 * ef sweep), against brute force on the same (float16) vectors; with `float32`, also against brute force on
 * the embedder's own float32 vectors (what storing float16 costs; it recomputes every vector, ~1.5 ms each).
 */
function recallPhase(dataDir: string, queries: Queries, efFloor: number, embedder: HashedEmbedder, float32 = true): Partial<BenchResult> {
  const db = new Database(join(dataDir, INDEX_DB_FILE), { readonly: true });
  const sql = new SqliteStore(db);
  const count = db.prepare('SELECT count(*) FROM vectors').pluck().get() as number;
  // The snapshot after a forced flush holds every vector and no deleted point.
  const index = VectorIndex.load(snapshotFile(dataDir), BENCH_DIMS, { ...DEFAULT_HNSW_PARAMS, ef: efFloor }, count, (labels, q) => sql.similaritiesOfLabels(labels, q));
  const ef = index.searchEf;
  const searchTop10 = (q: Float32Array) => index.search(q, SEARCH_DEPTH).slice(0, 10);
  const measure = (e: number, qs: Float32Array[], exact: ExactHit[][]) => {
    index.pinEf(e);
    const recalls: number[] = [];
    const times: number[] = [];
    qs.forEach((q, i) => {
      const t = performance.now();
      const hits = searchTop10(q);
      times.push(performance.now() - t);
      recalls.push(recallAtK(exact[i], hits.map((h) => ({ label: h.label, similarity: 1 - h.distance })), 10));
    });
    return { recall: mean(recalls), p50Ms: median(times) };
  };
  const passage = queries.vectorsOf(queries.passage);
  const word = queries.vectorsOf(queries.word);
  const t = performance.now();
  const [exactPassage, exactWord] = (() => {
    const both = exactOver(storedVectors(dataDir), count, [...passage, ...word], 10);
    return [both.slice(0, passage.length), both.slice(passage.length)];
  })();
  const exactMs = (performance.now() - t) / (passage.length + word.length);
  // Cross-check the native brute force against a plain loop on a few queries.
  const check = word.slice(0, 3);
  const best = check.map(() => [] as number[]);
  for (const row of storedVectors(dataDir)) {
    let norm = 0;
    for (let i = 0; i < row.vector.length; i++) norm += row.vector[i] * row.vector[i];
    check.forEach((q, j) => {
      let dot = 0;
      for (let i = 0; i < q.length; i++) dot += q[i] * row.vector[i];
      best[j].push(dot / Math.sqrt(norm));
      if (best[j].length > 64) best[j] = best[j].sort((a, b) => b - a).slice(0, 10);
    });
  }
  best.forEach((sims, j) => {
    const tenth = sims.sort((a, b) => b - a)[Math.min(9, sims.length - 1)];
    if (Math.abs(tenth - exactWord[j][Math.min(9, exactWord[j].length - 1)].similarity) > 1e-4) throw new Error('bench: brute-force results disagree');
  });
  const p = measure(ef, passage, exactPassage);
  const w = measure(ef, word, exactWord);
  const out: Partial<BenchResult> = {
    search_ef: ef,
    recall_at_10: round(p.recall, 4),
    recall_at_10_word_queries: round(w.recall, 4),
    hnsw_query_p50_ms: round(median([p.p50Ms, w.p50Ms]), 2),
    exact_query_ms: round(exactMs, 1),
    vector_stats: vectorStats(db, (labels) => sql.vectorsOfLabels(labels, BENCH_DIMS), exactPassage, exactWord),
    // ef only changes search, so sweeping it on the full index costs queries, not builds.
    recall_by_ef: RECALL_EFS.map((e) => {
      const pe = measure(e, passage, exactPassage);
      const we = measure(e, word, exactWord);
      return { ef: e, passage: round(pe.recall, 4), word: round(we.recall, 4), p50_ms: round(median([pe.p50Ms, we.p50Ms]), 2) };
    }),
  };
  if (float32) {
    const all = [...passage, ...word];
    const truth = exactOver(
      (function* () {
        for (const row of storedVectors(dataDir)) yield { label: row.label, vector: embedder.vectors.vector(row.embedText) };
      })(),
      count,
      all,
      10,
    );
    index.pinEf(ef);
    const graph = all.map((q) => searchTop10(q).map((h) => h.label));
    // Each answer judged by float32 similarity, so a tie with the 10th counts as right.
    const f32 = new Map<number, Float32Array>();
    const needed = new Set([...graph.flat(), ...exactPassage.flat().map((h) => h.label), ...exactWord.flat().map((h) => h.label)]);
    for (const row of storedVectors(dataDir)) if (needed.has(row.label)) f32.set(row.label, embedder.vectors.vector(row.embedText));
    const sim = (label: number, q: Float32Array) => {
      const v = f32.get(label) as Float32Array;
      let d = 0;
      for (let i = 0; i < v.length; i++) d += v[i] * q[i];
      return d;
    };
    const recallOf = (answers: number[][], from: number, to: number) =>
      round(mean(answers.slice(from, to).map((labels, i) => recallAtK(truth[from + i], labels.map((label) => ({ label, similarity: sim(label, all[from + i]) })), 10))), 4);
    const exact16 = [...exactPassage, ...exactWord].map((hits) => hits.map((h) => h.label));
    out.recall_at_10_vs_float32 = { passage: recallOf(graph, 0, passage.length), word: recallOf(graph, passage.length, all.length), exact_float16_vs_float32: recallOf(exact16, 0, all.length) };
  }
  log(`recall@10 at ef ${ef}: ${out.recall_at_10} (passage queries), ${out.recall_at_10_word_queries} (word queries)`);
  db.close();
  return out;
}

/**
 * One-file edits (a function appended each time) re-indexed as the file watcher does (runIndex with the
 * edited path as changedPaths; reindex_one_file_s) and by walking the tree as an `index` call does
 * (reindex_one_file_walk_s), a re-index with nothing changed (a walk), then a forced snapshot. `file`:
 * the file to edit (a --sizes run keeps the first size's, so every size edits the same file).
 */
async function reindexPhase(served: IndexStore, corpus: string, rows: ChunkRow[], embedder: HashedEmbedder, times: Map<string, MethodTime>, file = pickEditFile(rows)): Promise<Partial<BenchResult>> {
  const abs = join(corpus, file);
  const original = readFileSync(abs, 'utf8');
  const methodMs = (name: string) => times.get(name)?.ms ?? 0;
  const runs: { s: number; embedded: number; flushMs: number }[] = [];
  const walked: number[] = [];
  // Four edits the watcher's way; the first is reported apart: it loads the grammar on the main thread (a
  // full build parses in workers). Then three found by a walk.
  for (let i = 1; i <= 7; i++) {
    writeFileSync(abs, `${original}\nexport function benchEdit${i}(x: number): number {\n  return x * ${i};\n}\n`);
    times.clear();
    const t = performance.now();
    const s = await runIndex({ root: corpus, store: served, embedder, changedPaths: i <= 4 ? [file] : null });
    if (s.state !== 'done' || s.files_changed !== 1) throw new Error(`bench: re-index ${s.state}, ${s.files_changed} files changed`);
    if (i <= 4) runs.push({ s: (performance.now() - t) / 1000, embedded: s.chunks_embedded, flushMs: methodMs('flushVectorIndex') });
    else walked.push((performance.now() - t) / 1000);
  }
  const t = performance.now();
  const unchanged: IndexSummary = await runIndex({ root: corpus, store: served, embedder });
  const noChange = (performance.now() - t) / 1000;
  if (unchanged.files_changed + unchanged.files_added !== 0) throw new Error('bench: the no-change re-index changed files');
  writeFileSync(abs, original);
  await runIndex({ root: corpus, store: served, embedder });
  const s = performance.now();
  served.flushVectorIndex({ force: true });
  const out: Partial<BenchResult> = {
    reindex_file: file,
    reindex_one_file_s: round(median(runs.slice(1).map((r) => r.s)), 3),
    reindex_one_file_runs_s: runs.map((r) => round(r.s, 3)),
    reindex_one_file_walk_s: round(median(walked), 3),
    reindex_flush_hnsw_s: round(median(runs.slice(1).map((r) => r.flushMs)) / 1000, 3),
    reindex_chunks_embedded: runs.map((r) => r.embedded),
    reindex_no_change_s: round(noChange, 3),
    snapshot_write_s: round((performance.now() - s) / 1000, 2),
  };
  log(`re-index one file (${file}): median ${out.reindex_one_file_s} s of ${out.reindex_one_file_runs_s?.join(', ')} as the watcher runs it, ${out.reindex_one_file_walk_s} s by a walk; no change ${out.reindex_no_change_s} s; snapshot ${out.snapshot_write_s} s`);
  return out;
}

/** Opening the index in a fresh process: RSS it adds, time to open, and time from process start to first answers. */
function openPhase(dataDir: string, chunks: number): Partial<BenchResult> {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child-open', dataDir], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`bench: the store-opening child failed: ${child.stderr}`);
  const opened = JSON.parse(child.stdout.trim().split('\n').pop() as string) as { rssDelta: number; openMs: number; firstSearchMs: number };
  return { bytes_per_chunk_rss_open: Math.round(opened.rssDelta / chunks), open_index_ms: Math.round(opened.openMs), open_to_first_search_ms: Math.round(opened.firstSearchMs) };
}

/**
 * `--sizes`: one index grows through each size. The tree gets the default corpus, the repositories under
 * --extra-corpus, then renamed copies of all of them (corpus.ts, copyRenamed) until it holds the size's
 * chunks; each growth is an incremental index run; then every figure is measured on the index as it is.
 */
async function mainSizes(args: Args, work: string, corpus: string): Promise<void> {
  const sizes = args.sizes as number[];
  const started = performance.now();
  const sources = scaledSources(join(repoRoot, 'node_modules'), args.extraCorpus);
  mkdirSync(corpus, { recursive: true });
  const embedder = new HashedEmbedder();
  const dataDir = join(work, 'index');
  const times = new Map<string, MethodTime>();
  let store = timedStore(openIndexStore(dataDir, { hnsw: args.hnsw }), times);
  const parts: string[] = [];
  let copied = 0;
  let chunks = 0;
  // Chunks per byte copied, learned as the index grows (first guess: ~1 chunk per 900 bytes of code).
  let chunksPerByte = 1 / 900;
  let nextPart = 0;
  const partAt = (i: number): { source: SourceDir; copy: number } => ({ source: sources[i % sources.length], copy: Math.floor(i / sources.length) });
  const rows: SizeRow[] = [];
  for (const target of sizes) {
    let build = 0;
    let pipelineS = 0;
    let tokens = 0;
    let summary: IndexSummary | null = null;
    // Within a tenth of the target is close enough: every figure is reported at the actual chunk count.
    while (chunks < target * 0.9) {
      // Copy parts until the estimate reaches the target, then index them in one run.
      let estimate = chunks;
      while (estimate < target) {
        const { source, copy } = partAt(nextPart++);
        const name = copyName(source, copy);
        const bytes = copyRenamed(source.dir, join(corpus, name), copy);
        copied += bytes;
        estimate += bytes * chunksPerByte;
        parts.push(name);
      }
      const t = performance.now();
      const embedMs = embedder.ms;
      summary = await runIndex({ root: corpus, store, embedder, log, prepareWorkers: args.workers });
      build += (performance.now() - t) / 1000;
      // The bench embedder's own arithmetic is not codecarto's pipeline (as in a single-size run).
      pipelineS += (performance.now() - t - (embedder.ms - embedMs)) / 1000;
      if (summary.state !== 'done') throw new Error(`bench: index run ${summary.state}: ${summary.error ?? ''}`);
      chunks = summary.chunks_total;
      tokens += summary.tokens_embedded;
      chunksPerByte = chunks / copied;
      log(`grew to ${chunks} chunks (${parts.length} parts) in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    }
    const counts = store.counts();
    const figures: SizeRow['figures'] = {
      pipeline_tokens_per_s: summary ? Math.round(tokens / Math.max(1e-9, pipelineS)) : null,
    };
    const all = allChunks(store);
    const queries = makeQueries(all, embedder, args.queries);
    Object.assign(figures, pick(await searchPhase(store, embedder, queries, times)));
    const reindex = await reindexPhase(store, corpus, all, embedder, times, rows[0]?.reindex_file);
    Object.assign(figures, pick(reindex));
    store.close();
    // The closed store's graph (3.3 GB at 200,000 chunks) is native memory freed only when collected: free
    // it before the opening child and the recall phase load the snapshot again.
    collectNow();
    // At rest (closing checkpoints and removes the write-ahead log), with the snapshot the forced flush
    // wrote: what a server opens, and what recall is measured on.
    figures.bytes_per_chunk_disk = Math.round(dirBytes(dataDir) / counts.chunks);
    Object.assign(figures, pick(openPhase(dataDir, counts.chunks)));
    const recall = recallPhase(dataDir, queries, args.hnsw.ef, embedder, false);
    Object.assign(figures, pick(recall));
    rows.push({ target, files: counts.files, chunks: counts.chunks, parts: [...parts], figures, build_s: round(build, 1) ?? 0, reindex_file: reindex.reindex_file, recall_by_ef: recall.recall_by_ef });
    log(`size ${target}: ${JSON.stringify(figures)}`);
    collectNow(); // the recall phase's copy of the graph, before the store loads it again
    store = timedStore(openIndexStore(dataDir, { hnsw: args.hnsw }), times);
  }
  store.close();
  const growth: SizesResult['growth'] = {};
  for (const f of SIZE_FIGURES) {
    const a = rows[0].figures[f];
    const b = rows[rows.length - 1].figures[f];
    growth[f] = typeof a === 'number' && typeof b === 'number' && a !== 0 ? round(b / a, 2) : null;
  }
  const result: SizesResult = {
    machine: machine(),
    hnsw_params: args.hnsw,
    sources: sources.map((s) => `${s.name} (${s.dir})`),
    rows,
    growth,
    total_s: round((performance.now() - started) / 1000, 0) ?? 0,
    loadavg_1m_at_end: round(loadavg()[0], 2) ?? 0,
  };
  const lines = [
    `machine: ${result.machine.cpu}, ${result.machine.cores} cores, node ${result.machine.node}; load average ${result.machine.loadavg_1m_at_start} at start, ${result.loadavg_1m_at_end} at end; ${result.total_s} s in all`,
    `HNSW M=${args.hnsw.M} efConstruction=${args.hnsw.efConstruction} ef=efForPoints(points, floor ${args.hnsw.ef}) (search_ef row); sources: ${sources.map((s) => s.name).join(', ')} (then renamed copies)`,
    `${'figure'.padEnd(26)} ${rows.map((r) => `${r.chunks} ch`.padStart(12)).join(' ')} ${'growth'.padStart(8)}`,
    `${'files'.padEnd(26)} ${rows.map((r) => String(r.files).padStart(12)).join(' ')}`,
  ];
  for (const f of SIZE_FIGURES) lines.push(`${f.padEnd(26)} ${rows.map((r) => String(r.figures[f] ?? '-').padStart(12)).join(' ')} ${String(growth[f] ?? '-').padStart(8)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** A full garbage collection now (the bench runs without --expose-gc). */
function collectNow(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** The SIZE_FIGURES among a phase's results. */
function pick(partial: Partial<BenchResult>): Partial<Record<SizeFigure, number | null>> {
  const out: Partial<Record<SizeFigure, number | null>> = {};
  for (const f of SIZE_FIGURES) {
    const v = (partial as Record<string, unknown>)[f];
    if (typeof v === 'number' || v === null) out[f] = v;
  }
  return out;
}

/** The grid alone: chunks the first GRID_VECTORS distinct texts of the corpus and runs the builds on their vectors. */
async function gridOnly(corpus: string, work: string, args: Args): Promise<void> {
  const tokenizer = loadMistralTokenizer();
  const vectors = new HashedVectors();
  const texts = new Map<string, Chunk>();
  for await (const file of walkRepository(corpus, {}, new WalkStats())) {
    const language = languageForPath(file.path);
    if (!language) continue;
    const read = await readSourceFile(file.absPath);
    if (read.kind !== 'text') continue;
    for (const chunk of await chunkFile({ path: file.path, text: read.text, language }, { tokenizer })) texts.set(embeddingText(chunk), chunk);
    if (texts.size >= GRID_VECTORS) break;
  }
  const embedTexts = [...texts.keys()].slice(0, GRID_VECTORS);
  const matrix = { dims: BENCH_DIMS, count: embedTexts.length, data: new Float32Array(embedTexts.length * BENCH_DIMS), labels: embedTexts.map((_, i) => i) };
  embedTexts.forEach((t, i) => matrix.data.set(vectors.vector(t), i * BENCH_DIMS));
  const chunks = embedTexts.map((t) => texts.get(t) as Chunk);
  const querySets = [
    { name: 'passage', vectors: pickQueries(chunks, args.queries, 2, passageQuery).map((q) => vectors.vector(q)) },
    { name: 'word', vectors: pickQueries(chunks, args.queries, 1, wordQuery).map((q) => vectors.vector(q)) },
  ];
  log(`grid: ${matrix.count} vectors from ${corpus}`);
  const rows = runGrid(matrix, querySets, work, log);
  const grid = { vectors: matrix.count, dims: BENCH_DIMS, queries: querySets.map((q) => `${q.vectors.length} ${q.name}`), rows };
  process.stdout.write(`${gridLines(grid).join('\n')}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify({ machine: machine(), hnsw_grid: grid })}\n`);
}

/** Spread of the vectors, to show they are clustered and anisotropic like real embeddings (not noise). */
function vectorStats(db: Database.Database, vectorsOf: (labels: number[]) => { vector: Float32Array }[], ...exact: { similarity: number }[][][]): Record<string, number | null> {
  const random = seededRandom(9);
  const labels = db.prepare('SELECT label FROM vectors').pluck().all() as number[];
  const pairs: number[] = [];
  for (let i = 0; i < 2000 && labels.length > 1; i++) {
    const [a, b] = vectorsOf([labels[Math.floor(random() * labels.length)], labels[Math.floor(random() * labels.length)]]).map((r) => r.vector);
    if (!b) continue;
    const cosine = cosineSimilarity(a, b);
    if (cosine < 0.9999) pairs.push(cosine);
  }
  const [passage, word] = exact.map((hits) => hits.filter((h) => h.length >= 10));
  return {
    random_pair_cosine_mean: round(mean(pairs)),
    random_pair_cosine_p99: round(percentile(pairs, 99)),
    passage_query_top1_cosine: round(mean(passage.map((h) => h[0].similarity))),
    passage_query_top10_cosine: round(mean(passage.map((h) => h[9].similarity))),
    word_query_top1_cosine: round(mean(word.map((h) => h[0].similarity))),
    word_query_top10_cosine: round(mean(word.map((h) => h[9].similarity))),
  };
}

/** A mid-sized TypeScript source file (not a declaration file), picked deterministically. */
function pickEditFile(rows: ChunkRow[]): string {
  const perFile = new Map<string, number>();
  for (const r of rows) perFile.set(r.path, (perFile.get(r.path) ?? 0) + 1);
  const candidates = [...perFile.entries()]
    .filter(([p, n]) => p.endsWith('.ts') && !p.endsWith('.d.ts') && n >= 5 && n <= 30)
    .map(([p]) => p)
    .sort();
  const any = [...perFile.keys()].sort();
  const pick = candidates[Math.floor(candidates.length / 2)] ?? any[Math.floor(any.length / 2)];
  if (pick === undefined) throw new Error('bench: the corpus has no indexed file to edit');
  return pick;
}

function report(r: BenchResult, json: boolean): void {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(`machine: ${m.cpu}, ${m.cores} cores, ${m.mem_gib} GiB, node ${m.node}; load average ${m.loadavg_1m_at_start} at start, ${r.loadavg_1m_at_end} at end`);
  lines.push(`corpus: ${Array.isArray(r.corpus) ? r.corpus.join(' ') : r.corpus} (${(r.corpus_bytes / 2 ** 20).toFixed(1)} MiB)`);
  lines.push(`index: ${r.files} files, ${r.chunks} chunks, ${r.texts} distinct texts, ${r.tokens} tokens; HNSW M=${r.hnsw_params.M} efConstruction=${r.hnsw_params.efConstruction} ef=${r.hnsw_params.ef}`);
  const joined = (o: Record<string, unknown>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  const row = (name: keyof BenchResult, unit = '', note = '') => {
    const t = r.targets?.[name as TargetName];
    const verdict = t ? ` [target ${t.target}: ${t.met === null ? 'not measured' : t.met ? 'met' : 'NOT met'}]` : '';
    lines.push(`  ${name.padEnd(28)} ${String(r[name] ?? '-').padStart(8)} ${unit}${verdict}${note ? `  ${note}` : ''}`);
  };
  row('pipeline_tokens_per_s', 'tokens/s', `(${r.pipeline_s} s wall, less ${r.pipeline_breakdown_ms.embed_hashed_vectors} ms in the bench embedder; ${r.pipeline_tokens_per_cpu_s} tokens per CPU-second${r.pipeline_tokens_per_s_without_vectors === null ? '' : `; ${r.pipeline_tokens_per_s_without_vectors} tokens/s without storing vectors`})`);
  lines.push(`    time in ms: ${joined(r.pipeline_breakdown_ms)}`);
  row('pad_factor', '', `(batches of <= ${r.batch_limits.max_texts} texts and ${r.batch_limits.token_budget} padded tokens; one plan over everything: ${r.pad_factor_whole_plan})`);
  row('pad_factor_fixed48', '', '(fixed batches of 48 in file order)');
  row('hnsw_inserts_per_s', 'vectors/s', `(store.putVectors at ${BENCH_DIMS} dims: SQLite + HNSW)`);
  row('search_p50_ms', 'ms', `(hybrid, k 10, ${r.queries.word} word queries, query vectors precomputed)`);
  row('search_p95_ms', 'ms');
  if (r.search_breakdown_mean_ms) lines.push(`    mean ms per search: ${joined(r.search_breakdown_mean_ms)}`);
  row('recall_at_10', '', `(${r.queries.passage} passage-like queries, ef ${r.search_ef ?? r.hnsw_params.ef})`);
  row('recall_at_10_word_queries', '', `(${r.queries.word} three-word queries; HNSW ${r.hnsw_query_p50_ms} ms vs brute force ${r.exact_query_ms} ms per query)`);
  if (r.recall_by_ef) lines.push(`    recall@10 passage/word by ef: ${r.recall_by_ef.map((e) => `ef ${e.ef}: ${e.passage}/${e.word} ${e.p50_ms} ms`).join(', ')}`);
  if (r.vector_stats) lines.push(`    vectors: ${joined(r.vector_stats)}`);
  if (r.recall_at_10_vs_float32) {
    const f = r.recall_at_10_vs_float32;
    lines.push(`    against exact search on the float32 vectors (they are stored as float16): passage ${f.passage}, word ${f.word}; exact on float16 vs float32: ${f.exact_float16_vs_float32}`);
  }
  row('reindex_one_file_s', 's', r.reindex_file ? `(${r.reindex_file} handed as the watcher's changed path; median of runs 2-4 of ${r.reindex_one_file_runs_s?.join(', ')}; found by a walk ${r.reindex_one_file_walk_s} s; flush ${r.reindex_flush_hnsw_s} s; no change ${r.reindex_no_change_s} s; a forced HNSW snapshot ${r.snapshot_write_s} s)` : '');
  row('bytes_per_chunk_disk', 'B');
  row('symbol_bytes_per_chunk', 'B', '(symbols, symbol_refs and their indexes, SQLite dbstat; part of bytes_per_chunk_disk)');
  row('symbol_ms_per_chunk', 'ms', r.symbol_detail ? `(symbol extraction ${r.symbol_detail.extract_ms} ms + writes ${r.symbol_detail.store_ms} ms, timed apart: ${((r.symbol_detail.share_of_pipeline ?? 0) * 100).toFixed(1)}% of the pipeline's wall time)` : '');
  row('bytes_per_chunk_rss_peak', 'B', `(peak RSS growth while indexing; peak ${r.rss_peak_mb} MiB, ${r.rss_before_mb} MiB before)`);
  row('bytes_per_chunk_rss_peak_marginal', 'B', `(indexing peak growth per chunk added: ${r.peak_marginal_detail ?? '-'})`);
  row('bytes_per_chunk_rss_open', 'B', r.open_index_ms !== undefined ? `(RSS growth from opening the index, ${r.open_index_ms} ms; ${r.open_to_first_search_ms} ms from process start to first answers)` : '');
  row('onnx_index_s', 's', r.onnx_chunks ? `(generated ONNX test model on cpu, fresh index of ${r.onnx_corpus}: ${r.onnx_chunks} chunks, ${r.onnx_index_tokens_per_s} tokens/s, pad ${r.onnx_pad_factor})` : '');
  if (r.hnsw_grid) lines.push(...gridLines(r.hnsw_grid));
  process.stdout.write(`${lines.join('\n')}\n`);
  if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
}

function gridLines(grid: NonNullable<BenchResult['hnsw_grid']>): string[] {
  const lines = [`HNSW grid on ${grid.vectors} vectors of ${grid.dims} dims, ${grid.queries.join(' + ')} queries: recall@10 passage/word and median ms per query`];
  for (const g of grid.rows) {
    lines.push(
        `  M=${String(g.M).padEnd(2)} efC=${String(g.efConstruction).padEnd(3)} ${g.inserts_per_s.toFixed(0).padStart(4)} inserts/s, ${g.inserts_per_cpu_s.toFixed(0).padStart(4)} per CPU-s, ${(g.bytes_per_vector / 1024).toFixed(1)} KB/vector | ` +
          g.byEf.map((e) => `ef ${e.ef}: ${Object.values(e.recall).map((x) => x.toFixed(3)).join('/')} ${e.p50_ms.toFixed(2)}ms`).join(' | '),
    );
  }
  return lines;
}

/**
 * Child mode: RSS growth from opening an index (SQLite + the HNSW snapshot and its log), measured in a clean
 * process, and the time from the process's start to a semantic and a lexical search answered (a server's
 * start to its first answer, less the MCP handshake).
 */
function childOpen(dataDir: string): void {
  const before = process.memoryUsage().rss;
  const t = performance.now();
  const store = openIndexStore(dataDir);
  const openMs = performance.now() - t;
  const dims = store.getModel()?.dims ?? BENCH_DIMS;
  const query = new Float32Array(dims).map((_, i) => Math.sin(i + 1));
  if (store.semanticSearch(query, 10).length === 0 || store.lexicalSearch('function value', 10).length === 0) throw new Error('bench: the opened index answered nothing');
  const firstSearchMs = performance.now();
  store.counts();
  const rssDelta = process.memoryUsage().rss - before;
  store.close();
  process.stdout.write(`${JSON.stringify({ rssDelta, openMs, firstSearchMs })}\n`);
}

/**
 * Child mode: what each further chunk adds to the indexing peak. Indexes the corpus without its largest
 * top-level part, then adds that part and indexes again (incrementally), in one fresh process: the second
 * run's peak minus the first's, over the chunks it added. The fixed costs (tokenizer, grammars, worker,
 * heaps) are paid in the first run, so they cancel out.
 */
async function childPeak(corpus: string, work: string): Promise<void> {
  // Top-level entries may be files too (any --corpus); the largest one, file or directory, is added second.
  const parts = readdirSync(corpus, { withFileTypes: true })
    .map((entry) => ({ name: entry.name, bytes: entry.isDirectory() ? dirBytes(join(corpus, entry.name)) : statSync(join(corpus, entry.name)).size }))
    .sort((a, b) => b.bytes - a.bytes);
  const tree = join(work, 'peak-tree');
  mkdirSync(tree);
  for (const part of parts.slice(1)) cpSync(join(corpus, part.name), join(tree, part.name), { recursive: true });
  const store = openIndexStore(join(work, 'peak-index'));
  const embedder = new HashedEmbedder();
  const peak = () => process.resourceUsage().maxRSS * 1024;
  const first = await runIndex({ root: tree, store, embedder });
  const peak1 = peak();
  const chunks1 = first.chunks_total;
  cpSync(join(corpus, parts[0].name), join(tree, parts[0].name), { recursive: true });
  const second = await runIndex({ root: tree, store, embedder });
  if (first.state !== 'done' || second.state !== 'done') throw new Error('bench: the peak child could not index');
  store.close();
  process.stdout.write(`${JSON.stringify({ added: parts[0].name, chunks1, chunks2: second.chunks_total, peak1, peak2: peak() })}\n`);
}

if (process.argv[2] === '--child-open') {
  childOpen(process.argv[3]);
} else if (process.argv[2] === '--child-peak') {
  childPeak(process.argv[3], process.argv[4]).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
} else {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

