import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync, accessSync, constants as fsConstants } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { Embedder, ProviderName } from '../../models/embedder.js';
import { CredentialPolicy } from '../../models/credential-policy.js';
import { CodecartoError, InvalidInputError } from '../../models/errors/codecarto-error.js';
import { COUNT_BUDGET_MS, countFilesUpTo, DEFAULT_MAX_FILES, MAX_FILES_CEILING } from '../walk/file-limit.js';
import { IndexJob } from '../run/index-job.js';
import { ProjectLock } from '../run/project-lock.js';
import type { IndexSummary } from '../run/index-summary.js';
import { listProjects, PROJECT_FILE, readProjectFile, type ProjectFile } from './project-catalog.js';
import { MCP_NEXT_STEPS, type NextSteps } from './next-steps.js';
import { checkProjectRoot, type ProjectRootPolicy } from './project-root-policy.js';
import { mergeSettings, type ProjectSettings, type SettingsInput } from './project-settings.js';
import { ProjectWatcher, type WatchingState, type WatchSetting } from '../watch/project-watcher.js';
import { search, type SearchRequest, type SearchResponse } from '../search/search.js';
import { checkStaleness, type Staleness } from '../watch/staleness.js';
import { storageErrorFrom } from '../../models/errors/storage-error.js';
import type { IndexStore, StoreCounts } from '../store/store-types.js';
import { TooManyFilesError } from '../walk/walker.js';

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

/** A project that has been opened in this process: its store, its embedder and its index run. */
export interface OpenProject {
  root: string;
  dataDir: string;
  settings: ProjectSettings;
  store: IndexStore;
  embedder: Embedder;
  job: IndexJob | null;
  /** The running job was started by the watcher (a new configuration may cancel it). */
  jobIsAuto: boolean;
  lastSummary: IndexSummary | null;
  /** The project's own watch switch (set_project `watch`), persisted in project.json. */
  watch: boolean;
  /** The project's own file limit (set_project `max_files`), persisted in project.json; undefined: the server's. */
  maxFiles: number | undefined;
  watcher: ProjectWatcher | null;
  /** When set_project last chose it; the least recently used project stops being watched first. */
  lastUsed: number;
  /** The last stat-only staleness check of search, reused for a few seconds. */
  staleness: { value: Staleness; at: number } | null;
  /** Why its settings cannot run (it is open for lexical search of what is indexed; `index` refuses); null when they can. */
  problem: string | null;
}

export interface WatchInfo {
  state: WatchingState;
  /** Index runs that watching started in this process. */
  runs: number;
  /** Changes seen and not yet indexed (or being indexed). */
  pending: boolean;
}

/** A project with a data directory under $CODECARTO_HOME, open in this process or not. */
export interface KnownProject {
  project: string;
  data_dir: string;
  provider: ProviderName | null;
  /** From the open index, else from the last complete run's record; null when neither is known. */
  files: number | null;
  chunks: number | null;
  bytes: number;
  last_indexed: string | null;
  open: boolean;
  current: boolean;
  watching: WatchingState;
}

export interface ProjectState {
  project: string;
  data_dir: string;
  provider: ProviderName;
  model: string | null;
  dims: number | null;
  files: number;
  chunks: number;
  chunks_with_vectors: number;
  last_indexed: string | null;
  stale_files: number | null;
  watching: WatchingState;
  /** Plain words on what the state means for the user: lexical-only, re-embed needed, never indexed. */
  notes: string[];
}

const LAST_INDEXED_KEY = 'last_indexed';

/** Another process holds the project's index lock. */
export class IndexBusyError extends CodecartoError {}

/** Open projects watched at once; beyond it the least recently chosen falls back to staleness checks. */
export const MAX_WATCHED_PROJECTS = 8;
/** How long search reuses a staleness result, so a burst of searches walks the tree once. */
const STALENESS_TTL_MS = 3_000;
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
  /** Files changed on disk since the last index; null when not checked (watching keeps the index fresh). */
  stale_files: number | null;
  /** False when the staleness walk ran out of time; stale_files is then a lower bound. */
  stale_complete: boolean;
  /** What refresh: true did, when asked. */
  refreshed?: 'done' | 'running' | 'busy' | 'failed' | 'cancelled';
}

/** The projects codecarto knows, the current one, and the operations tools call on them. */
export class Workspace {
  private readonly projects = new Map<string, OpenProject>();
  private currentRoot: string | null = null;
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
    mkdirSync(join(options.home, 'projects'), { recursive: true });
    this.currentRoot = options.restoreCurrent === false ? null : (this.readState().current ?? null);
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
    const dataDir = this.dataDirFor(root);
    const record = readProjectFile(dataDir);
    const settings = mergeSettings(record?.settings ?? null, input, { provider: this.options.defaultProvider, ...this.options.defaults });
    let problem: string | null = null;
    try {
      validateSettings(settings, this.steps, this.credentialPolicy);
    } catch (error) {
      if (!lenient || !(error instanceof InvalidInputError)) throw error;
      problem = error.message;
    }
    const watch = watchInput ?? record?.watch ?? true;
    const maxFiles = maxFilesInput ?? record?.max_files;
    // A tree that has been indexed was under its limit then; the index run's walk enforces it from there.
    if (!record?.last_index) await this.refuseTooManyFiles(root, maxFiles);

    const open = this.projects.get(root);
    if (open && JSON.stringify(open.settings) === JSON.stringify(settings)) {
      // Same configuration: switching back is instant (store, embedder and vectors are all still here).
      if (open.watch !== watch || open.maxFiles !== maxFiles) {
        open.watch = watch;
        open.maxFiles = maxFiles;
        this.writeProjectFile(dataDir, { root, settings, watch, max_files: maxFiles });
      }
      this.makeCurrent(root);
      this.ensureWatching(open);
      return this.state(open);
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
      this.projects.set(root, {
        root, dataDir, settings, store, embedder, job: null, jobIsAuto: false, lastSummary: null,
        watch, maxFiles, watcher: null, lastUsed: 0, staleness: null, problem,
      });
    }
    // Settings that cannot run are not saved: the next start falls back to the last ones that could.
    this.writeProjectFile(dataDir, problem ? { root, watch, max_files: maxFiles } : { root, settings, watch, max_files: maxFiles });
    this.makeCurrent(root);
    const project = this.projects.get(root)!;
    this.ensureWatching(project);
    return this.state(project);
  }

  /** The current project, opening it from its saved settings after a restart. */
  async current(): Promise<OpenProject> {
    await this.settling;
    if (!this.currentRoot) {
      throw new InvalidInputError([`No project is set: ${this.steps.chooseProject()} first.`, ...this.configProblems()].join(' '));
    }
    const open = this.projects.get(this.currentRoot);
    if (open) return open;
    const saved = readProjectFile(this.dataDirFor(this.currentRoot))?.settings;
    await this.setProject(this.currentRoot, saved ?? {}, { lenient: true });
    return this.projects.get(this.currentRoot)!;
  }

  /** Starts an index run of the current project, or returns the one already running (callers join it). */
  async startIndex(options: { path?: string; full?: boolean }): Promise<IndexJob> {
    if (options.path) {
      const root = resolveProjectPath(options.path, this.rootPolicy);
      if (root !== this.currentRoot) await this.setProject(root, {});
    }
    const project = await this.current();
    const problems = [...this.configProblems(), ...(project.problem ? [project.problem] : [])];
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
  private launch(project: OpenProject, full: boolean, auto: boolean): IndexJob {
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
    });
    project.job = job;
    project.jobIsAuto = auto;
    void job.done.then((summary) => {
      acquired.lock.release();
      project.lastSummary = summary;
      project.staleness = null;
      if (summary.state !== 'done' || !this.projects.has(project.root)) return;
      try {
        const at = new Date().toISOString();
        project.store.setMeta(LAST_INDEXED_KEY, at);
        const counts = project.store.counts();
        this.writeProjectFile(project.dataDir, { last_index: { at, files: counts.files, chunks: counts.chunks } });
      } catch (error) {
        this.log(`could not record the index time of ${project.root}: ${(error as Error).message}`);
      }
      // The first complete index is what turns watching on (see ensureWatching).
      this.ensureWatching(project);
    });
    return job;
  }

  async search(request: WorkspaceSearchRequest): Promise<WorkspaceSearchResponse> {
    const project = await this.current();
    let refreshed: WorkspaceSearchResponse['refreshed'];
    let staleness: Staleness | null = null;
    const problems = [...this.configProblems(), ...(project.problem ? [project.problem] : [])];
    if (request.refresh && problems.length === 0) {
      refreshed = await this.refresh(project, request.signal);
    } else if (!project.job?.running && !this.watchedByEvents(project) && project.store.getMeta(LAST_INDEXED_KEY)) {
      // Nothing keeps this index fresh: say how far behind the disk it is (stat only, cached).
      staleness = await this.staleness(project, SEARCH_STALENESS_BUDGET_MS);
    }
    const response = await search(project.store, project.embedder, request, { steps: this.steps, root: project.root });
    const note = [...problems, ...(response.note ? [response.note] : [])].join(' ');
    return {
      ...response,
      ...(note ? { note } : {}),
      partial: project.job?.indexing ?? false,
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

  async status(): Promise<{ open: OpenProject; state: ProjectState; watch: WatchInfo }> {
    const open = await this.current();
    const watcher = open.watcher;
    return {
      open,
      state: await this.state(open),
      watch: { state: this.watchingState(open), runs: watcher?.runs ?? 0, pending: watcher?.pending ?? false },
    };
  }

  /** What is wrong with the server's configuration (see WorkspaceOptions.problems). */
  configProblems(): readonly string[] {
    return this.options.problems ?? [];
  }

  /** Whether a project is current (set_project, --project, or the last one used); waits for a set_project in flight. */
  async hasProject(): Promise<boolean> {
    await this.settling;
    return this.currentRoot !== null;
  }

  /** Every project with a data directory under $CODECARTO_HOME; open ones with live counts. */
  knownProjects(): KnownProject[] {
    return listProjects(join(this.options.home, 'projects')).map(({ dataDir, record, bytes }) => {
      const open = this.projects.get(record.root);
      const counts = open?.store.counts();
      return {
        project: record.root,
        data_dir: dataDir,
        provider: open?.settings.provider ?? record.settings?.provider ?? null,
        files: counts?.files ?? record.last_index?.files ?? null,
        chunks: counts?.chunks ?? record.last_index?.chunks ?? null,
        bytes,
        last_indexed: open?.store.getMeta(LAST_INDEXED_KEY) ?? record.last_index?.at ?? null,
        open: open !== undefined,
        current: record.root === this.currentRoot,
        watching: open ? this.watchingState(open) : 'off',
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const project of this.projects.values()) this.stopWatching(project);
    for (const project of this.projects.values()) {
      if (project.job?.running) {
        project.job.cancel();
        await project.job.done;
      }
      await project.embedder.close();
      project.store.close();
    }
    this.projects.clear();
  }

  /** The walk's file limit for a project whose own max_files is `maxFiles`, and what to say when a tree passes it. */
  private fileLimit(maxFiles: number | undefined): { max: number; advice: string } {
    return {
      max: maxFiles ?? this.options.maxFiles ?? DEFAULT_MAX_FILES,
      advice:
        "a project is one repository's directory, and a tree this big rarely is one (pass the repository's own directory). " +
        `If it is one, raise the limit: ${this.steps.option('max_files')} (up to ${MAX_FILES_CEILING.toLocaleString('en-US')}) for this project, ` +
        'or CODECARTO_MAX_FILES where the server starts.',
    };
  }

  /** Counts a new project's files for a moment; a tree over its limit is refused now rather than after an index run's walk. */
  private async refuseTooManyFiles(root: string, maxFiles: number | undefined): Promise<void> {
    const limit = this.fileLimit(maxFiles);
    const { count } = await countFilesUpTo(root, limit.max, COUNT_BUDGET_MS);
    if (count > limit.max) throw new TooManyFilesError(root, limit.max, limit.advice);
  }

  dataDirFor(root: string): string {
    const slug = basename(root).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'root';
    const hash = createHash('sha256').update(root).digest('hex').slice(0, 12);
    return join(this.options.home, 'projects', `${slug}-${hash}`);
  }

  private async state(project: OpenProject): Promise<ProjectState> {
    const counts: StoreCounts = project.store.counts();
    const model = project.store.getModel();
    const notes: string[] = [...this.configProblems(), ...(project.problem ? [project.problem] : [])];
    const embeds = project.embedder.provider !== 'none';
    if (!embeds && !project.problem) notes.push(`Provider "none": search is lexical only (BM25 over identifiers and text). For semantic search pass ${this.steps.choices('provider', ['dgx', 'onnx', 'openai'])}.`);
    if (embeds && model && model.modelId !== project.embedder.modelId) {
      notes.push(`The index holds vectors of ${model.modelId}; the next index run re-embeds every chunk with ${project.embedder.modelId} (vectors are never mixed).`);
    }
    const lastIndexed = project.store.getMeta(LAST_INDEXED_KEY);
    if (!lastIndexed && counts.files === 0) notes.push(`Not indexed yet: ${this.steps.index(project.root)}.`);
    let stale: number | null = null;
    if (counts.files > 0 && !project.job?.running) {
      // Not cached: set_project and status are rare, and a fresh count here is what the user asked for.
      const staleness = await checkStaleness(project.root, project.store, { timeoutMs: 3000 });
      stale = staleness.stale_files;
      const watched = this.watchedByEvents(project);
      if (stale > 0) notes.push(`${stale}${staleness.complete ? '' : '+'} files changed since the last index; ${watched ? 'watching re-indexes them within seconds' : `${this.steps.refresh(project.root)} to refresh`}.`);
    }
    const watching = this.watchingState(project);
    if (watching === 'off' && this.options.watch !== 'off' && project.watch && counts.files > 0 && !lastIndexed) {
      notes.push('Watching for file changes starts after the first complete index run.');
    }
    return {
      project: project.root,
      data_dir: project.dataDir,
      provider: project.settings.provider,
      model: embeds ? project.embedder.modelId : (model?.modelId ?? null),
      dims: project.embedder.dimensions ?? model?.dims ?? null,
      files: counts.files,
      chunks: counts.chunks,
      chunks_with_vectors: counts.chunksWithVectors,
      last_indexed: lastIndexed,
      stale_files: stale,
      watching,
      notes,
    };
  }

  /** The stat-only staleness of `project` for search, reused for STALENESS_TTL_MS (so counts may lag that long). */
  private async staleness(project: OpenProject, budgetMs: number): Promise<Staleness> {
    const cached = project.staleness;
    if (cached && Date.now() - cached.at < STALENESS_TTL_MS) return cached.value;
    const value = await checkStaleness(project.root, project.store, { timeoutMs: budgetMs });
    project.staleness = { value, at: Date.now() };
    return value;
  }

  private watchingState(project: OpenProject): WatchingState {
    return project.watcher?.watching ?? 'off';
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
    if (project.root === this.currentRoot) project.lastUsed = Date.now();
    const setting = this.options.watch ?? 'auto';
    // Runs with settings that cannot run would index nothing the user asked for.
    if (setting === 'off' || !project.watch || this.closed || project.problem) return this.stopWatching(project);
    if (project.watcher || !this.projects.has(project.root) || !project.store.getMeta(LAST_INDEXED_KEY)) return;
    const timings = this.options.watchTimings ?? {};
    project.watcher = new ProjectWatcher({
      root: project.root,
      skip: [this.options.home],
      setting,
      countStale: async (timeoutMs) => (await checkStaleness(project.root, project.store, { timeoutMs })).stale_files,
      run: async () => {
        if (project.job?.running) return { joined: true, done: project.job.done };
        try {
          return { joined: false, done: this.launch(project, false, true).done };
        } catch (error) {
          if (error instanceof IndexBusyError) return 'busy';
          throw error;
        }
      },
      log: this.log,
      ...timings,
    });
    const watched = [...this.projects.values()].filter((p) => p.watcher);
    if (watched.length > MAX_WATCHED_PROJECTS) {
      const oldest = watched.filter((p) => p.root !== this.currentRoot).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (oldest) this.stopWatching(oldest);
    }
  }

  private stopWatching(project: OpenProject): void {
    project.watcher?.close();
    project.watcher = null;
  }

  private makeCurrent(root: string): void {
    this.currentRoot = root;
    if (this.options.rememberCurrent === false) return;
    this.writeJson(join(this.options.home, 'state.json'), { current: root });
  }

  private readState(): { current?: string } {
    try {
      return JSON.parse(readFileSync(join(this.options.home, 'state.json'), 'utf8')) as { current?: string };
    } catch {
      return {};
    }
  }

  /** Updates fields of the project's record, keeping the others. */
  private writeProjectFile(dataDir: string, patch: Partial<ProjectFile>): void {
    const current = readProjectFile(dataDir);
    this.writeJson(join(dataDir, PROJECT_FILE), { ...current, ...patch });
  }

  /** Write-then-rename so a crash never leaves half a file. */
  private writeJson(file: string, value: unknown): void {
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
      renameSync(tmp, file);
    } catch (error) {
      throw storageErrorFrom(error, this.options.home) ?? error;
    }
  }
}

/**
 * Absolute or `~`-relative; must be an existing, readable directory that may be a project (judged on its
 * real path by `policy`, see project-root-policy.ts). Returns the path as given, resolved but not
 * de-linked, since it keys the project's data directory.
 */
export function resolveProjectPath(path: string, policy: ProjectRootPolicy = {}): string {
  const trimmed = path.trim();
  if (!trimmed) throw new InvalidInputError('path is empty: pass the absolute path of a repository directory, e.g. "/home/me/src/app".');
  const expanded = trimmed === '~' ? homedir() : trimmed.startsWith('~/') ? join(homedir(), trimmed.slice(2)) : trimmed;
  if (!isAbsolute(expanded)) {
    throw new InvalidInputError(`path "${path}" is relative: pass an absolute path (or one starting with ~/), e.g. "/home/me/src/app".`);
  }
  const root = resolve(expanded);
  let stats;
  try {
    stats = statSync(root);
  } catch {
    throw new InvalidInputError(`path "${root}" does not exist: pass the absolute path of an existing repository directory.`);
  }
  if (!stats.isDirectory()) {
    throw new InvalidInputError(`path "${root}" is a file, not a directory: pass the repository's root directory.`);
  }
  checkProjectRoot(root, realpathSync.native(root), policy);
  try {
    accessSync(root, fsConstants.R_OK | fsConstants.X_OK);
  } catch {
    throw new InvalidInputError(`path "${root}" is not readable by this process: check its permissions.`);
  }
  return root;
}

/** Each provider's required fields, then the server's CredentialPolicy on the merged settings (saved fields included). */
function validateSettings(settings: ProjectSettings, steps: NextSteps, credentials: CredentialPolicy): void {
  requiredSettings(settings, steps);
  credentials.check(settings);
}

function requiredSettings(settings: ProjectSettings, steps: NextSteps): void {
  switch (settings.provider) {
    case 'dgx':
      if (!settings.dgx_endpoint) {
        throw new InvalidInputError(`provider "dgx" needs ${steps.option('dgx_endpoint')}, the full URL of the embedding endpoint, e.g. "http://192.168.1.159:8080/embed".`);
      }
      return;
    case 'onnx':
      if (!settings.model) {
        throw new InvalidInputError(
          `provider "onnx" needs ${steps.option('model')}: the name of a pulled model (see \`codecarto models list\`; get one with \`codecarto models pull bge-small-en-v1.5\`) or a model directory holding model.onnx, tokenizer.json and codecarto.json.`,
        );
      }
      return;
    case 'openai':
      if (!settings.base_url || !settings.model) {
        throw new InvalidInputError(
          `provider "openai" needs ${steps.option('base_url')} (e.g. "http://localhost:8080") and ${steps.option('model')} (the served model name); ${steps.option('api_key_env')} names the environment variable holding the key, if one is needed.`,
        );
      }
      return;
    case 'none':
      return;
  }
}
