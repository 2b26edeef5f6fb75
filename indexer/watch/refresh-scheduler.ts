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
  /**
   * Starts (or joins) an incremental run; 'busy' when another process holds the index lock. `paths`: the
   * changed paths the run may look at alone, or null when it must walk the tree.
   */
  run: (paths: readonly string[] | null) => Promise<RunHandle | 'busy'>;
  /** The watcher's changed paths since the last call (after settle), or null when it cannot vouch for them; absent: always walk. */
  changes?: () => readonly string[] | null;
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
  /** Changed paths not yet covered by a run that finished. */
  private readonly paths = new Set<string>();
  /** The next run must walk the whole tree (a staleness check, polling, or changes the watcher cannot name). */
  private walkOwed = false;

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
    this.walkOwed = true;
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

  /** Puts a run's paths back for the next one (null: the next one walks). */
  private keep(paths: readonly string[] | null): void {
    if (paths === null) this.walkOwed = true;
    else for (const p of paths) this.paths.add(p);
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
      const taken = this.options.changes ? this.options.changes() : null;
      if (taken === null) this.walkOwed = true;
      else for (const p of taken) this.paths.add(p);
      if (!this.owed || this.closed) return;
      const paths = this.walkOwed ? null : [...this.paths];
      const handle = await this.options.run(paths);
      if (handle === 'busy') {
        retryMs = this.options.busyRetryMs ?? 5_000;
        this.signalled = true;
        return;
      }
      this.owed = false;
      this.paths.clear();
      this.walkOwed = false;
      if (!handle.joined) this.runs++;
      const outcome = await handle.done;
      if (handle.joined) {
        // A run that was already going may have walked past the change: one more, cheap, run makes sure.
        this.owed = true;
        this.keep(paths);
      } else if ((outcome as { state?: unknown } | null)?.state !== 'done') {
        // Failed or cancelled part way: what it covered is unknown, so the next run walks.
        this.walkOwed = true;
      }
    } catch (error) {
      this.owed = false;
      this.walkOwed = true;
      this.options.log(`watch: refreshing the index failed: ${(error as Error).message}`);
    } finally {
      this.busy = false;
      if ((this.signalled || this.owed) && !this.closed) this.arm(retryMs);
    }
  }
}
