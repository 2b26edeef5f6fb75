/**
 * Runs file preparation (read, parse, chunk, tokenize: indexer/prepare/prepare-file.ts) on worker threads, so
 * the main thread's store writes and HNSW inserts overlap it on another core. A worker that cannot start
 * or dies hands its files back to the main thread: the run slows down, it never loses a file.
 */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TextTokenizer, TokenizerFiles } from '../../models/tokenizer.js';
import { prepareFile, type PreparedFile, type PrepareTask } from './prepare-file.js';

export interface PrepareWorkerData {
  tokenizer: TokenizerFiles;
  tokenizerId: string;
}
export interface PrepareRequest {
  id: number;
  task: PrepareTask;
}
export type PrepareResponse = { id: number; result: PreparedFile } | { id: number; error: { message: string; code?: string } };

/**
 * Tasks queued per worker: enough to keep it busy while the main thread stores earlier results (it blocks
 * ~0.2 s per batch of vectors inserted). Measured on the bench corpus: 8 left each thread idle a fifth of
 * the run; 32 made the pipeline 1.14x faster; 96 was no faster.
 */
const TASKS_PER_WORKER = 32;

/**
 * Caps a worker's V8 heap. Uncapped, V8 lets the old generation grow to several times its live size
 * before collecting (+125 MB peak RSS measured on the bench corpus); the live set is the tokenizer
 * (~55 MB of heap for Mistral's 1.8 MB tokenizer.json) and one file's chunks. A worker that still runs out
 * hands its files back to the main thread.
 */
function workerResourceLimits(files: TokenizerFiles): { maxYoungGenerationSizeMb: number; maxOldGenerationSizeMb: number } {
  let tokenizerMb = 2;
  try {
    tokenizerMb = statSync(files.tokenizerJson).size / 2 ** 20;
  } catch {
    // The worker reports the missing file itself.
  }
  return { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: Math.max(96, Math.ceil(48 + 30 * tokenizerMb)) };
}

/** One worker per core beyond the main thread's, at most 4 (the GPU is the bottleneck long before). */
export function defaultPrepareWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

interface Slot {
  worker: Worker;
  pending: Map<number, { task: PrepareTask; resolve: (r: PreparedFile) => void; reject: (e: Error) => void }>;
}

/**
 * Prepares files on the main thread or on workers, started on demand by {@link usePool}. Results come
 * back per task; callers keep their own order.
 */
export class FilePreparer {
  private readonly tokenizer: TextTokenizer;
  private readonly workerCount: number;
  private readonly log: (message: string) => void;
  private slots: Slot[] = [];
  private nextId = 1;
  private failed = false;

  constructor(options: { tokenizer: TextTokenizer; workers: number; log?: (message: string) => void }) {
    this.tokenizer = options.tokenizer;
    this.workerCount = Math.max(0, Math.floor(options.workers));
    this.log = options.log ?? (() => {});
  }

  /** True once workers run the tasks. */
  get pooled(): boolean {
    return this.slots.length > 0;
  }

  /** Tasks a caller should keep in flight: one on the main thread (reads stay in walk order), more with workers. */
  get window(): number {
    return this.pooled ? this.slots.length * TASKS_PER_WORKER : 1;
  }

  /**
   * Starts the workers, unless there are none to start, the tokenizer cannot be loaded from files in
   * another thread, or workers failed before. Returns whether tasks now go to workers.
   */
  usePool(): boolean {
    if (this.pooled || this.failed || this.workerCount === 0) return this.pooled;
    const files = this.tokenizer.files;
    const script = workerScript();
    if (!files || !script) return false;
    const data: PrepareWorkerData = { tokenizer: files, tokenizerId: this.tokenizer.id };
    const limits = workerResourceLimits(files);
    for (let i = 0; i < this.workerCount; i++) this.slots.push(this.startWorker(script, data, limits));
    this.log(`index: preparing files on ${this.workerCount} worker thread${this.workerCount === 1 ? '' : 's'}`);
    return true;
  }

  prepare(task: PrepareTask): Promise<PreparedFile> {
    const slot = this.pickSlot();
    if (!slot) return prepareFile(task, this.tokenizer);
    const id = this.nextId++;
    return new Promise<PreparedFile>((resolve, reject) => {
      slot.pending.set(id, { task, resolve, reject });
      slot.worker.postMessage({ id, task } satisfies PrepareRequest);
    });
  }

  /** Stops the workers. Tasks still pending (the run failed or was cancelled) are rejected. */
  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    await Promise.all(
      slots.map(async (slot) => {
        slot.worker.removeAllListeners();
        // A late 'error' after removeAllListeners would be thrown as uncaught.
        slot.worker.on('error', () => {});
        for (const { reject } of slot.pending.values()) reject(new Error('file preparation stopped: the index run ended'));
        slot.pending.clear();
        await slot.worker.terminate();
      }),
    );
  }

  private pickSlot(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots) if (!best || slot.pending.size < best.pending.size) best = slot;
    return best;
  }

  private startWorker(script: URL, data: PrepareWorkerData, resourceLimits: ReturnType<typeof workerResourceLimits>): Slot {
    const worker = new Worker(script, { workerData: data, resourceLimits });
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (response: PrepareResponse) => {
      const waiting = slot.pending.get(response.id);
      if (!waiting) return;
      slot.pending.delete(response.id);
      if ('result' in response) waiting.resolve(response.result);
      else waiting.reject(Object.assign(new Error(response.error.message), { code: response.error.code }));
    });
    const lost = (why: string) => {
      if (!this.slots.includes(slot)) return;
      this.slots = this.slots.filter((s) => s !== slot);
      this.failed = true;
      this.log(`index: a file preparation worker stopped (${why}); preparing files on the main thread`);
      this.rescue(slot);
      void worker.terminate();
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return slot;
  }

  /** Runs a lost worker's pending tasks on the main thread (or another worker). */
  private rescue(slot: Slot): void {
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const { task, resolve, reject } of pending) this.prepare(task).then(resolve, reject);
  }
}

/**
 * The compiled worker beside this module; from the TypeScript sources (vitest) the one `npm run build`
 * wrote to dist/. Null when neither exists: files are then prepared on the main thread.
 */
function workerScript(): URL | null {
  const beside = new URL('./prepare-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../../dist/indexer/prepare/prepare-worker.js', import.meta.url);
  return existsSync(fileURLToPath(built)) ? built : null;
}
