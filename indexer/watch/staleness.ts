import type { IndexStore } from '../store/store-types.js';
import { languageForPath } from '../chunk/languages.js';
import { walkRepository, WalkStats } from '../walk/walker.js';

export interface Staleness {
  /** Files added, changed or removed on disk since the last index, by stat (nothing is read). */
  stale_files: number;
  /** False when the check ran out of time; stale_files is then a lower bound. */
  complete: boolean;
}

/** Compares size and mtime of the walked tree with the catalog; cheap enough to run on every status. */
export async function checkStaleness(root: string, store: IndexStore, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Staleness> {
  const catalog = store.listFiles();
  const deadline = Date.now() + (options.timeoutMs ?? 3000);
  let stale = 0;
  let seen = 0;
  for await (const file of walkRepository(root, { signal: options.signal }, new WalkStats())) {
    if (Date.now() > deadline) return { stale_files: stale, complete: false };
    const known = catalog.get(file.path);
    if (known) {
      seen++;
      if (known.size !== file.size || known.mtimeMs !== file.mtimeMs) stale++;
    } else if (languageForPath(file.path)) {
      stale++;
    }
  }
  return { stale_files: stale + (catalog.size - seen), complete: true };
}
