import { seededRandom } from '../models/seeded-random.js';
import { describe, expect, it } from 'vitest';
import { fixedBatches, padFactor, planBatches, type PlanItem } from '../indexer/run/batch-planner.js';


/** Code chunk lengths: log-normal, median ~220 tokens, clipped to what a chunker emits (8..2048). */
function codeChunkItems(count: number, seed: number, sigma = 0.9): PlanItem[] {
  const random = seededRandom(seed);
  const items: PlanItem[] = [];
  for (let i = 0; i < count; i++) {
    const u1 = Math.max(random(), 1e-12);
    const u2 = random();
    const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    const tokens = Math.min(2048, Math.max(8, Math.round(220 * Math.exp(sigma * normal))));
    items.push({ key: `chunk-${i}`, tokens });
  }
  return items;
}

function expectValidPlan(items: PlanItem[], batches: { items: PlanItem[]; tokens: number; paddedTokens: number }[], maxTexts: number, budget: number) {
  const keys = batches.flatMap((b) => b.items.map((i) => i.key));
  expect(keys.length).toBe(items.length);
  expect(new Set(keys)).toEqual(new Set(items.map((i) => i.key)));
  for (const batch of batches) {
    const longest = Math.max(...batch.items.map((i) => i.tokens));
    expect(batch.items.length).toBeGreaterThan(0);
    expect(batch.items.length).toBeLessThanOrEqual(maxTexts);
    expect(batch.tokens).toBe(batch.items.reduce((s, i) => s + i.tokens, 0));
    expect(batch.paddedTokens).toBe(batch.items.length * longest);
    if (batch.items.length > 1) expect(batch.paddedTokens).toBeLessThanOrEqual(budget);
  }
}

describe('planBatches', () => {
  it('keeps the pad factor at or under 1.15 on log-normal code chunk lengths (fixed 48 in arrival order for comparison)', () => {
    for (const [seed, maxTexts] of [[1, 48], [2, 32], [3, 48]] as const) {
      const items = codeChunkItems(2000, seed);
      const budget = 48 * 512;
      const planned = planBatches(items, { maxTexts, tokenBudget: budget });
      const fixed = fixedBatches(items, 48);
      const planned_ = padFactor(planned);
      const fixed_ = padFactor(fixed);
      console.log(
        `seed ${seed}: planned (maxTexts ${maxTexts}, budget ${budget}) pad ${planned_.toFixed(3)} in ${planned.length} batches; ` +
          `fixed 48 in arrival order pad ${fixed_.toFixed(3)} in ${fixed.length} batches`,
      );
      expectValidPlan(items, planned, maxTexts, budget);
      expect(planned_).toBeLessThanOrEqual(1.15);
      expect(fixed_).toBeGreaterThan(2);
    }
  });

  it('also stays under 1.15 with a smaller budget and a wider spread', () => {
    const items = codeChunkItems(3000, 7, 1.2);
    const planned = planBatches(items, { maxTexts: 64, tokenBudget: 16_384 });
    expectValidPlan(items, planned, 64, 16_384);
    expect(padFactor(planned)).toBeLessThanOrEqual(1.15);
  });

  it('sorts by length, stably, and never exceeds the count or token budget', () => {
    const items: PlanItem[] = [
      { key: 'a', tokens: 30 },
      { key: 'b', tokens: 10 },
      { key: 'c', tokens: 30 },
      { key: 'd', tokens: 10 },
      { key: 'e', tokens: 20 },
    ];
    const batches = planBatches(items, { maxTexts: 2, tokenBudget: 1000 });
    expect(batches.map((b) => b.items.map((i) => i.key))).toEqual([['b', 'd'], ['e', 'a'], ['c']]);
    expect(batches.map((b) => [b.tokens, b.paddedTokens])).toEqual([[20, 20], [50, 60], [30, 30]]);

    const byBudget = planBatches(items, { maxTexts: 10, tokenBudget: 60 });
    expect(byBudget.map((b) => b.items.map((i) => i.key))).toEqual([['b', 'd', 'e'], ['a', 'c']]);
  });

  it('gives an item longer than the budget a batch of its own', () => {
    const items: PlanItem[] = [
      { key: 'small1', tokens: 5 },
      { key: 'huge', tokens: 5000 },
      { key: 'small2', tokens: 5 },
      { key: 'huge2', tokens: 6000 },
    ];
    const batches = planBatches(items, { maxTexts: 48, tokenBudget: 1000 });
    expect(batches.map((b) => b.items.map((i) => i.key))).toEqual([['small1', 'small2'], ['huge'], ['huge2']]);
    expect(batches[1]!.paddedTokens).toBe(5000);
  });

  it('handles empty input, and keeps extra fields of the items', () => {
    expect(planBatches([], { maxTexts: 8, tokenBudget: 100 })).toEqual([]);
    expect(padFactor([])).toBe(1);
    const [batch] = planBatches([{ key: 'k', tokens: 3, text: 'abc' }], { maxTexts: 8, tokenBudget: 100 });
    expect(batch!.items[0]!.text).toBe('abc');
  });
});

describe('fixedBatches and padFactor', () => {
  it('cuts in arrival order and measures padding', () => {
    const items: PlanItem[] = [
      { key: 'a', tokens: 100 },
      { key: 'b', tokens: 10 },
      { key: 'c', tokens: 10 },
    ];
    const batches = fixedBatches(items, 2);
    expect(batches.map((b) => b.items.map((i) => i.key))).toEqual([['a', 'b'], ['c']]);
    expect(batches.map((b) => b.paddedTokens)).toEqual([200, 10]);
    expect(padFactor(batches)).toBeCloseTo(210 / 120);
    expect(padFactor(planBatches(items, { maxTexts: 2, tokenBudget: 1000 }))).toBeCloseTo(1);
  });
});
