import type { Embedder } from '../models/embedder.js';
import { isAbortError } from '../models/errors.js';
import { calibrateFusion } from './fusion-calibration.js';
import { storedFusion } from './fusion-weights.js';
import { emptySummary, type IndexSummary } from './index-summary.js';
import { runIndex, type IndexRunOptions } from './indexer.js';
import type { IndexStore } from './store/store-types.js';

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
}

/**
 * One background index run. Callers wait on it for a while and may leave; the run goes on until it
 * finishes or `cancel()` is called. Listeners hear every progress step.
 */
export class IndexJob {
  readonly startedAt = Date.now();
  readonly done: Promise<IndexSummary>;
  private readonly controller = new AbortController();
  private latest: IndexSummary = emptySummary();
  private readonly listeners = new Set<(summary: Readonly<IndexSummary>) => void>();
  private finished = false;
  /** The index run itself has ended (a calibration may still follow). */
  private stored = false;

  constructor(options: IndexJobOptions) {
    this.done = runIndex({
      ...options,
      signal: this.controller.signal,
      onProgress: (summary) => {
        this.latest = { ...summary, files_skipped: { ...summary.files_skipped } };
        for (const listener of this.listeners) listener(this.latest);
      },
    }).then(
      async (summary) => {
        this.stored = true;
        if (summary.state === 'done') await this.calibrate(options);
        this.finished = true;
        this.latest = summary;
        return summary;
      },
      (error: unknown) => {
        // runIndex reports failures in its summary; anything thrown here is a bug, still reported as data.
        this.stored = true;
        this.finished = true;
        this.latest = { ...this.latest, state: 'failed', error: `Indexing crashed: ${(error as Error)?.message ?? error}` };
        return this.latest;
      },
    );
  }

  /**
   * After a complete run with a new model (or a full re-index): calibrates hybrid search's fusion on the
   * history (indexer/fusion-calibration.ts). Its failure costs the calibration, never the index.
   */
  private async calibrate(options: IndexJobOptions): Promise<void> {
    const { store, embedder } = options;
    try {
      if (embedder.provider === 'none' || !store.hasVectors()) return;
      if (!options.full && storedFusion(store, embedder.modelId)) return;
      await calibrateFusion({ root: options.root, store, embedder, signal: this.controller.signal, log: options.log });
    } catch (error) {
      if (!isAbortError(error)) options.log(`fusion: calibration failed, hybrid search keeps plain fusion: ${(error as Error).message}`);
    }
  }

  get summary(): Readonly<IndexSummary> {
    return this.latest;
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

  onProgress(listener: (summary: Readonly<IndexSummary>) => void): () => void {
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
