import { describe, expect, it } from 'vitest';
import { EmbeddingBatcher, type BatchRunStats } from '../src/embed-server/embedding-batcher.js';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { AbortError } from '../models/errors/abort-error.js';

/**
 * The embedding server's cross-request batching, driven with a recording `run` so the schedule itself
 * can be checked: what ran together, in which order, and who waited.
 */
interface Item {
  tokens: number;
  name: string;
}

function recordingBatcher(options: { maxTexts?: number; tokenBudget?: number; failAbove?: number } = {}) {
  const runs: Item[][] = [];
  const stats: BatchRunStats[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const hooks: { beforeRun?: (runIndex: number) => void } = {};
  const batcher = new EmbeddingBatcher<Item, string>({
    maxTexts: options.maxTexts ?? 8,
    tokenBudget: options.tokenBudget ?? 100,
    run: async (items) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      hooks.beforeRun?.(runs.length);
      runs.push(items);
      await new Promise((resolve) => setTimeout(resolve, 2));
      concurrent--;
      if (options.failAbove !== undefined && items.length > options.failAbove) {
        throw new CodecartoError('CUDA out of memory', { isRetryable: true });
      }
      return items.map((item) => `v(${item.name})`);
    },
    isBatchTooLarge: (error) => error instanceof CodecartoError && error.isRetryable,
    onRun: (s) => stats.push(s),
  });
  return { batcher, runs, stats, hooks, maxConcurrent: () => maxConcurrent };
}

const items = (caller: string, tokens: number[]): Item[] => tokens.map((t, i) => ({ tokens: t, name: `${caller}${i}` }));

describe('EmbeddingBatcher', () => {
  it('gives every caller its own results in its own order, one run at a time', async () => {
    const { batcher, maxConcurrent } = recordingBatcher();
    const callers = Array.from({ length: 12 }, (_, c) => items(`c${c}-`, [5 + ((c * 7) % 13), 3, 40 - c, 1]));
    const results = await Promise.all(callers.map((list) => batcher.submit(list)));
    results.forEach((result, c) => expect(result).toEqual(callers[c].map((item) => `v(${item.name})`)));
    expect(maxConcurrent()).toBe(1);
    await batcher.idle();
    expect(batcher.queuedItems).toBe(0);
  });

  it('packs the texts of all waiting callers together, sorted by tokens, within the token budget', async () => {
    const { batcher, runs, stats } = recordingBatcher({ maxTexts: 8, tokenBudget: 100 });
    const first = batcher.submit(items('a', [10])); // runs alone; the rest queue behind it
    const waiting = [batcher.submit(items('b', [30, 5])), batcher.submit(items('c', [6, 31])), batcher.submit(items('d', [4]))];
    await Promise.all([first, ...waiting]);
    expect(runs[0].map((i) => i.name)).toEqual(['a0']);
    // Run 2 holds the three short texts of three callers, in token order; the two ~30-token texts follow.
    expect(runs[1].map((i) => i.name)).toEqual(['d0', 'b1', 'c0']);
    expect(runs[2].map((i) => i.name)).toEqual(['b0', 'c1']);
    expect(stats[1].requests).toBe(3);
    for (const s of stats) expect(s.paddedTokens).toBeLessThanOrEqual(100);
  });

  it('does not pad short texts to a much longer request just to fill the budget', async () => {
    const { batcher, runs, stats } = recordingBatcher({ maxTexts: 64, tokenBudget: 8192 });
    const first = batcher.submit(items('w', [1]));
    const short = batcher.submit(items('a', Array(16).fill(100)));
    const long = batcher.submit(items('b', Array(4).fill(400)));
    await Promise.all([first, short, long]);
    // Greedy filling would run 16 x 100 + 4 x 400 as 20 x 400 (pad 2.5); each length runs on its own.
    expect(runs.slice(1).map((r) => r.length)).toEqual([16, 4]);
    for (const s of stats.slice(1)) expect(s.paddedTokens).toBe(s.tokens);
  });

  it('does not starve a long text behind a stream of newer short ones (oldest caller first)', async () => {
    const { batcher, runs, hooks } = recordingBatcher({ maxTexts: 4, tokenBudget: 100 });
    const pending: Promise<string[]>[] = [];
    let fed = 0;
    const feedShort = () => pending.push(batcher.submit(items(`s${fed}-`, [3])), batcher.submit(items(`t${fed}-`, [4])));
    pending.push(batcher.submit(items('warm', [2]))); // run 0 starts at once
    let longDoneAtRun = -1;
    const long = batcher.submit(items('long', [90])).then((r) => {
      longDoneAtRun = runs.length;
      return r;
    });
    // Newer short callers keep arriving, two per run: sorted planning alone would always run them first.
    feedShort();
    hooks.beforeRun = () => {
      if (fed++ < 20) feedShort();
    };
    await long;
    await batcher.idle();
    await Promise.all(pending);
    // The long text is the oldest waiting caller once run 0 ends, so run 1 is its run.
    expect(runs[1].map((i) => i.name)).toEqual(['long0']);
    expect(longDoneAtRun).toBe(2);
    expect(runs.length).toBeGreaterThan(10); // the stream went on after it
  });

  it('splits a run that fails as too large, lowers its budget, and still answers everyone in order', async () => {
    const { batcher, runs } = recordingBatcher({ maxTexts: 8, tokenBudget: 400, failAbove: 2 });
    const a = batcher.submit(items('a', [10, 11, 12, 13, 14, 15]));
    expect(await a).toEqual(['v(a0)', 'v(a1)', 'v(a2)', 'v(a3)', 'v(a4)', 'v(a5)']);
    expect(runs[0]).toHaveLength(6);
    expect(batcher.currentTokenBudget).toBeLessThan(400);
    expect(runs.filter((r) => r.length <= 2).flat()).toHaveLength(6);
  });

  it('fails only the callers of a run that fails for another reason', async () => {
    const batcher = new EmbeddingBatcher<Item, string>({
      maxTexts: 1,
      tokenBudget: 100,
      run: async (list) => {
        if (list[0].name.startsWith('bad')) throw new Error('broken input');
        return list.map((i) => i.name);
      },
    });
    const bad = batcher.submit(items('bad', [1, 2]));
    const good = batcher.submit(items('good', [1, 2]));
    await expect(bad).rejects.toThrow('broken input');
    expect(await good).toEqual(['good0', 'good1']);
  });

  it('drops the waiting texts of a caller that aborts', async () => {
    const { batcher, runs } = recordingBatcher({ maxTexts: 1 });
    const controller = new AbortController();
    const first = batcher.submit(items('a', [1]));
    const gone = batcher.submit(items('gone', [1, 1, 1]), controller.signal);
    controller.abort();
    await expect(gone).rejects.toBeInstanceOf(AbortError);
    await first;
    await batcher.idle();
    expect(runs.flat().map((i) => i.name)).toEqual(['a0']);
  });
});
