/**
 * Turns a stream of change signals into few index runs: a run starts after a quiet period (or after
 * `maxWaitMs` of constant change), never two at once, and changes that arrive during a run cause
 * exactly one follow-up run after it, however many there were.
 */

/** An index run the scheduler started or joined. */
export interface RunHandle {
  /** True when a run was already going (an `index` call); it may have walked past the change. */
  joined: boolean;
  done: Promise<unknown>;
}

export interface RefreshSchedulerOptions {
  /** Reconciles the watched tree; resolves true when something indexable changed (false: only noise). */
  settle: () => Promise<boolean>;
  /** Starts (or joins) an incremental run; 'busy' when another process holds the index lock. */
  run: () => Promise<RunHandle | 'busy'>;
  log: (message: string) => void;
  quietMs?: number;
  maxWaitMs?: number;
  /** Wait before trying again when another process is indexing. */
  busyRetryMs?: number;
}

export const DEFAULT_QUIET_MS = 500;
export const DEFAULT_MAX_WAIT_MS = 5_000;

export class RefreshScheduler {
  /** Runs this scheduler started (joined runs are not counted). */
  runs = 0;
  private readonly quietMs: number;
  private readonly maxWaitMs: number;
  private timer: NodeJS.Timeout | undefined;
  private firstSignalAt = 0;
  private lastSignalAt = 0;
  /** Signals arrived since the last settle. */
  private signalled = false;
  /** A settle said "changed" (or a staleness check did) and no run has covered it yet. */
  private owed = false;
  private busy = false;
  private closed = false;

  constructor(private readonly options: RefreshSchedulerOptions) {
    this.quietMs = options.quietMs ?? DEFAULT_QUIET_MS;
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  }

  /** Something may have changed. O(1): called for every file event. */
  signal(): void {
    this.signalled = true;
    this.lastSignalAt = Date.now();
    if (!this.busy && !this.timer && !this.closed) this.arm(this.quietMs);
  }

  /** A run is known to be needed (a staleness check found changes): run after a short pause. */
  request(): void {
    this.owed = true;
    this.signal();
  }

  /** Changes are waiting for a run, or one is going. */
  get pending(): boolean {
    return this.busy || this.signalled || this.owed;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.firstSignalAt = Date.now();
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = undefined;
    const now = Date.now();
    const quietFor = now - this.lastSignalAt;
    const waited = now - this.firstSignalAt;
    if (quietFor < this.quietMs && waited < this.maxWaitMs) {
      // Still changing: wait out the rest of the quiet period, but not past the max wait.
      this.timer = setTimeout(() => this.tick(), Math.min(this.quietMs - quietFor, this.maxWaitMs - waited));
      this.timer.unref();
      return;
    }
    void this.flush();
  }

  private async flush(): Promise<void> {
    this.busy = true;
    let retryMs = this.quietMs;
    try {
      if (this.signalled) {
        this.signalled = false;
        this.owed = (await this.options.settle()) || this.owed;
      }
      if (!this.owed || this.closed) return;
      const handle = await this.options.run();
      if (handle === 'busy') {
        retryMs = this.options.busyRetryMs ?? 5_000;
        this.signalled = true;
        return;
      }
      this.owed = false;
      if (!handle.joined) this.runs++;
      await handle.done;
      // A run that was already going may have walked past the change: one more, cheap, run makes sure.
      if (handle.joined) this.owed = true;
    } catch (error) {
      this.owed = false;
      this.options.log(`watch: refreshing the index failed: ${(error as Error).message}`);
    } finally {
      this.busy = false;
      if ((this.signalled || this.owed) && !this.closed) this.arm(retryMs);
    }
  }
}
