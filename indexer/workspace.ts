import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync, accessSync, constants as fsConstants } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { Embedder, ProviderName } from '../models/embedder.js';
import { CodecartoError, InvalidInputError } from '../models/errors.js';
import { IndexJob } from './index-job.js';
import { ProjectLock } from './project-lock.js';
import type { IndexSummary } from './index-summary.js';
import { mergeSettings, projectSettingsSchema, type ProjectSettings, type SettingsInput } from './project-settings.js';
import { search, type SearchRequest, type SearchResponse } from './searcher.js';
import { checkStaleness } from './staleness.js';
import { describeStorageError } from './storage-errors.js';
import type { IndexStore, StoreCounts } from './store/store-types.js';

export type EmbedderFactory = (settings: ProjectSettings, log: (message: string) => void) => Promise<Embedder>;
export type StoreFactory = (dataDir: string, log: (message: string) => void) => IndexStore;

export interface WorkspaceOptions {
  /** $CODECARTO_HOME: one data directory per project lives below it, never inside the repository. */
  home: string;
  createEmbedder: EmbedderFactory;
  openStore: StoreFactory;
  /** Provider used when neither the call nor the project's saved settings name one. */
  defaultProvider?: ProviderName;
  log?: (message: string) => void;
}

/** A project that has been opened in this process: its store, its embedder and its index run. */
export interface OpenProject {
  root: string;
  dataDir: string;
  settings: ProjectSettings;
  store: IndexStore;
  embedder: Embedder;
  job: IndexJob | null;
  lastSummary: IndexSummary | null;
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
  /** Plain words on what the state means for the user: lexical-only, re-embed needed, never indexed. */
  notes: string[];
}

const LAST_INDEXED_KEY = 'last_indexed';

/** Another process holds the project's index lock. */
export class IndexBusyError extends CodecartoError {}

/** The projects codecarto knows, the current one, and the operations tools call on them. */
export class Workspace {
  private readonly projects = new Map<string, OpenProject>();
  private currentRoot: string | null = null;
  /** set_project calls run one at a time, and calls that need the project wait for them. */
  private settling: Promise<unknown> = Promise.resolve();
  private readonly log: (message: string) => void;

  constructor(private readonly options: WorkspaceOptions) {
    this.log = options.log ?? (() => {});
    mkdirSync(join(options.home, 'projects'), { recursive: true });
    this.currentRoot = this.readState().current ?? null;
  }

  /** Opens (or re-configures) a project and makes it current; persisted for the next start. */
  setProject(path: string, input: SettingsInput): Promise<ProjectState> {
    const run = this.settling.then(() => this.applyProject(path, input));
    this.settling = run.catch(() => {});
    return run;
  }

  private async applyProject(path: string, input: SettingsInput): Promise<ProjectState> {
    const root = resolveProjectPath(path);
    const dataDir = this.dataDirFor(root);
    const saved = this.readSettings(dataDir);
    const settings = mergeSettings(saved, input, this.options.defaultProvider);
    validateSettings(settings);

    const open = this.projects.get(root);
    if (open && JSON.stringify(open.settings) === JSON.stringify(settings)) {
      this.makeCurrent(root);
      return this.state(open);
    }
    if (open?.job?.running) {
      throw new InvalidInputError(
        `An index run is in progress for ${root} with provider ${open.settings.provider}; wait for it (call \`index\`) or cancel it before changing the provider settings.`,
      );
    }
    const embedder = await this.options.createEmbedder(settings, this.log);
    if (open) {
      await open.embedder.close();
      open.embedder = embedder;
      open.settings = settings;
    } else {
      let store: IndexStore;
      try {
        mkdirSync(dataDir, { recursive: true });
        store = this.options.openStore(dataDir, this.log);
      } catch (error) {
        await embedder.close();
        const storage = describeStorageError(error, dataDir);
        throw storage ? new CodecartoError(storage, { cause: error }) : error;
      }
      this.projects.set(root, { root, dataDir, settings, store, embedder, job: null, lastSummary: null });
    }
    this.writeSettings(dataDir, root, settings);
    this.makeCurrent(root);
    return this.state(this.projects.get(root)!);
  }

  /** The current project, opening it from its saved settings after a restart. */
  async current(): Promise<OpenProject> {
    await this.settling;
    if (!this.currentRoot) {
      throw new InvalidInputError('No project is set. Call `set_project` with the path of the repository to search first.');
    }
    const open = this.projects.get(this.currentRoot);
    if (open) return open;
    const saved = this.readSettings(this.dataDirFor(this.currentRoot));
    await this.setProject(this.currentRoot, saved ?? {});
    return this.projects.get(this.currentRoot)!;
  }

  /** Starts an index run of the current project, or returns the one already running (callers join it). */
  async startIndex(options: { path?: string; full?: boolean }): Promise<IndexJob> {
    if (options.path) {
      const root = resolveProjectPath(options.path);
      if (root !== this.currentRoot) await this.setProject(root, {});
    }
    const project = await this.current();
    if (project.job?.running) return project.job;
    const acquired = ProjectLock.acquire(project.dataDir);
    if ('heldBy' in acquired) {
      const { pid, host, since } = acquired.heldBy;
      throw new IndexBusyError(
        `Another codecarto process (PID ${pid}${host !== hostname() ? ` on ${host}` : ''}, since ${since}) is indexing ${project.root}. ` +
          'Search works meanwhile and sees its results as they are stored; call `index` again when it has finished.',
      );
    }
    const job = new IndexJob({
      root: project.root,
      store: project.store,
      embedder: project.embedder,
      full: options.full ?? false,
      log: this.log,
    });
    project.job = job;
    void job.done.then((summary) => {
      acquired.lock.release();
      project.lastSummary = summary;
      if (summary.state === 'done') project.store.setMeta(LAST_INDEXED_KEY, new Date().toISOString());
    });
    return job;
  }

  async search(request: SearchRequest): Promise<SearchResponse & { partial: boolean }> {
    const project = await this.current();
    const response = await search(project.store, project.embedder, request);
    return { ...response, partial: project.job?.running ?? false };
  }

  async status(): Promise<{ open: OpenProject; state: ProjectState }> {
    const open = await this.current();
    return { open, state: await this.state(open) };
  }

  async close(): Promise<void> {
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

  dataDirFor(root: string): string {
    const slug = basename(root).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'root';
    const hash = createHash('sha256').update(root).digest('hex').slice(0, 12);
    return join(this.options.home, 'projects', `${slug}-${hash}`);
  }

  private async state(project: OpenProject): Promise<ProjectState> {
    const counts: StoreCounts = project.store.counts();
    const model = project.store.getModel();
    const notes: string[] = [];
    const embeds = project.embedder.provider !== 'none';
    if (!embeds) notes.push('Provider "none": search is lexical only (BM25 over identifiers and text). Pass provider "dgx", "onnx" or "openai" for semantic search.');
    if (embeds && model && model.modelId !== project.embedder.modelId) {
      notes.push(`The index holds vectors of ${model.modelId}; the next \`index\` re-embeds every chunk with ${project.embedder.modelId} (vectors are never mixed).`);
    }
    const lastIndexed = project.store.getMeta(LAST_INDEXED_KEY);
    if (!lastIndexed && counts.files === 0) notes.push('Not indexed yet: call `index`.');
    let stale: number | null = null;
    if (counts.files > 0 && !project.job?.running) {
      const staleness = await checkStaleness(project.root, project.store);
      stale = staleness.stale_files;
      if (stale > 0) notes.push(`${stale}${staleness.complete ? '' : '+'} files changed since the last index; call \`index\` to refresh.`);
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
      notes,
    };
  }

  private makeCurrent(root: string): void {
    this.currentRoot = root;
    this.writeJson(join(this.options.home, 'state.json'), { current: root });
  }

  private readState(): { current?: string } {
    try {
      return JSON.parse(readFileSync(join(this.options.home, 'state.json'), 'utf8')) as { current?: string };
    } catch {
      return {};
    }
  }

  private readSettings(dataDir: string): ProjectSettings | null {
    try {
      const raw = JSON.parse(readFileSync(join(dataDir, 'project.json'), 'utf8')) as { settings?: unknown };
      const parsed = projectSettingsSchema.safeParse(raw.settings);
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  private writeSettings(dataDir: string, root: string, settings: ProjectSettings): void {
    this.writeJson(join(dataDir, 'project.json'), { root, settings });
  }

  /** Write-then-rename so a crash never leaves half a file. */
  private writeJson(file: string, value: unknown): void {
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
      renameSync(tmp, file);
    } catch (error) {
      const storage = describeStorageError(error, this.options.home);
      throw storage ? new CodecartoError(storage, { cause: error }) : error;
    }
  }
}

/** Absolute or `~`-relative; must be an existing, readable directory. */
export function resolveProjectPath(path: string): string {
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
  try {
    accessSync(root, fsConstants.R_OK | fsConstants.X_OK);
  } catch {
    throw new InvalidInputError(`path "${root}" is not readable by this process: check its permissions.`);
  }
  return root;
}

function validateSettings(settings: ProjectSettings): void {
  switch (settings.provider) {
    case 'dgx':
      if (!settings.dgx_endpoint) {
        throw new InvalidInputError('provider "dgx" needs dgx_endpoint, the full URL of the embedding endpoint, e.g. "http://192.168.1.159:8080/embed".');
      }
      return;
    case 'onnx':
      if (!settings.model) {
        throw new InvalidInputError('provider "onnx" needs model: the name of a pulled model (see `codecarto models list`; get one with `codecarto models pull bge-small-en-v1.5`) or a model directory holding model.onnx, tokenizer.json and codecarto.json.');
      }
      return;
    case 'openai':
      if (!settings.base_url || !settings.model) {
        throw new InvalidInputError('provider "openai" needs base_url (e.g. "http://localhost:8080") and model (the served model name); api_key_env names the environment variable holding the key, if one is needed.');
      }
      return;
    case 'none':
      return;
  }
}
