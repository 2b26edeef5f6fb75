/**
 * The per-project record kept in each data directory (project.json) and the list of every project
 * under $CODECARTO_HOME/projects, read without opening any index (status lists them all).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { projectSettingsSchema, type ProjectSettings } from './project-settings.js';

export const PROJECT_FILE = 'project.json';

/** What the last complete index run left, so listing projects needs no database. */
export interface LastIndexRecord {
  at: string;
  files: number;
  chunks: number;
}

export interface ProjectFile {
  root: string;
  settings: ProjectSettings | null;
  /** Absent means watching is on (the default). */
  watch?: boolean;
  /** The project's own file limit (set_project max_files); absent: the server's. */
  max_files?: number;
  last_index?: LastIndexRecord;
}

/** The project record in `dataDir`, or null when missing or unreadable. */
export function readProjectFile(dataDir: string): ProjectFile | null {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(join(dataDir, PROJECT_FILE), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null || typeof raw.root !== 'string') return null;
  const settings = projectSettingsSchema.safeParse(raw.settings);
  const last = raw.last_index as Partial<LastIndexRecord> | undefined;
  return {
    root: raw.root,
    settings: settings.success ? settings.data : null,
    ...(typeof raw.watch === 'boolean' ? { watch: raw.watch } : {}),
    ...(typeof raw.max_files === 'number' && Number.isInteger(raw.max_files) && raw.max_files > 0 ? { max_files: raw.max_files } : {}),
    ...(last && typeof last.at === 'string' && typeof last.files === 'number' && typeof last.chunks === 'number'
      ? { last_index: { at: last.at, files: last.files, chunks: last.chunks } }
      : {}),
  };
}

export interface CatalogEntry {
  dataDir: string;
  record: ProjectFile;
  /** Bytes on disk in the data directory (index database, WAL, HNSW file). */
  bytes: number;
}

/** Every data directory under `projectsDir` that holds a project record, sorted by root. */
export function listProjects(projectsDir: string): CatalogEntry[] {
  let names: string[];
  try {
    names = readdirSync(projectsDir);
  } catch {
    return [];
  }
  const entries: CatalogEntry[] = [];
  for (const name of names) {
    const dataDir = join(projectsDir, name);
    const record = readProjectFile(dataDir);
    if (record) entries.push({ dataDir, record, bytes: directoryBytes(dataDir) });
  }
  return entries.sort((a, b) => (a.record.root < b.record.root ? -1 : a.record.root > b.record.root ? 1 : 0));
}

/** Sum of the sizes of the files directly in `dir` (a data directory holds no subdirectories worth counting). */
function directoryBytes(dir: string): number {
  let total = 0;
  try {
    for (const name of readdirSync(dir)) {
      try {
        const info = statSync(join(dir, name));
        if (info.isFile()) total += info.size;
      } catch {
        // Removed between listing and stat (a WAL checkpoint): nothing to count.
      }
    }
  } catch {
    return 0;
  }
  return total;
}
