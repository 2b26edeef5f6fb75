/**
 * The files codecarto keeps under $CODECARTO_HOME besides the indexes: state.json (the project the next
 * start reopens) and each data directory's project.json (read by project-catalog.ts). Writes are
 * write-then-rename, so a crash never leaves half a file.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { storageErrorFrom } from '../../models/errors/storage-error.js';
import { PROJECT_FILE, readProjectFile, type ProjectFile } from './project-catalog.js';

export const STATE_FILE = 'state.json';

/** The data directory of the project at `root`: readable name, plus a hash of the full path so two `app`s never share one. */
export function projectDataDir(home: string, root: string): string {
  const slug = basename(root).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'root';
  const hash = createHash('sha256').update(root).digest('hex').slice(0, 12);
  return join(home, 'projects', `${slug}-${hash}`);
}

/** The project that was current when the last process ended; null when none or state.json is unreadable. */
export function readCurrentRoot(home: string): string | null {
  try {
    const state = JSON.parse(readFileSync(join(home, STATE_FILE), 'utf8')) as { current?: unknown };
    return typeof state.current === 'string' ? state.current : null;
  } catch {
    return null;
  }
}

export function writeCurrentRoot(home: string, root: string): void {
  writeJsonAtomic(join(home, STATE_FILE), { current: root }, home);
}

/** Updates fields of the project's record in `dataDir`, keeping the others. */
export function updateProjectFile(home: string, dataDir: string, patch: Partial<ProjectFile>): void {
  const current = readProjectFile(dataDir);
  writeJsonAtomic(join(dataDir, PROJECT_FILE), { ...current, ...patch }, home);
}

/** A full disk or a read-only home becomes a sentence naming `home` and what to do. */
function writeJsonAtomic(file: string, value: unknown, home: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
    renameSync(tmp, file);
  } catch (error) {
    throw storageErrorFrom(error, home) ?? error;
  }
}
