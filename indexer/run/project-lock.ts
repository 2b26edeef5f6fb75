import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'index.lock';

interface LockRecord {
  pid: number;
  host: string;
  since: string;
}

/** Who holds a project's index lock, when it is not us. */
export interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

/**
 * One writer per project across processes: a lock file created with O_EXCL in the project's data
 * directory. A lock whose process is gone (SIGKILL, crash) is taken over; on another host (a shared
 * home directory) liveness cannot be checked, so its lock is respected.
 */
export class ProjectLock {
  private released = false;

  private constructor(private readonly file: string) {}

  /** Takes the lock, or says who holds it. */
  static acquire(dataDir: string): { lock: ProjectLock } | { heldBy: LockHolder } {
    const file = join(dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        try {
          const record: LockRecord = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
          writeSync(fd, JSON.stringify(record));
        } finally {
          closeSync(fd);
        }
        return { lock: new ProjectLock(file) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readHolder(file);
      if (holder && (holder.host !== hostname() || isAlive(holder.pid))) return { heldBy: holder };
      // Stale (dead process) or unreadable (a crash between create and write): take it over.
      rmSync(file, { force: true });
    }
    const holder = readHolder(file);
    return { heldBy: holder ?? { pid: 0, host: hostname(), since: 'unknown' } };
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const holder = readHolder(this.file);
    if (holder?.pid === process.pid) rmSync(this.file, { force: true });
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockRecord>;
    if (typeof record.pid !== 'number') return null;
    return { pid: record.pid, host: record.host ?? hostname(), since: record.since ?? 'unknown' };
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
