import { causeChain } from './cause-chain.js';
import { CodecartoError } from './codecarto-error.js';

/** What went wrong with the disk, decided from the error's code (SQLite's or the file system's). */
export type StorageFailureKind = 'disk_full' | 'read_only' | 'permission' | 'io';

/**
 * Codecarto's data directory could not be written (or read). Typed so callers branch on `kind`;
 * the message names the directory and says what to do (`advice`). Never retryable as is: a person
 * has to free space or fix the mount first.
 */
export class StorageError extends CodecartoError {
  readonly kind: StorageFailureKind;
  /** The code that decided the kind, e.g. SQLITE_FULL, ENOSPC, EROFS, SQLITE_IOERR_WRITE. */
  readonly code: string;
  /** The data directory concerned. */
  readonly path: string;
  /** What to do, as a sentence (also the end of the message). */
  readonly advice: string;
  constructor(options: { kind: StorageFailureKind; code: string; path: string; cause?: unknown }) {
    const { what, advice } = describe(options.kind, options.code, options.path);
    super(`${what} ${advice}`, { cause: options.cause, isRetryable: false });
    this.kind = options.kind;
    this.code = options.code;
    this.path = options.path;
    this.advice = advice;
  }
}

/**
 * The StorageError for a failure of a full, read-only or failing disk anywhere in `error`'s cause chain,
 * naming `path` (the data directory being written); null for anything else.
 */
export function storageErrorFrom(error: unknown, path: string): StorageError | null {
  if (error instanceof StorageError) return error;
  for (const link of causeChain(error)) {
    const code = (link as { code?: unknown }).code;
    const kind = typeof code === 'string' ? storageFailureKind(code) : null;
    if (kind) return new StorageError({ kind, code: code as string, path, cause: error });
  }
  return null;
}

/** The kind of storage failure an SQLite or errno code means, or null when it means something else. */
export function storageFailureKind(code: string): StorageFailureKind | null {
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'disk_full';
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') return 'read_only';
  if (code === 'EACCES' || code === 'EPERM' || code.startsWith('SQLITE_CANTOPEN')) return 'permission';
  if (code.startsWith('SQLITE_IOERR')) return 'io';
  return null;
}

function describe(kind: StorageFailureKind, code: string, dir: string): { what: string; advice: string } {
  switch (kind) {
    case 'disk_full':
      return {
        what: `The disk holding codecarto's data directory ${dir} is full (${code}).`,
        advice: 'Free some space there (or set CODECARTO_HOME to a roomier place), then call `index` again: the previous index is intact and only what is missing will be embedded.',
      };
    case 'read_only':
    case 'permission':
      return {
        what: `codecarto's data directory ${dir} is not writable (${code}).`,
        advice: 'Check its permissions and the mount (or set CODECARTO_HOME to a writable place), then call `index` again: the previous index is intact and search still works.',
      };
    case 'io':
      return {
        what: `Reading or writing codecarto's data directory ${dir} failed (${code}).`,
        advice: 'Check the disk, then call `index` again: SQLite rolled back the unfinished write.',
      };
  }
}
