/**
 * Dynamic batching across concurrent callers (the embedding server's requests).
 *
 * Callers submit lists of items (texts with token counts). Whenever the model is idle, every item still
 * waiting, from every caller, is planned together with `planBatches` (sorted by token length, packed to
 * the token budget) and ONE batch runs; items that arrive meanwhile join the next plan. So concurrent
 * requests share padded batches instead of each padding its own, and there is one model run at a time.
 *
 * Fairness: the batch that runs is the first planned batch holding an item of the oldest waiting caller.
 * Each run therefore finishes at least one of that caller's items, so a caller waits at most as many runs
 * as there are items ahead of it plus its own: no caller starves behind a stream of newer, shorter ones.
 *
 * Padding: with few items waiting, filling the budget greedily mixes lengths (16 texts of 100 tokens and
 * 4 of 400 pad to 20 x 400 = 2.5x the real tokens). So only the stretch of that batch (still holding an
 * item of the oldest caller) with the lowest cost per real token runs, a run costing its padded tokens plus
 * a fixed overhead; what is left joins the next plan, where it meets texts of its own length.
 */
import { planBatches, type PlanItem } from '../../indexer/run/batch-planner.js';
import { AbortError } from '../../models/errors/abort-error.js';
import { LearnedBatchLimits } from '../../models/learned-batch-limits.js';

export interface BatchItem {
  /** Tokens the model computes for this item, special tokens included. */
  tokens: number;
}

export interface BatchRunStats {
  texts: number;
  /** Distinct callers whose items shared this run. */
  requests: number;
  tokens: number;
  /** texts x longest: what the model computes, padding included. */
  paddedTokens: number;
  seconds: number;
}

export interface EmbeddingBatcherOptions<T extends BatchItem, R> {
  /** Most items per run. */
  maxTexts: number;
  /** Most padded tokens (items x longest) per run; a single longer item still runs alone. */
  tokenBudget: number;
  /** Runs one batch; returns one result per item, in order. Never called twice at once. */
  run(items: T[]): Promise<R[]>;
  /**
   * True when a failed run of several items should be split in half and retried (out of memory). Such
   * failures lower the limits for later runs; runs that work raise them back (LearnedBatchLimits).
   */
  isBatchTooLarge?(error: unknown): boolean;
  /**
   * Fixed cost of one run, in tokens' worth of compute (default 256: a 7B model reads its weights once per
   * run). Higher values favour fuller runs, lower values less padding.
   */
  runOverheadTokens?: number;
  onRun?(stats: BatchRunStats): void;
  log?(message: string): void;
}

interface Caller<T, R> {
  seq: number;
  results: R[];
  /** Items not yet handed to a run. */
  waiting: Entry<T, R>[];
  /** Items handed to a run and not yet answered. */
  running: number;
  settled: boolean;
  resolve(results: R[]): void;
  reject(error: unknown): void;
}

interface Entry<T, R> extends PlanItem {
  caller: Caller<T, R>;
  index: number;
  item: T;
}

export class EmbeddingBatcher<T extends BatchItem, R> {
  private readonly options: EmbeddingBatcherOptions<T, R>;
  /** Callers with items still waiting, oldest first. */
  private queue: Caller<T, R>[] = [];
  private busy = false;
  private nextSeq = 0;
  private readonly limits: LearnedBatchLimits;
  private idleWaiters: (() => void)[] = [];

  constructor(options: EmbeddingBatcherOptions<T, R>) {
    this.options = options;
    this.limits = new LearnedBatchLimits({ texts: Math.max(1, Math.floor(options.maxTexts)), tokens: Math.max(1, Math.floor(options.tokenBudget)) });
  }

  /** Items waiting for a run, over all callers. */
  get queuedItems(): number {
    let count = 0;
    for (const caller of this.queue) count += caller.waiting.length;
    return count;
  }

  /** Callers with items waiting for a run. */
  get queuedCallers(): number {
    return this.queue.length;
  }

  /** The budget in use: lower than configured after a run failed as too large, until runs that work raise it. */
  get currentTokenBudget(): number {
    return this.limits.tokens;
  }

  /** Resolves with one result per item, in the order given. Aborting drops the items still waiting. */
  submit(items: T[], signal?: AbortSignal): Promise<R[]> {
    if (signal?.aborted) return Promise.reject(new AbortError());
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      const caller: Caller<T, R> = {
        seq: this.nextSeq++,
        results: new Array<R>(items.length),
        waiting: [],
        running: 0,
        settled: false,
        resolve,
        reject,
      };
      caller.waiting = items.map((item, index) => ({ key: `${caller.seq}:${index}`, tokens: item.tokens, caller, index, item }));
      const onAbort = () => this.fail(caller, new AbortError('The request was cancelled.'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => signal?.removeEventListener('abort', onAbort);
      caller.resolve = (results) => {
        cleanup();
        resolve(results);
      };
      caller.reject = (error) => {
        cleanup();
        reject(error);
      };
      this.queue.push(caller);
      this.pump();
    });
  }

  /** Resolves once nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (this.busy) return;
    if (this.queue.length === 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
      return;
    }
    const oldest = this.queue[0];
    const entries = this.queue.flatMap((caller) => caller.waiting);
    const plan = planBatches(entries, { maxTexts: this.limits.texts, tokenBudget: this.limits.tokens });
    const chosen = plan.find((batch) => batch.items.some((entry) => entry.caller === oldest)) ?? plan[0];
    const run = cheapestStretch(chosen.items, oldest, this.options.runOverheadTokens ?? DEFAULT_RUN_OVERHEAD_TOKENS);
    const taken = new Set(run);
    for (const caller of this.queue) {
      const before = caller.waiting.length;
      caller.waiting = caller.waiting.filter((entry) => !taken.has(entry));
      caller.running += before - caller.waiting.length;
    }
    this.queue = this.queue.filter((caller) => caller.waiting.length > 0);
    this.busy = true;
    void this.runSplitting(run).finally(() => {
      this.busy = false;
      this.pump();
    });
  }

  /** Runs `entries`; a too-large failure of several items lowers the budget and runs each half. */
  private async runSplitting(entries: Entry<T, R>[]): Promise<void> {
    const live = entries.filter((entry) => !entry.caller.settled);
    if (live.length === 0) return;
    const started = performance.now();
    let results: R[];
    try {
      results = await this.options.run(live.map((entry) => entry.item));
      if (results.length !== live.length) throw new Error(`The model returned ${results.length} results for ${live.length} texts.`);
    } catch (error) {
      if (live.length > 1 && this.options.isBatchTooLarge?.(error)) {
        const padded = live.length * Math.max(...live.map((entry) => entry.tokens));
        this.limits.recordOutOfMemory(live.length, padded);
        this.options.log?.(
          `a batch of ${live.length} texts (${padded} padded tokens) was too large; splitting it and using at most ` +
            `${this.limits.texts} texts and ${this.limits.tokens} padded tokens per run until ${this.limits.successesToGrow} runs in a row work`,
        );
        const half = Math.ceil(live.length / 2);
        await this.runSplitting(live.slice(0, half));
        await this.runSplitting(live.slice(half));
        return;
      }
      for (const caller of new Set(live.map((entry) => entry.caller))) this.fail(caller, error);
      return;
    }
    let tokens = 0;
    let longest = 0;
    const callers = new Set<Caller<T, R>>();
    live.forEach((entry, i) => {
      tokens += entry.tokens;
      longest = Math.max(longest, entry.tokens);
      callers.add(entry.caller);
      const caller = entry.caller;
      if (caller.settled) return; // cancelled while running
      caller.results[entry.index] = results[i];
      caller.running--;
      if (caller.running === 0 && caller.waiting.length === 0) {
        caller.settled = true;
        caller.resolve(caller.results);
      }
    });
    const change = this.limits.recordSuccess(live.length, live.length * longest);
    if (change && change.kind !== 'shrunk') {
      this.options.log?.(`runs at the lowered limits worked; trying at most ${change.texts} texts and ${change.tokens} padded tokens per run`);
    }
    this.options.onRun?.({
      texts: live.length,
      requests: callers.size,
      tokens,
      paddedTokens: live.length * longest,
      seconds: (performance.now() - started) / 1000,
    });
  }

  private fail(caller: Caller<T, R>, error: unknown): void {
    if (caller.settled) return;
    caller.settled = true;
    caller.waiting = [];
    this.queue = this.queue.filter((c) => c !== caller);
    caller.reject(error);
    if (!this.busy && this.queue.length === 0) this.pump(); // wakes idle() waiters
  }
}

const DEFAULT_RUN_OVERHEAD_TOKENS = 256;

/**
 * The consecutive stretch of `sorted` (ascending tokens) holding at least one item of `caller` with the
 * lowest (overhead + count x longest) / real tokens. At most maxTexts^2 / 2 stretches: a few thousand.
 */
function cheapestStretch<T, R>(sorted: Entry<T, R>[], caller: Caller<T, R>, overhead: number): Entry<T, R>[] {
  let best: [number, number] = [0, sorted.length];
  let bestCost = Infinity;
  for (let start = 0; start < sorted.length; start++) {
    let real = 0;
    let holdsCaller = false;
    for (let end = start + 1; end <= sorted.length; end++) {
      const entry = sorted[end - 1];
      real += entry.tokens;
      holdsCaller ||= entry.caller === caller;
      if (!holdsCaller) continue;
      const cost = (overhead + (end - start) * entry.tokens) / Math.max(1, real);
      if (cost < bestCost) {
        bestCost = cost;
        best = [start, end];
      }
    }
  }
  return sorted.slice(best[0], best[1]);
}
