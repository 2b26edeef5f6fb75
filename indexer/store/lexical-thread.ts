/**
 * Lexical search on a worker thread, so that a hybrid search's two halves run at once: bm25 in FTS5 while
 * the main thread searches the vector graph (each ~10 ms at 200,000 chunks; docs/performance.md). The
 * worker starts on first use; whatever goes wrong with it (no built worker script, a crash, an error)
 * answers on the caller's thread instead, so a search never depends on it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LexicalCandidate } from './sqlite-store.js';

export interface LexicalWorkerData {
  file: string;
  /** Int32 set to 1 once the worker has closed its connection. */
  closed: SharedArrayBuffer;
}
/** A query's terms, then (in a second message, once known) the query's vector to score its rows with. */
export type ToLexicalWorker = { id: number; terms: string[]; limit: number } | { id: number; vector: Float32Array | null } | 'close';
export type LexicalResponse =
  | { id: number; rows: LexicalCandidate[] }
  | { id: number; exact: { chunkId: number; score: number }[] | null }
  | { id: number; error: string };

export interface LexicalAnswer {
  rows: LexicalCandidate[];
  /** Exact vector scores of the rows (SqliteStore.exactScores); null when there was no vector or no worker. */
  exact: { chunkId: number; score: number }[] | null;
}

/** How long close() waits for the worker to close its connection. */
const CLOSE_WAIT_MS = 1000;

type Pending = { rows: LexicalCandidate[] | null; resolve: (answer: LexicalAnswer) => void; fallback: () => void };

export class LexicalThread {
  private readonly file: string;
  private readonly onThisThread: (terms: string[], limit: number) => LexicalCandidate[];
  private worker: Worker | null = null;
  private closed: Int32Array | null = null;
  private failed = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** `file`: the index database; `onThisThread`: the same query on the caller's connection (the fallback). */
  constructor(file: string, onThisThread: (terms: string[], limit: number) => LexicalCandidate[]) {
    this.file = file;
    this.onThisThread = onThisThread;
  }

  /**
   * The `limit` best rows for `terms`, and once `vector` resolves, their exact scores, both computed on the
   * worker when it runs (else the rows here and no scores). Never rejects.
   */
  lexical(terms: string[], limit: number, vector: Promise<Float32Array | null> = Promise.resolve(null)): Promise<LexicalAnswer> {
    const worker = this.start();
    if (!worker) return Promise.resolve({ rows: this.onThisThread(terms, limit), exact: null });
    const id = this.nextId++;
    return new Promise<LexicalAnswer>((resolve) => {
      this.pending.set(id, { rows: null, resolve, fallback: () => resolve({ rows: this.onThisThread(terms, limit), exact: null }) });
      // Only while a query is out does the worker keep the process alive.
      worker.ref();
      worker.postMessage({ id, terms, limit } satisfies ToLexicalWorker);
      vector.then(
        (v) => this.sendVector(worker, id, v),
        () => this.sendVector(worker, id, null),
      );
    });
  }

  /** Stops the worker once it has closed its connection (waits at most a second); queries still out are answered on this thread. */
  close(): void {
    const worker = this.worker;
    this.worker = null;
    this.failed = true;
    if (worker) {
      worker.removeAllListeners();
      worker.on('error', () => {});
      worker.postMessage('close' satisfies ToLexicalWorker);
      if (this.closed) Atomics.wait(this.closed, 0, 0, CLOSE_WAIT_MS);
      void worker.terminate();
    }
    this.settleOnThisThread();
  }

  private sendVector(worker: Worker, id: number, vector: Float32Array | null): void {
    if (this.worker === worker && this.pending.has(id)) worker.postMessage({ id, vector } satisfies ToLexicalWorker);
  }

  private start(): Worker | null {
    if (this.worker || this.failed) return this.worker;
    const script = workerScript();
    if (!script) {
      this.failed = true;
      return null;
    }
    const closed = new SharedArrayBuffer(4);
    this.closed = new Int32Array(closed);
    const worker = new Worker(script, { workerData: { file: this.file, closed } satisfies LexicalWorkerData });
    worker.unref();
    worker.on('message', (response: LexicalResponse) => {
      const waiting = this.pending.get(response.id);
      if (!waiting) return;
      if ('rows' in response) {
        waiting.rows = response.rows;
        return;
      }
      this.pending.delete(response.id);
      if (this.pending.size === 0) worker.unref();
      if ('exact' in response && waiting.rows) waiting.resolve({ rows: waiting.rows, exact: response.exact });
      else waiting.fallback();
    });
    const lost = () => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.failed = true;
      void worker.terminate();
      this.settleOnThisThread();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    this.worker = worker;
    return worker;
  }

  private settleOnThisThread(): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiting) w.fallback();
  }
}

/** The built worker beside this module, or under dist/ when running from sources (tests). */
function workerScript(): URL | null {
  const beside = new URL('./lexical-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../../dist/indexer/store/lexical-worker.js', import.meta.url);
  return existsSync(fileURLToPath(built)) ? built : null;
}
