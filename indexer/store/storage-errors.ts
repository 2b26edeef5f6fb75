/**
 * Turns the errors a full or read-only disk raises (from SQLite or the file system) into a sentence
 * that says what to do. Returns null for anything else.
 */
export function describeStorageError(error: unknown, dataDir: string): string | null {
  const code = errorCode(error);
  if (!code) return null;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    return `The disk holding codecarto's data directory ${dataDir} is full (${code}). Free some space there (or set CODECARTO_HOME to a roomier place), then call \`index\` again: the previous index is intact and only what is missing will be embedded.`;
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM' || code.startsWith('SQLITE_CANTOPEN')) {
    return `codecarto's data directory ${dataDir} is not writable (${code}). Check its permissions and the mount (or set CODECARTO_HOME to a writable place), then call \`index\` again: the previous index is intact and search still works.`;
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return `Reading or writing codecarto's data directory ${dataDir} failed (${code}). Check the disk, then call \`index\` again: SQLite rolled back the unfinished write.`;
  }
  return null;
}

function errorCode(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}
