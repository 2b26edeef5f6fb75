import type { IndexStore } from '../store/store-types.js';
import { checkStaleness, type Staleness } from '../watch/staleness.js';

/** How long search reuses a staleness result, so a burst of searches walks the tree once. */
export const STALENESS_TTL_MS = 3_000;

/** One project's last stat-only staleness check on the search path; counts may lag by up to `ttlMs`. */
export class StalenessCache {
  private cached: { value: Staleness; at: number } | null = null;

  constructor(
    private readonly root: string,
    private readonly store: IndexStore,
    private readonly ttlMs = STALENESS_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached result while fresh, else a new walk of at most `budgetMs` (its count is a lower bound when cut short). */
  async get(budgetMs: number): Promise<Staleness> {
    const cached = this.cached;
    if (cached && this.now() - cached.at < this.ttlMs) return cached.value;
    const value = await checkStaleness(this.root, this.store, { timeoutMs: budgetMs });
    this.cached = { value, at: this.now() };
    return value;
  }

  /** After an index run: the next search counts again. */
  clear(): void {
    this.cached = null;
  }
}
