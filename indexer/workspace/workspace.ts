import type { RefreshOutcome } from '../search/search-hit.js';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Embedder, ProviderName } from '../../models/embedder.js';
import { CredentialPolicy } from '../../models/credential-policy.js';
import { CodecartoError, InvalidInputError } from '../../models/errors/codecarto-error.js';
import { IndexJob } from '../run/index-job.js';
import { ProjectLock } from '../run/project-lock.js';
import { ProjectWatcher, type WatchSetting } from '../watch/project-watcher.js';
import { search, type SearchRequest, type SearchResponse } from '../search/search.js';
import { explainEmptySearch, type EmptyReason } from '../search/empty-search.js';
import { checkStaleness, type Staleness } from '../watch/staleness.js';
import { storageErrorFrom } from '../../models/errors/storage-error.js';
import type { IndexStore } from '../store/store-types.js';
import { MCP_NEXT_STEPS, type NextSteps } from './next-steps.js';
import { LAST_INDEXED_KEY, type OpenProject } from './open-project.js';
import { projectFileLimit, refuseTooManyFiles, type ProjectFileLimit } from './project-file-limit.js';
import { resolveProjectPath } from './project-path.js';
import { ProjectRegistry, type KnownProject } from './project-registry.js';
import type { ProjectRootPolicy } from './project-root-policy.js';
import type { ProjectSettings, SettingsInput } from './project-settings.js';
import { describeProject, watchingState, type ProjectState } from './project-state.js';
import { resolveSettings } from './settings-resolution.js';
import { StalenessCache } from './staleness-cache.js';
import { fusionState, indexingProgress, lastIndexRun, providerHealth, type ProjectStatus, type WorkspaceStatus } from './workspace-status.js';

export type { OpenProject } from './open-project.js';
export type { KnownProject } from './project-registry.js';
export type { ProjectState } from './project-state.js';
export type { NoProjectStatus, ProjectStatus, WatchInfo, WorkspaceStatus } from './workspace-status.js';

export type EmbedderFactory = (settings: ProjectSettings, log: (message: string) => void) => Promise<Embedder>;
export type StoreFactory = (dataDir: string, log: (message: string) => void) => IndexStore;

export interface WorkspaceOptions {
  /** $CODECARTO_HOME: one data directory per project lives below it, never inside the repository. */
  home: string;
  createEmbedder: EmbedderFactory;
  openStore: StoreFactory;
  /** Provider used when neither the call nor the project's saved settings name one. */
  defaultProvider?: ProviderName;
  /** The server's own settings (flags, CODECARTO_* variables): a project uses them where neither the call nor its saved settings say. */
  defaults?: SettingsInput;
  /** What is wrong with the server's configuration, one sentence each; every answer repeats them and `index` refuses until they are fixed. */
  problems?: readonly string[];
  /** Reopen the project that was current when the last process ended (default true). */
  restoreCurrent?: boolean;
  log?: (message: string) => void;
  /** Watching for every project ("off": never; CODECARTO_WATCH). A project's own `watch: false` also turns it off. */
  watch?: WatchSetting;
  /** Debounce and polling periods; tests shorten them. */
  watchTimings?: { quietMs?: number; maxWaitMs?: number; pollMs?: number };
  /** File-preparation worker threads per index run (CODECARTO_INDEX_WORKERS); undefined: the indexer's default. */
  indexWorkers?: number;
  /** How errors and notes name what to do next (default: the MCP tools' words). */
  steps?: NextSteps;
  /** false: choosing a project does not change the one the next start opens (the CLI's search and status only look). */
  rememberCurrent?: boolean;
  /** Which api_key_env may be read and where its key may go (the server's own configuration); default: CODECARTO_* names, no endpoint. */
  credentialPolicy?: CredentialPolicy;
  /** Most files a project may hold unless its own max_files says otherwise (CODECARTO_MAX_FILES); default DEFAULT_MAX_FILES. */
  maxFiles?: number;
}

/** Another process holds the project's index lock. */
export class IndexBusyError extends CodecartoError {}

/** Open projects watched at once; beyond it the least recently chosen falls back to staleness checks. */
export const MAX_WATCHED_PROJECTS = 8;
/** Time budget of the staleness walk on the search path (its count is a lower bound when cut short). */
const SEARCH_STALENESS_BUDGET_MS = 500;
/** Longest a `search` with `refresh: true` waits for its index run before answering from what is stored. */
export const REFRESH_WAIT_MS = 30_000;

export interface WorkspaceSearchRequest extends SearchRequest {
  /** Run an incremental index first (waiting at most REFRESH_WAIT_MS). */
  refresh?: boolean;
}

export interface WorkspaceSearchResponse extends SearchResponse {
  partial: boolean;
  /** Why the answer is empty (its note says what to do); absent when there are results. */
  reason?: EmptyReason;
  /** Files changed on disk since the last index; null when not checked (watching keeps the index fresh). */
  stale_files: number | null;
  /** False when the staleness walk ran out of time; stale_files is then a lower bound. */
  stale_complete: boolean;
  /** What refresh: true did, when asked. */
  refreshed?: RefreshOutcome;
}

/**
 * The projects codecarto knows, the current one, and the operations tools call on them. The parts live
 * beside it: the registry and its state files, path checks, settings resolution, the file limit, the
 * project's state and status as plain data; this class holds the open projects' lifecycle together.
 */
export class Workspace {
  private readonly registry: ProjectRegistry;
  private closed = false;
  /** set_project calls run one at a time, and calls that need the project wait for them. */
  private settling: Promise<unknown> = Promise.resolve();
  private readonly log: (message: string) => void;
  private readonly steps: NextSteps;
  private readonly credentialPolicy: CredentialPolicy;
  private readonly rootPolicy: ProjectRootPolicy;

  constructor(private readonly options: WorkspaceOptions) {
    this.log = options.log ?? (() => {});
    this.steps = options.steps ?? MCP_NEXT_STEPS;
    this.credentialPolicy = options.credentialPolicy ?? new CredentialPolicy();
    this.rootPolicy = { dataHome: options.home };
    this.registry = new ProjectRegistry(options.home, { restoreCurrent: options.restoreCurrent, rememberCurrent: options.rememberCurrent });
  }

  /**
   * Opens (or re-configures) a project and makes it current; persisted for the next start.
   * `watch` turns the project's file watching on or off (default: as last set, else on).
   * `maxFiles` sets the project's file limit (default: as last set, else the server's).
   * `lenient`: settings that cannot run do not throw; the project opens with its problem (see OpenProject.problem), nothing saved.
   */
  setProject(path: string, input: SettingsInput, options: { watch?: boolean; maxFiles?: number; lenient?: boolean } = {}): Promise<ProjectState> {
    const run = this.settling.then(() => this.applyProject(path, input, options.watch, options.maxFiles, options.lenient ?? false));
    this.settling = run.catch(() => {});
    return run;
  }

  private async applyProject(path: string, input: SettingsInput, watchInput: boolean | undefined, maxFilesInput: number | undefined, lenient: boolean): Promise<ProjectState> {
    const root = resolveProjectPath(path, this.rootPolicy);
    const dataDir = this.registry.dataDirFor(root);
    const record = this.registry.record(root);
    const { settings, problem } = resolveSettings(
      { saved: record?.settings ?? null, input, defaults: { provider: this.options.defaultProvider, ...this.options.defaults } },
      { steps: this.steps, credentials: this.credentialPolicy, lenient },
    );
    const watch = watchInput ?? record?.watch ?? true;
    const maxFiles = maxFilesInput ?? record?.max_files;
    // A tree that has been indexed was under its limit then; the index run's walk enforces it from there.
    if (!record?.last_index) await refuseTooManyFiles(root, this.fileLimit(maxFiles));

    const open = this.registry.get(root);
    if (open && JSON.stringify(open.settings) === JSON.stringify(settings)) {
      // Same configuration: switching back is instant (store, embedder and vectors are all still here).
      if (open.watch !== watch || open.maxFiles !== maxFiles) {
        open.watch = watch;
        open.maxFiles = maxFiles;
        this.registry.updateRecord(dataDir, { root, settings, watch, max_files: maxFiles });
      }
      this.registry.makeCurrent(root);
      this.ensureWatching(open);
      return this.describe(open);
    }
    if (open?.job?.running && open.jobIsAuto) {
      // A run the watcher started is disposable: the new configuration's next run redoes it.
      open.job.cancel();
      await open.job.done;
    }
    if (open?.job?.running) {
      throw new InvalidInputError(
        `An index run is in progress for ${root} with provider ${open.settings.provider}; wait for it (${this.steps.index(root)}) or cancel it before changing the provider settings.`,
      );
    }
    // Settings that cannot run get no embedder of theirs: lexical search still answers from what is indexed.
    const embedder = await this.options.createEmbedder(problem ? { provider: 'none' } : settings, this.log);
    if (open) {
      this.stopWatching(open);
      await open.embedder.close();
      open.embedder = embedder;
      open.settings = settings;
      open.watch = watch;
      open.maxFiles = maxFiles;
      open.problem = problem;
    } else {
      let store: IndexStore;
      try {
        mkdirSync(dataDir, { recursive: true });
        store = this.options.openStore(dataDir, this.log);
      } catch (error) {
        await embedder.close();
        throw storageErrorFrom(error, dataDir) ?? error;
      }
      this.registry.add({
        root, dataDir, settings, store, embedder, job: null, jobIsAuto: false, lastSummary: null,
        watch, maxFiles, watcher: null, lastUsed: 0, staleness: new StalenessCache(root, store), problem,
      });
    }
    // Settings that cannot run are not saved: the next start falls back to the last ones that could.
    this.registry.updateRecord(dataDir, problem ? { root, watch, max_files: maxFiles } : { root, settings, watch, max_files: maxFiles });
    this.registry.makeCurrent(root);
    const project = this.registry.get(root)!;
    this.ensureWatching(project);
    return this.describe(project);
  }

  /** The current project, opening it from its saved settings after a restart. */
  async current(): Promise<OpenProject> {
    await this.settling;
    const root = this.registry.currentRoot;
    if (!root) {
      throw new InvalidInputError([`No project is set: ${this.steps.chooseProject()} first.`, ...this.configProblems()].join(' '));
    }
    const open = this.registry.get(root);
    if (open) return open;
    const saved = this.registry.record(root)?.settings;
    await this.setProject(root, saved ?? {}, { lenient: true });
    return this.registry.get(root)!;
  }

  /** Starts an index run of the current project, or returns the one already running (callers join it). */
  async startIndex(options: { path?: string; full?: boolean }): Promise<IndexJob> {
    if (options.path) {
      const root = resolveProjectPath(options.path, this.rootPolicy);
      if (root !== this.registry.currentRoot) await this.setProject(root, {});
    }
    const project = await this.current();
    const problems = this.problemsOf(project);
    if (problems.length > 0) {
      // Indexing with settings the user did not mean would cost a run and, later, a re-embed.
      throw new InvalidInputError(`Not indexing ${project.root}: the configuration has a problem. ${problems.join(' ')}`);
    }
    if (project.job?.running) {
      // Whoever asks explicitly owns the run now: a new configuration must not cancel it silently.
      project.jobIsAuto = false;
      return project.job;
    }
    return this.launch(project, options.full ?? false, false);
  }

  /** Starts an index run of `project` (current or not); throws IndexBusyError when another process indexes. */
  /** `changedPaths`: a watcher's run looks at these alone (runIndex's changedPaths); index calls walk the tree. */
  private launch(project: OpenProject, full: boolean, auto: boolean, changedPaths: readonly string[] | null = null): IndexJob {
    const acquired = ProjectLock.acquire(project.dataDir);
    if ('heldBy' in acquired) {
      const { pid, host, since } = acquired.heldBy;
      throw new IndexBusyError(
        `Another codecarto process (PID ${pid}${host !== hostname() ? ` on ${host}` : ''}, since ${since}) is indexing ${project.root}. ` +
          `Search works meanwhile and sees its results as they are stored; ${this.steps.index(project.root)} again when it has finished.`,
      );
    }
    const job = new IndexJob({
      root: project.root,
      store: project.store,
      embedder: project.embedder,
      full,
      log: this.log,
      prepareWorkers: this.options.indexWorkers,
      fileLimit: this.fileLimit(project.maxFiles),
      changedPaths,
    });
    project.job = job;
    project.jobIsAuto = auto;
    void job.done.then((summary) => {
      acquired.lock.release();
      project.lastSummary = summary;
      project.staleness.clear();
      if (summary.state !== 'done' || !this.registry.isOpen(project)) return;
      try {
        const at = new Date().toISOString();
        project.store.setMeta(LAST_INDEXED_KEY, at);
        const counts = project.store.counts();
        this.registry.updateRecord(project.dataDir, { last_index: { at, files: counts.files, chunks: counts.chunks } });
      } catch (error) {
        this.log(`could not record the index time of ${project.root}: ${(error as Error).message}`);
      }
      // The first complete index is what turns watching on (see ensureWatching).
      this.ensureWatching(project);
    });
    return job;
  }

  /** The searcher over the current project (indexer/search), with the workspace's freshness and problems added. */
  async search(request: WorkspaceSearchRequest): Promise<WorkspaceSearchResponse> {
    const project = await this.current();
    let refreshed: WorkspaceSearchResponse['refreshed'];
    let staleness: Staleness | null = null;
    const problems = this.problemsOf(project);
    if (request.refresh && problems.length === 0) {
      refreshed = await this.refresh(project, request.signal);
    } else if (!project.job?.running && !this.watchedByEvents(project) && project.store.getMeta(LAST_INDEXED_KEY)) {
      // Nothing keeps this index fresh: say how far behind the disk it is (stat only, cached).
      staleness = await project.staleness.get(SEARCH_STALENESS_BUDGET_MS);
    }
    const response = await search(project.store, project.embedder, request, { steps: this.steps, root: project.root });
    const partial = project.job?.indexing ?? false;
    // An empty answer says why (nothing indexed, a filter that matches no file, the query) and what to do.
    const empty = response.results.length === 0
      ? explainEmptySearch(project.store, request, { steps: this.steps, root: project.root, indexing: partial, mode: response.mode })
      : undefined;
    const note = [...problems, ...(response.note ? [response.note] : []), ...(empty ? [empty.message] : [])].join(' ');
    return {
      ...response,
      ...(note ? { note } : {}),
      ...(empty ? { reason: empty.reason } : {}),
      partial,
      stale_files: staleness?.stale_files ?? null,
      stale_complete: staleness?.complete ?? true,
      ...(refreshed ? { refreshed } : {}),
    };
  }

  /** An incremental run before a search, waited for up to REFRESH_WAIT_MS (or until the caller cancels). */
  private async refresh(project: OpenProject, signal: AbortSignal | undefined): Promise<NonNullable<WorkspaceSearchResponse['refreshed']>> {
    let job = project.job?.running ? project.job : null;
    if (!job) {
      try {
        job = this.launch(project, false, false);
      } catch (error) {
        if (error instanceof IndexBusyError) return 'busy';
        throw error;
      }
    }
    const summary = await job.waitFor(REFRESH_WAIT_MS, signal);
    return summary.state;
  }

  /**
   * Everything `status` reports, as plain data: with no project chosen, the known projects and the
   * configuration's problems (state null); else projectStatus().
   */
  async status(signal?: AbortSignal): Promise<WorkspaceStatus> {
    if (!(await this.hasProject())) return { state: null, projects: this.knownProjects(), problems: [...this.configProblems()] };
    return this.projectStatus(signal);
  }

  /**
   * The current project's status: its state, the provider's health (within its own ~1 s budget; `signal`
   * cancels it), the index run going or last finished, watching and fusion. Throws when no project is set.
   */
  async projectStatus(signal?: AbortSignal): Promise<ProjectStatus> {
    const open = await this.current();
    const state = await this.describe(open);
    const projects = this.knownProjects();
    const problems = this.problemsOf(open);
    const health = await providerHealth(open.embedder, signal);
    const watcher = open.watcher;
    return {
      state,
      health,
      indexing: indexingProgress(open.job),
      last_index: lastIndexRun(open.lastSummary),
      watching: { state: watchingState(open), runs: watcher?.runs ?? 0, pending: watcher?.pending ?? false },
      fusion: fusionState(open.store, open.embedder.modelId),
      projects,
      problems,
    };
  }

  /** The current project's state (what set_project returns), without asking the provider anything. */
  async projectState(): Promise<ProjectState> {
    return this.describe(await this.current());
  }

  /** What is wrong with the server's configuration (see WorkspaceOptions.problems). */
  configProblems(): readonly string[] {
    return this.options.problems ?? [];
  }

  /** Whether a project is current (set_project, --project, or the last one used); waits for a set_project in flight. */
  async hasProject(): Promise<boolean> {
    await this.settling;
    return this.registry.currentRoot !== null;
  }

  /** Every project with a data directory under $CODECARTO_HOME; open ones with live counts. */
  knownProjects(): KnownProject[] {
    return this.registry.known(watchingState);
  }

  async close(): Promise<void> {
    this.closed = true;
    const projects = this.registry.openProjects();
    for (const project of projects) this.stopWatching(project);
    for (const project of projects) {
      if (project.job?.running) {
        project.job.cancel();
        await project.job.done;
      }
      await project.embedder.close();
      project.store.close();
    }
    this.registry.clear();
  }

  dataDirFor(root: string): string {
    return this.registry.dataDirFor(root);
  }

  /** The server's configuration problems, then the project's own. */
  private problemsOf(project: OpenProject): string[] {
    return [...this.configProblems(), ...(project.problem ? [project.problem] : [])];
  }

  private fileLimit(maxFiles: number | undefined): ProjectFileLimit {
    return projectFileLimit(maxFiles, this.options.maxFiles, this.steps);
  }

  private describe(project: OpenProject): Promise<ProjectState> {
    return describeProject(project, { configProblems: this.configProblems(), steps: this.steps, watchSetting: this.options.watch });
  }

  private watchedByEvents(project: OpenProject): boolean {
    return project.watcher?.watching === 'events';
  }

  /**
   * Starts watching `project` when watching is on for it and it has been indexed completely once:
   * before its first `index` nothing is indexed on its own (the user has not asked for the cost yet).
   * Every open project stays watched after the current one changes, up to MAX_WATCHED_PROJECTS.
   */
  private ensureWatching(project: OpenProject): void {
    if (project.root === this.registry.currentRoot) project.lastUsed = Date.now();
    const setting: WatchSetting = this.options.watch ?? 'auto';
    // Runs with settings that cannot run would index nothing the user asked for.
    if (setting === 'off' || !project.watch || this.closed || project.problem) return this.stopWatching(project);
    if (project.watcher || !this.registry.isOpen(project) || !project.store.getMeta(LAST_INDEXED_KEY)) return;
    const timings = this.options.watchTimings ?? {};
    project.watcher = new ProjectWatcher({
      root: project.root,
      skip: [this.options.home],
      setting,
      countStale: async (timeoutMs) => (await checkStaleness(project.root, project.store, { timeoutMs })).stale_files,
      run: async (paths) => {
        if (project.job?.running) return { joined: true, done: project.job.done };
        try {
          return { joined: false, done: this.launch(project, false, true, paths).done };
        } catch (error) {
          if (error instanceof IndexBusyError) return 'busy';
          throw error;
        }
      },
      log: this.log,
      ...timings,
    });
    const watched = this.registry.openProjects().filter((p) => p.watcher);
    if (watched.length > MAX_WATCHED_PROJECTS) {
      const oldest = watched.filter((p) => p.root !== this.registry.currentRoot).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (oldest) this.stopWatching(oldest);
    }
  }

  private stopWatching(project: OpenProject): void {
    project.watcher?.close();
    project.watcher = null;
  }
}
