import type { Embedder } from '../../models/embedder.js';
import { isAbortError } from '../../models/errors/abort-error.js';
import { calibrateFusion } from '../history/fusion-calibration.js';
import { storedFusion } from '../search/fusion-weights.js';
import { startingProgress, type IndexProgress } from './index-progress.js';
import { emptySummary, type IndexSummary } from './index-summary.js';
import { runIndex, type IndexRunOptions } from './run-index.js';
import type { IndexStore } from '../store/store-types.js';

export interface IndexJobOptions {
  root: string;
  store: IndexStore;
  embedder: Embedder;
  full: boolean;
  log: (message: string) => void;
  /** Passed to runIndex (undefined: its default). */
  prepareWorkers?: number;
  /** Passed to runIndex: a tree with more files fails the run. */
  fileLimit?: IndexRunOptions['fileLimit'];
  /** Passed to runIndex: a watcher's changed paths (null or absent: walk the tree). */
  changedPaths?: IndexRunOptions['changedPaths'];
}

/** An embedding request unanswered this long is shown as a wait (a batch normally takes well under it). */
const SLOW_ANSWER_MS = 10_000;

/**
 * One background index run. Callers wait on it for a while and may leave; the run goes on until it
 * finishes or `cancel()` is called. Listeners hear every progress step.
 */
export class IndexJob {
  readonly startedAt = Date.now();
  readonly done: Promise<IndexSummary>;
  private readonly controller = new AbortController();
  private latest: IndexSummary = emptySummary();
  private latestProgress: IndexProgress;
  private readonly listeners = new Set<(summary: Readonly<IndexSummary>, progress: Readonly<IndexProgress>) => void>();
  private readonly embedder: Embedder;
  private finished = false;
  /** The index run itself has ended (a calibration may still follow). */
  private stored = false;

  constructor(options: IndexJobOptions) {
    this.embedder = options.embedder;
    this.latestProgress = startingProgress(options.embedder.provider !== 'none');
    this.done = runIndex({
      ...options,
      signal: this.controller.signal,
      onProgress: (summary, progress) => {
        this.latest = { ...summary, files_skipped: { ...summary.files_skipped } };
        this.latestProgress = { ...progress };
        this.emit();
      },
    }).then(
      async (summary) => {
        this.stored = true;
        if (summary.state === 'done') await this.calibrate(options);
        this.finished = true;
        this.latest = summary;
        this.latestProgress = { ...this.latestProgress, phase: 'finished', waiting: null };
        return summary;
      },
      (error: unknown) => {
        // runIndex reports failures in its summary; anything thrown here is a bug, still reported as data.
        this.stored = true;
        this.finished = true;
        this.latest = { ...this.latest, state: 'failed', error: `Indexing crashed: ${(error as Error)?.message ?? error}` };
        this.latestProgress = { ...this.latestProgress, phase: 'finished', waiting: null };
        return this.latest;
      },
    );
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.latest, this.latestProgress);
  }

  /**
   * After a complete run with a new model (or a full re-index): calibrates hybrid search's fusion on the
   * history (indexer/history/fusion-calibration.ts). Its failure costs the calibration, never the index.
   */
  private async calibrate(options: IndexJobOptions): Promise<void> {
    const { store, embedder } = options;
    try {
      if (embedder.provider === 'none' || !store.hasVectors()) return;
      if (!options.full && storedFusion(store, embedder.modelId)) return;
      this.latestProgress = { ...this.latestProgress, phase: 'calibrating', waiting: null };
      this.emit();
      await calibrateFusion({ root: options.root, store, embedder, signal: this.controller.signal, log: options.log });
    } catch (error) {
      if (!isAbortError(error)) options.log(`fusion: calibration failed, hybrid search keeps plain fusion: ${(error as Error).message}`);
    }
  }

  get summary(): Readonly<IndexSummary> {
    return this.latest;
  }

  /**
   * Where the run is now. Besides what the run reported, a request the endpoint has not answered for
   * SLOW_ANSWER_MS counts as waiting (asked at any time, so a display's clock shows it growing).
   */
  get progress(): Readonly<IndexProgress> {
    const progress = this.latestProgress;
    if (progress.waiting || this.finished) return progress;
    const endpoint = this.embedder.endpointState?.();
    if (!endpoint?.waitingSince || Date.now() - endpoint.waitingSince < SLOW_ANSWER_MS) return progress;
    const texts = `${endpoint.waitingTexts} text${endpoint.waitingTexts === 1 ? '' : 's'}`;
    return { ...progress, waiting: { what: `the embedding endpoint to answer (${texts})`, since: endpoint.waitingSince } };
  }

  /** Until the run and its calibration have finished: a second run would join this one. */
  get running(): boolean {
    return !this.finished;
  }

  /** Until every file of the run is stored; search results are partial meanwhile. */
  get indexing(): boolean {
    return !this.stored;
  }

  cancel(): void {
    this.controller.abort();
  }

  onProgress(listener: (summary: Readonly<IndexSummary>, progress: Readonly<IndexProgress>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the final summary, or with the live one (state "running") once `ms` have passed. */
  async waitFor(ms: number, signal?: AbortSignal): Promise<Readonly<IndexSummary>> {
    if (!this.running) return this.latest;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      onAbort = () => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    return this.latest;
  }
}
