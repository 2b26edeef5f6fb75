/**
 * Keeps one indexed project fresh: file events (or, where they are unavailable, a periodic stat scan)
 * feed a RefreshScheduler that starts incremental index runs through the workspace, so the lock,
 * joining and the incremental plan all apply as for an `index` call.
 */
import { RefreshScheduler, type RunHandle } from './refresh-scheduler.js';
import { TooManyDirectoriesError, TreeWatcher, type TreeWatchMethod } from './tree-watcher.js';

/** How a project is watched: "auto" picks the best method for the platform; "off" never watches. */
export const WATCH_SETTINGS = ['auto', 'off', 'directories', 'recursive', 'poll'] as const;
export type WatchSetting = (typeof WATCH_SETTINGS)[number];

/** What a project's watcher is doing, as status reports it. */
export const WATCHING_STATES = ['starting', 'events', 'polling', 'off'] as const;
export type WatchingState = (typeof WATCHING_STATES)[number];

export interface ProjectWatcherOptions {
  root: string;
  /** Absolute directories never watched (the project's data directory). */
  skip: readonly string[];
  setting: Exclude<WatchSetting, 'off'>;
  /** Stat-only count of files changed since the last index. */
  countStale: (timeoutMs: number) => Promise<number>;
  /** Starts an incremental run; `paths` as RefreshSchedulerOptions.run (null: walk the tree). */
  run: (paths: readonly string[] | null) => Promise<RunHandle | 'busy'>;
  log: (message: string) => void;
  quietMs?: number;
  maxWaitMs?: number;
  /** Least time between two polling scans. */
  pollMs?: number;
}

const DEFAULT_POLL_MS = 10_000;
// A scan may take at most this share of wall time: a huge tree is polled less often.
const POLL_DUTY = 20;

export class ProjectWatcher {
  private readonly scheduler: RefreshScheduler;
  private tree: TreeWatcher | null = null;
  private pollTimer: NodeJS.Timeout | undefined;
  private state: WatchingState = 'starting';
  private closed = false;

  constructor(private readonly options: ProjectWatcherOptions) {
    this.scheduler = new RefreshScheduler({
      settle: async () => (this.tree ? this.tree.settle() : true),
      run: options.run,
      // Polling (no tree watcher) always walks.
      changes: () => (this.tree ? this.tree.takeChanges() : null),
      log: options.log,
      quietMs: options.quietMs,
      maxWaitMs: options.maxWaitMs,
    });
    void this.start();
  }

  get watching(): WatchingState {
    return this.closed ? 'off' : this.state;
  }

  /** Index runs started by watching. */
  get runs(): number {
    return this.scheduler.runs;
  }

  /** Changes seen and not yet indexed, or a run for them going. */
  get pending(): boolean {
    return this.scheduler.pending;
  }

  close(): void {
    this.closed = true;
    this.scheduler.close();
    this.tree?.close();
    this.tree = null;
    clearTimeout(this.pollTimer);
  }

  private async start(): Promise<void> {
    const { setting } = this.options;
    if (setting !== 'poll') {
      const method: TreeWatchMethod = setting === 'auto' ? (process.platform === 'linux' ? 'directories' : 'recursive') : setting;
      try {
        const tree = await TreeWatcher.start({
          root: this.options.root,
          method,
          skip: this.options.skip,
          onEvent: () => this.scheduler.signal(),
          onError: (error) => this.fallBack(error),
        });
        if (this.closed) return tree.close();
        this.tree = tree;
        this.state = 'events';
      } catch (error) {
        if (this.closed) return;
        this.fallBack(error as Error);
        return;
      }
    } else {
      this.startPolling();
    }
    // Changes made while nobody watched (server down, project not open) are caught here, by stat.
    await this.checkOnce();
  }

  private fallBack(error: Error): void {
    if (this.closed) return;
    this.tree?.close();
    this.tree = null;
    const why = error instanceof TooManyDirectoriesError ? error.message : `${(error as NodeJS.ErrnoException).code ?? error.message}`;
    this.options.log(`watch: file events unavailable for ${this.options.root} (${why}); checking for changes by stat every ${Math.round((this.options.pollMs ?? DEFAULT_POLL_MS) / 1000)} s instead`);
    this.startPolling();
    void this.checkOnce();
  }

  private startPolling(): void {
    this.state = 'polling';
    this.schedulePoll(this.options.pollMs ?? DEFAULT_POLL_MS);
  }

  private schedulePoll(ms: number): void {
    if (this.closed) return;
    this.pollTimer = setTimeout(() => void this.poll(), ms);
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    const started = Date.now();
    if (!this.scheduler.pending) await this.checkOnce();
    this.schedulePoll(Math.max(this.options.pollMs ?? DEFAULT_POLL_MS, (Date.now() - started) * POLL_DUTY));
  }

  private async checkOnce(): Promise<void> {
    try {
      if (!this.closed && (await this.options.countStale(5_000)) > 0 && !this.closed) this.scheduler.request();
    } catch (error) {
      this.options.log(`watch: staleness check failed for ${this.options.root}: ${(error as Error).message}`);
    }
  }
}
