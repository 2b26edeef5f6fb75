/**
 * Batch planner: pure data in, data out.
 *
 * A GPU embedding model pads every text of a batch to the batch's longest text, so the work a batch
 * costs is `texts * longest`, not the sum of its tokens. Sorting by token length and filling each
 * batch up to a padded-token budget keeps that waste near zero and keeps the memory a batch needs
 * bounded (memory follows padded tokens, not the number of texts).
 */

export interface PlanItem {
  key: string;
  /** Token count from the model's own tokenizer. */
  tokens: number;
}

export interface PlannedBatch<T extends PlanItem> {
  items: T[];
  /** Real tokens: the sum over the items. */
  tokens: number;
  /** Tokens the model computes, padding included: `items.length * longest`. */
  paddedTokens: number;
}

export interface PlanLimits {
  /** Most texts per request (the embedder's `maxBatchSize`). */
  maxTexts: number;
  /** Most padded tokens per request (the embedder's `tokenBudget`). */
  tokenBudget: number;
}

/**
 * Sorts by token length (stable, so equal lengths keep arrival order) and packs consecutive items
 * while `count <= maxTexts` and `count * longest <= tokenBudget`. An item longer than the budget on
 * its own gets a batch of its own. Every input item appears in exactly one batch.
 */
export function planBatches<T extends PlanItem>(items: readonly T[], limits: PlanLimits): PlannedBatch<T>[] {
  const maxTexts = Math.max(1, Math.floor(limits.maxTexts));
  const budget = Math.max(1, Math.floor(limits.tokenBudget));
  const sorted = [...items].sort((a, b) => a.tokens - b.tokens);
  const batches: PlannedBatch<T>[] = [];
  let current: T[] = [];
  let real = 0;
  let longest = 0;
  const flush = () => {
    if (current.length === 0) return;
    batches.push({ items: current, tokens: real, paddedTokens: current.length * longest });
    current = [];
    real = 0;
    longest = 0;
  };
  for (const item of sorted) {
    const tokens = Math.max(0, item.tokens);
    const nextLongest = Math.max(longest, tokens);
    const nextCount = current.length + 1;
    if (current.length > 0 && (nextCount > maxTexts || nextCount * nextLongest > budget)) flush();
    current.push(item);
    real += tokens;
    longest = Math.max(longest, tokens);
  }
  flush();
  return batches;
}

/** Consecutive batches of `size` in arrival order: what a fixed `batch_size` does, for comparison. */
export function fixedBatches<T extends PlanItem>(items: readonly T[], size: number): PlannedBatch<T>[] {
  const step = Math.max(1, Math.floor(size));
  const batches: PlannedBatch<T>[] = [];
  for (let i = 0; i < items.length; i += step) {
    const slice = items.slice(i, i + step);
    let real = 0;
    let longest = 0;
    for (const item of slice) {
      real += Math.max(0, item.tokens);
      longest = Math.max(longest, item.tokens);
    }
    batches.push({ items: slice, tokens: real, paddedTokens: slice.length * longest });
  }
  return batches;
}

/** Tokens the model computes (padding included) per real token; 1.0 means no padding. 1 for no tokens. */
export function padFactor(batches: readonly { tokens: number; paddedTokens: number }[]): number {
  let real = 0;
  let padded = 0;
  for (const batch of batches) {
    real += batch.tokens;
    padded += batch.paddedTokens;
  }
  return real > 0 ? padded / real : 1;
}
