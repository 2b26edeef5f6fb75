import type { Embedder } from '../../models/embedder.js';
import type { IndexJob } from '../run/index-job.js';
import type { IndexSummary } from '../run/index-summary.js';
import type { IndexStore } from '../store/store-types.js';
import type { ProjectWatcher } from '../watch/project-watcher.js';
import type { ProjectSettings } from './project-settings.js';
import type { StalenessCache } from './staleness-cache.js';

/** Meta key of the store: when the last complete index run ended (ISO time); absent: never indexed completely. */
export const LAST_INDEXED_KEY = 'last_indexed';

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
  /** The stat-only staleness check of search, reused for a few seconds. */
  staleness: StalenessCache;
  /** Why its settings cannot run (it is open for lexical search of what is indexed; `index` refuses); null when they can. */
  problem: string | null;
}
