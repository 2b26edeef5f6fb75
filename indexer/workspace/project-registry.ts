/**
 * The projects of one $CODECARTO_HOME: those open in this process, the current one (kept in state.json
 * for the next start), and every project with a data directory (project.json), open or not.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WatchingState } from '../watch/project-watcher.js';
import { LAST_INDEXED_KEY, type OpenProject } from './open-project.js';
import { listProjects, readProjectFile, type ProjectFile } from './project-catalog.js';
import { projectDataDir, readCurrentRoot, updateProjectFile, writeCurrentRoot } from './state-files.js';
import type { KnownProject } from './status-schema.js';

export type { KnownProject } from './status-schema.js';

export interface ProjectRegistryOptions {
  /** Reopen the project that was current when the last process ended (default true). */
  restoreCurrent?: boolean;
  /** false: choosing a project does not change the one the next start opens. */
  rememberCurrent?: boolean;
}

export class ProjectRegistry {
  private readonly open = new Map<string, OpenProject>();
  private current: string | null;

  constructor(
    readonly home: string,
    private readonly options: ProjectRegistryOptions = {},
  ) {
    mkdirSync(join(home, 'projects'), { recursive: true });
    this.current = options.restoreCurrent === false ? null : readCurrentRoot(home);
  }

  /** The current project's root (open or not yet reopened), or null before any is chosen. */
  get currentRoot(): string | null {
    return this.current;
  }

  makeCurrent(root: string): void {
    this.current = root;
    if (this.options.rememberCurrent !== false) writeCurrentRoot(this.home, root);
  }

  dataDirFor(root: string): string {
    return projectDataDir(this.home, root);
  }

  /** The saved record of the project at `root` (settings, watch, file limit, last complete run), or null. */
  record(root: string): ProjectFile | null {
    return readProjectFile(this.dataDirFor(root));
  }

  /** Updates fields of the record in `dataDir`, keeping the others. */
  updateRecord(dataDir: string, patch: Partial<ProjectFile>): void {
    updateProjectFile(this.home, dataDir, patch);
  }

  get(root: string): OpenProject | undefined {
    return this.open.get(root);
  }

  add(project: OpenProject): void {
    this.open.set(project.root, project);
  }

  /** Whether `project` is still open here (a run that ends after close() finds it gone). */
  isOpen(project: OpenProject): boolean {
    return this.open.get(project.root) === project;
  }

  openProjects(): OpenProject[] {
    return [...this.open.values()];
  }

  clear(): void {
    this.open.clear();
  }

  /** Every project with a data directory, sorted by root; open ones with live counts. */
  known(watching: (project: OpenProject) => WatchingState): KnownProject[] {
    return listProjects(join(this.home, 'projects')).map(({ dataDir, record, bytes }) => {
      const open = this.open.get(record.root);
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
        current: record.root === this.current,
        watching: open ? watching(open) : 'off',
      };
    });
  }
}
