/**
 * The most files one project may hold. A tree bigger than this is almost never one repository (a home
 * directory, a mount, a cache) and indexing it would cost hours and fill the disk; a person who really
 * has such a repository raises the limit, per server (CODECARTO_MAX_FILES) or per project (max_files).
 */
import { walkRepository, WalkStats } from './walker.js';

export const DEFAULT_MAX_FILES = 200_000;
/** Highest limit anyone may set: a bound on what one agent call can commit the machine to. */
export const MAX_FILES_CEILING = 5_000_000;
/** How long set_project spends counting before it leaves the limit to the index run's walk. */
export const COUNT_BUDGET_MS = 2_000;

/** The answer of a bounded file count: `count` is exact when `complete`, else a lower bound. */
export interface FileCount {
  count: number;
  complete: boolean;
}

/**
 * Counts the files an index run would walk, stopping at `limit + 1` or after `budgetMs`, whichever
 * comes first (so set_project stays quick on a huge tree or a slow disk).
 */
export async function countFilesUpTo(root: string, limit: number, budgetMs: number): Promise<FileCount> {
  const signal = AbortSignal.timeout(budgetMs);
  let count = 0;
  try {
    for await (const _file of walkRepository(root, { signal }, new WalkStats())) {
      if (++count > limit) return { count, complete: true };
    }
  } catch (error) {
    if (signal.aborted) return { count, complete: false };
    throw error;
  }
  return { count, complete: true };
}
