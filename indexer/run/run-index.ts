import type { Embedder, EmbedOutput } from '../../models/embedder.js';
import { CodecartoError } from '../../models/errors/codecarto-error.js';
import { isAbortError, throwIfAborted } from '../../models/errors/abort-error.js';
import { planBatches, type PlanItem, type PlannedBatch } from './batch-planner.js';
import type { PreparedFile } from '../prepare/prepare-file.js';
import { ChunkTally } from './chunk-tally.js';
import { startingProgress, type IndexProgress, type IndexWait } from './index-progress.js';
import { emptySummary, SECRET_FILES_LISTED, type IndexSummary } from './index-summary.js';
import { storageErrorFrom } from '../../models/errors/storage-error.js';
import { languageForPath } from '../chunk/languages.js';
import { defaultPrepareWorkers, FilePreparer } from '../prepare/file-preparer.js';
import { SECRET_RULES_VERSION } from '../prepare/secrets/secret-scanner.js';
import type { IndexStore } from '../store/store-types.js';
import { SYMBOL_TABLE_META, SYMBOL_TABLE_VERSION } from '../store/symbol-tables.js';
import { PathsNeedWalkError, TooManyFilesError, walkPaths, walkRepository, WalkStats, type WalkedFile, type WalkOptions } from '../walk/walker.js';

export interface IndexRunOptions {
  root: string;
  store: IndexStore;
  embedder: Embedder;
  /** Re-read every file and re-embed every chunk. */
  full?: boolean;
  /** Token budget per chunk (counted with the embedder's tokenizer). */
  chunkTokens?: number;
  maxFileBytes?: number;
  /** More files than this fail the run (TooManyFilesError) before a first index prepares any. */
  fileLimit?: WalkOptions['fileLimit'];
  signal?: AbortSignal;
  /** Called with the live summary and where the run is whenever something moved; cheap, may be called often. */
  onProgress?: (summary: Readonly<IndexSummary>, progress: Readonly<IndexProgress>) => void;
  log?: (message: string) => void;
  /** Clock for `seconds`; injectable for tests. */
  now?: () => number;
  /**
   * Worker threads that read, parse, chunk and tokenize files while the main thread stores
   * (default: one per spare core, at most 4; 0: all on the main thread, one file at a time in walk order).
   */
  prepareWorkers?: number;
  /** Changed files after which an incremental run starts its workers (a fresh or full index starts them at once). */
  workersAfterFiles?: number;
  /**
   * Repo-relative paths a file watcher saw change (files, or directories that appeared): the run looks
   * only at these, by the walker's rules (indexer/walk/walker.ts, walkPaths), and drops what the index
   * holds at or below a path that is gone or now excluded. Ignored (the whole tree is walked) for a full
   * run, a first index, or an index whose files must all be read again (new secret rules, no symbol table).
   */
  changedPaths?: readonly string[] | null;
  /** Counts what the walk looked at (tests, the bench); a fresh one when absent. */
  walkStats?: WalkStats;
}

/** Texts waiting before batches are planned at all. */
const MIN_PLAN = 128;
/** With this many texts waiting, the best batch goes out however loose it is. */
const PLAN_WINDOW = 1024;
/** A full batch this tight (padded / real tokens) goes out at once. */
const TIGHT_PAD = 1.05;
/** The store may write an HNSW snapshot at most this often during a run (it decides whether its log is long enough). */
const FLUSH_INTERVAL_MS = 60_000;
/**
 * An incremental run prepares this many changed files on the main thread before it starts workers:
 * a one-file edit should not pay a worker's start (tokenizer and grammars loaded again, ~0.3 s).
 */
const WORKERS_AFTER_FILES = 32;
/** Meta key: the secret rules every indexed file was last scanned with. */
const SECRET_RULES_META = 'secret_rules';

interface QueuedText extends PlanItem {
  embedText: string;
}

/**
 * One incremental index run as a pipeline: the walk/read/chunk producer writes files to the store
 * and queues texts without vectors; the embedding consumer plans length-sorted batches from the
 * queue and keeps up to `embedder.maxParallelCalls` requests in flight; vectors are stored as
 * each batch arrives. Removed files are dropped once the walk has seen the whole tree.
 */
export async function runIndex(options: IndexRunOptions): Promise<IndexSummary> {
  const { store, embedder } = options;
  // The producer stops when the consumer fails (and vice versa), not only when the caller cancels.
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) inner.abort();
  const signal = inner.signal;
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const started = now();
  const summary = emptySummary();
  const embeds = embedder.provider !== 'none';
  const progress = startingProgress(embeds);
  const report = () => {
    summary.seconds = (now() - started) / 1000;
    progress.chunks_embedded = summary.chunks_embedded;
    progress.chunks_to_embed = summary.chunks_embedded + summary.chunks_pending;
    options.onProgress?.(summary, progress);
  };
  // What each embed call in flight waits for (an endpoint being retried); the oldest is shown.
  const waits = new Map<symbol, IndexWait>();
  const setWait = (key: symbol, wait: IndexWait | null) => {
    if (!(wait ? waits.set(key, wait) : waits.delete(key))) return;
    progress.waiting = [...waits.values()].reduce<IndexWait | null>((a, b) => (a && a.since <= b.since ? a : b), null);
    report();
  };

  if (embeds) prepareModel(store, embedder, options.full === true, log);

  const queue = new Map<string, QueuedText>();
  const inFlight = new Set<string>();
  let producerDone = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const tally = new ChunkTally(summary);
  /** Queues a text for embedding; false when it is queued or in flight already. */
  const enqueue = (textHash: string, embedText: string, counted?: number): boolean => {
    if (queue.has(textHash) || inFlight.has(textHash)) return false;
    // +2: BOS and EOS. Texts left from an earlier run have no count from the chunker and are counted here.
    const tokens = Math.min((counted ?? embedder.tokenizer.count(embedText)) + 2, embedder.maxInputTokens);
    queue.set(textHash, { key: textHash, tokens, embedText });
    summary.chunks_pending = queue.size + inFlight.size;
    // Re-planning is O(n log n): look again every few texts, not after each one.
    if (queue.size >= MIN_PLAN && queue.size % 32 === 0) notify();
    return true;
  };

  if (embeds) for (const p of store.pendingTexts()) enqueue(p.textHash, p.embedText);

  const producer = (async () => {
    try {
      await produce({ ...options, signal }, summary, embeds ? enqueue : null, report, tally, progress);
    } catch (error) {
      inner.abort();
      throw error;
    } finally {
      producerDone = true;
      if (embeds) progress.phase = 'embedding';
      report();
      notify();
    }
  })();
  const consumer = embeds
    ? consume().catch((error: unknown) => {
        inner.abort();
        throw error;
      })
    : Promise.resolve();

  async function consume(): Promise<void> {
    let lastFlush = now();
    const running = new Set<Promise<void>>();
    let failure: unknown = null;
    const dispatch = (batch: PlannedBatch<QueuedText>) => {
      for (const item of batch.items) {
        queue.delete(item.key);
        inFlight.add(item.key);
      }
      const task = embedBatch(batch.items, batch.paddedTokens)
        .catch((error: unknown) => {
          failure ??= error;
        })
        .finally(() => {
          running.delete(task);
          notify();
        });
      running.add(task);
    };
    for (;;) {
      if (failure) throw failure;
      throwIfAborted(signal);
      if (running.size >= Math.max(1, embedder.maxParallelCalls)) {
        await Promise.race(running);
        continue;
      }
      const batch = producerDone || queue.size >= MIN_PLAN ? nextBatch([...queue.values()], embedder, producerDone || queue.size >= PLAN_WINDOW) : null;
      if (!batch && !producerDone) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      if (queue.size === 0) {
        if (running.size > 0) {
          await Promise.race(running);
          continue;
        }
        // Sweep: a model change mid-run or an earlier failed run can leave texts without vectors.
        for (const p of store.pendingTexts()) enqueue(p.textHash, p.embedText);
        if (queue.size === 0) break;
      }
      if (batch) dispatch(batch);
      if (now() - lastFlush > FLUSH_INTERVAL_MS) {
        store.flushVectorIndex({ periodic: true });
        lastFlush = now();
      }
    }
    await Promise.all(running);
    if (failure) throw failure;
  }

  async function embedBatch(items: QueuedText[], paddedTokens: number): Promise<void> {
    throwIfAborted(signal);
    const waitKey = Symbol('embed call');
    let output: EmbedOutput;
    try {
      output = await embedder.embed({
        texts: items.map((i) => i.embedText),
        purpose: 'passage',
        signal,
        onWait: (wait) => setWait(waitKey, wait),
      });
    } finally {
      setWait(waitKey, null);
    }
    const { embeddings } = output;
    if (embeddings.length !== items.length) {
      throw new CodecartoError(`The embedder returned ${embeddings.length} vectors for ${items.length} texts.`);
    }
    const dims = embeddings[0]?.length ?? 0;
    if (store.getModel()?.dims !== dims || store.getModel()?.modelId !== embedder.modelId) {
      if (store.setModel({ modelId: embedder.modelId, dims, distance: 'cosine' })) {
        tally.vectorsDropped();
        log(`index: vectors of another model or size were dropped; every chunk is re-embedded with ${embedder.modelId} (${dims} dims)`);
      }
    }
    store.putVectors(items.map((item, i) => ({ textHash: item.key, vector: embeddings[i] })));
    tally.vectorsStored(items.map((item) => item.key));
    for (const item of items) {
      inFlight.delete(item.key);
      summary.tokens_embedded += item.tokens;
    }
    summary.chunks_embedded += items.length;
    summary.tokens_padded += paddedTokens;
    summary.chunks_pending = queue.size + inFlight.size;
    report();
  }

  const results = await Promise.allSettled([producer, consumer]);
  options.signal?.removeEventListener('abort', onAbort);
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  // The root cause wins over the AbortError it caused on the other side.
  const failed = rejected.find((r) => !isAbortError(r.reason)) ?? rejected[0];
  // Whatever happened, what is stored stays stored and the HNSW file matches it.
  if (embeds) {
    try {
      store.flushVectorIndex();
    } catch (error) {
      log(`index: could not write the vector index file: ${(error as Error).message}`);
    }
  }
  summary.chunks_pending = embeds ? store.countPending() : 0;
  tally.finish(store, store.counts(), embeds);
  summary.seconds = (now() - started) / 1000;
  if (failed) {
    const error = failed.reason;
    if (isAbortError(error) && options.signal?.aborted) {
      summary.state = 'cancelled';
    } else {
      summary.state = 'failed';
      summary.error = describeFailure(error, summary, store.dataDir);
    }
  } else {
    summary.state = 'done';
  }
  report();
  return summary;
}

/**
 * Plans everything waiting and picks one batch to send, or null to wait for more texts. The tightest
 * full batch (padded / real tokens lowest) goes first; while the walk goes on, loose batches from
 * sparse length ranges wait for neighbours. A fast embedder thus waits for the walk (which is then the
 * bottleneck anyway) and a slow one always has a long queue: either way the pad factor stays near
 * the one of a plan over the whole repository.
 */
function nextBatch(waiting: QueuedText[], embedder: Embedder, sendAnyway: boolean): PlannedBatch<QueuedText> | null {
  const limits = { maxTexts: embedder.maxBatchSize, tokenBudget: embedder.tokenBudget };
  const batches = planBatches(waiting, limits);
  if (batches.length === 0) return null;
  const full = batches.filter((b) => b.items.length >= limits.maxTexts || b.paddedTokens >= 0.9 * limits.tokenBudget);
  const pad = (b: PlannedBatch<QueuedText>) => b.paddedTokens / Math.max(1, b.tokens);
  const best = (full.length > 0 ? full : batches).reduce((a, b) => (pad(b) < pad(a) ? b : a));
  if (sendAnyway) return best;
  return full.includes(best) && pad(best) <= TIGHT_PAD ? best : null;
}

/** Drops vectors that cannot be mixed with the embedder's before anything is embedded. */
function prepareModel(store: IndexStore, embedder: Embedder, full: boolean, log: (m: string) => void): void {
  const recorded = store.getModel();
  if (full) {
    store.clearVectors();
    return;
  }
  if (!recorded) return;
  const sameModel = recorded.modelId === embedder.modelId;
  const sameDims = embedder.dimensions === null || embedder.dimensions === recorded.dims;
  if (!sameModel || !sameDims) {
    log(`index: the index holds vectors of ${recorded.modelId} (${recorded.dims} dims); re-embedding everything with ${embedder.modelId}`);
    store.clearVectors();
  }
}

function describeFailure(error: unknown, summary: IndexSummary, dataDir: string): string {
  const storage = storageErrorFrom(error, dataDir);
  if (storage) return storage.message;
  // Its message says what to do; an incremental run that met it stored nothing new worth counting.
  if (error instanceof TooManyFilesError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  const kept = `${summary.chunks_embedded} chunk texts embedded in this run are stored; the next index embeds only the ${summary.chunks_pending} still missing.`;
  return `${message} ${kept}`;
}

/** Walks the tree, writes changed files and their chunks, queues texts that need vectors, drops removed files. */
async function produce(
  options: IndexRunOptions,
  summary: IndexSummary,
  enqueue: ((textHash: string, embedText: string, tokens?: number) => boolean) | null,
  report: () => void,
  tally: ChunkTally,
  progress: IndexProgress,
): Promise<void> {
  const { store, embedder, signal } = options;
  const walkOptions = { maxFileBytes: options.maxFileBytes, signal, fileLimit: options.fileLimit };
  const stats = options.walkStats ?? new WalkStats();
  // The watcher's changed paths stand in for the walk only once a complete walk indexed the tree with the current rules.
  let paths =
    options.changedPaths && !options.full && store.getMeta(SECRET_RULES_META) === SECRET_RULES_VERSION && store.getMeta(SYMBOL_TABLE_META) === SYMBOL_TABLE_VERSION
      ? options.changedPaths
      : null;
  let files: AsyncGenerator<WalkedFile> | null = null;
  if (paths) {
    const changed = walkPaths(options.root, paths, walkOptions, stats);
    try {
      // Peeked: walkPaths refuses (before yielding anything) paths it cannot decide without the full walk.
      const first = await changed.next();
      files = (async function* () {
        if (first.done) return;
        yield first.value;
        yield* changed;
      })();
    } catch (error) {
      if (!(error instanceof PathsNeedWalkError)) throw error;
      options.log?.(`index: walking the whole tree (${error.message})`);
      paths = null;
    }
  }
  const catalog = store.listFiles(paths ?? undefined);
  const firstIndex = !paths && catalog.size === 0;
  if (options.fileLimit && firstIndex) {
    // A first index would prepare every file before its walk met the limit: count them first (stat only).
    let counted = 0;
    for await (const _file of walkRepository(options.root, walkOptions, new WalkStats())) {
      // Counting only; the walk throws TooManyFilesError past the limit.
      counted++;
    }
    // So a first index's progress has its total from the start (the walk below sets the exact one).
    progress.files_total = counted;
    report();
  }
  files ??= walkRepository(options.root, walkOptions, stats);
  // A paths run meets the file limit as the walk would: the files indexed plus the new ones it finds.
  let indexedFiles: number | null = null;
  let newFiles = 0;
  const seen = new Set<string>();
  // Files indexed before the current secret rules (or before there were any), or before the symbol table,
  // are read and scanned again once, unchanged or not; their chunks keep their vectors, so nothing is re-embedded.
  const secretsChanged = !firstIndex && store.getMeta(SECRET_RULES_META) !== SECRET_RULES_VERSION;
  const symbolsMissing = !firstIndex && store.getMeta(SYMBOL_TABLE_META) !== SYMBOL_TABLE_VERSION;
  const rescan = secretsChanged || symbolsMissing;
  if (secretsChanged) options.log?.('index: scanning every file for secrets again (the secret rules changed since the last index)');
  if (symbolsMissing) options.log?.('index: reading every file again to fill the symbol table (the index was made without it); no chunk is re-embedded');
  const maxTokens = Math.min(options.chunkTokens ?? 512, embedder.maxInputTokens - 32);
  const skip = (reason: string) => {
    summary.files_skipped[reason] = (summary.files_skipped[reason] ?? 0) + 1;
  };
  let lastReport = 0;
  /** One more file the run is through with (stored, unchanged or skipped). */
  const fileDone = () => {
    progress.files_done++;
    if (Date.now() - lastReport > 250) {
      lastReport = Date.now();
      report();
    }
  };
  const preparer = new FilePreparer({ tokenizer: embedder.tokenizer, workers: options.prepareWorkers ?? defaultPrepareWorkers(), log: options.log });
  const workersAfter = firstIndex || options.full || rescan ? 0 : (options.workersAfterFiles ?? WORKERS_AFTER_FILES);
  // Files being prepared, stored in walk order as their results arrive.
  const window: { file: WalkedFile; language: string; result: Promise<PreparedFile> }[] = [];
  let prepared = 0;

  try {
    for await (const file of files) {
      throwIfAborted(signal);
      summary.files_scanned++;
      const known = catalog.get(file.path);
      if (paths && !known && options.fileLimit) {
        indexedFiles ??= store.counts().files;
        if (indexedFiles + ++newFiles > options.fileLimit.max) throw new TooManyFilesError(options.root, options.fileLimit.max, options.fileLimit.advice);
      }
      if (known && !options.full && !rescan && known.size === file.size && known.mtimeMs === file.mtimeMs) {
        seen.add(file.path);
        fileDone();
        continue;
      }
      const language = languageForPath(file.path);
      if (!language) {
        skip('unsupported');
        fileDone();
        continue;
      }
      if (prepared++ >= workersAfter) preparer.usePool();
      const result = preparer.prepare({
        path: file.path,
        absPath: file.absPath,
        language,
        maxTokens,
        maxFileBytes: options.maxFileBytes,
        knownHash: options.full || rescan ? undefined : known?.hash,
      });
      result.catch(() => {}); // awaited below in order; this only keeps a failure from being "unhandled" meanwhile
      window.push({ file, language, result });
      while (window.length >= preparer.window) await storeNext();
    }
    progress.files_total = summary.files_scanned;
    report();
    while (window.length > 0) await storeNext();
  } finally {
    await preparer.close();
  }
  // The whole tree was read with these rules (a cancelled or failed walk throws before this).
  if (firstIndex || rescan || options.full) {
    store.setMeta(SECRET_RULES_META, SECRET_RULES_VERSION);
    store.setMeta(SYMBOL_TABLE_META, SYMBOL_TABLE_VERSION);
  }
  for (const [reason, count] of Object.entries(stats.skipped)) {
    if (count > 0) summary.files_skipped[reason] = (summary.files_skipped[reason] ?? 0) + count;
  }

  const removed = [...catalog.keys()].filter((path) => !seen.has(path));
  if (removed.length > 0) {
    summary.chunks_deleted += store.removeFiles(removed);
    summary.files_removed += removed.length;
  }
  store.collectGarbage();
  report();

  async function storeNext(): Promise<void> {
    const { file, language, result } = window.shift()!;
    const prepared = await result;
    throwIfAborted(signal);
    if (storeFile(file, language, prepared)) seen.add(file.path);
    fileDone();
  }

  function noteSecret(path: string): void {
    if (summary.secret_files.length < SECRET_FILES_LISTED) summary.secret_files.push(path);
  }

  function storeFile(file: WalkedFile, language: string, prepared: PreparedFile): boolean {
    if (prepared.kind === 'skipped') {
      skip(prepared.reason);
      if (prepared.reason === 'secret') {
        noteSecret(file.path);
        options.log?.(`index: ${file.path} is not indexed: it holds a secret (${prepared.detail ?? 'secret'})`);
      }
      return false;
    }
    if (prepared.kind === 'unchanged') {
      store.touchFile(file.path, prepared.size, prepared.mtimeMs);
      return true;
    }
    const inputs = prepared.chunks;
    const missing = enqueue ? new Set(store.missingVectors(inputs.map((c) => c.textHash))) : new Set<string>();
    store.upsertFile({ path: file.path, size: prepared.size, mtimeMs: prepared.mtimeMs, hash: prepared.hash, language }, inputs, prepared.symbols);
    const before = catalog.get(file.path);
    // A file re-read only to scan it with new secret rules has not changed.
    if (before && !(rescan && !options.full && before.hash === prepared.hash)) summary.files_changed++;
    else if (!before) summary.files_added++;
    if (prepared.secretChunks) {
      summary.chunks_skipped_secret += prepared.secretChunks;
      noteSecret(file.path);
      options.log?.(`index: ${file.path}: ${prepared.secretChunks} chunks left out, they hold secrets (${prepared.secretRules?.join(', ')})`);
    }
    for (const input of inputs) {
      if (!enqueue) tally.stored(input.textHash, 'no-provider');
      else if (missing.has(input.textHash)) tally.stored(input.textHash, { queued: enqueue(input.textHash, input.embedText, input.tokens) });
      else tally.stored(input.textHash, 'has-vector');
    }
    return true;
  }
}
