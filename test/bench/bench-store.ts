/**
 * What the bench scripts share about a store: reading every chunk, the seeded queries written from chunks
 * (so `bench.ts` and `search-profile.ts` ask the same 200 queries of the same index), and a wrapper that
 * times each store call.
 */
import type { ChunkRow, IndexStore } from '../../indexer/store/store-types.js';
import { seededRandom, wordCounts } from './hashed-embedder.js';

/** Time and calls spent in one store method. */
export interface MethodTime {
  ms: number;
  calls: number;
}

/**
 * Wraps every method of the store to add up the time spent in it (the store is synchronous); `onCall`
 * sees each call's arguments.
 */
export function timedStore(store: IndexStore, times: Map<string, MethodTime>, onCall?: (name: string, args: unknown[]) => void): IndexStore {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        onCall?.(String(prop), args);
        const t = performance.now();
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          const entry = times.get(String(prop)) ?? { ms: 0, calls: 0 };
          entry.ms += performance.now() - t;
          entry.calls++;
          times.set(String(prop), entry);
        }
      };
    },
  });
}

/** Every chunk row, in insertion order (= walk order for a fresh build). */
export function allChunks(store: IndexStore): ChunkRow[] {
  const n = store.counts().chunks;
  const rows: ChunkRow[] = [];
  // Ids are rowids; after deletes they may run past the count, so read until n rows are found.
  for (let start = 1; rows.length < n && start < 50 * (n + 1000); start += 5000) {
    rows.push(...store.getChunks(Array.from({ length: 5000 }, (_, i) => start + i)));
  }
  return rows.sort((a, b) => a.id - b.id);
}

const STOP_WORDS = new Set(
  'the and for that this with from are not but var let const function return export import default new true false null undefined void string number boolean any type interface class extends implements public private protected static readonly async await get set value values index length object array key keys'.split(
    ' ',
  ),
);

/** Queries as an agent writes them: three distinct words of a chunk (identifier parts), in random order. */
export function wordQuery(row: Pick<ChunkRow, 'text'>, random: () => number): string | null {
  const words = [...wordCounts(row.text).keys()].filter((w) => /^[a-z]{3,20}$/.test(w) && !STOP_WORDS.has(w));
  if (words.length < 3) return null;
  const picked = new Set<string>();
  while (picked.size < 3) picked.add(words[Math.floor(random() * words.length)]);
  return [...picked].join(' ');
}

/** A passage-like query: a contiguous half of a chunk's lines, without the header (near its chunk, not on it). */
export function passageQuery(row: Pick<ChunkRow, 'text'>, random: () => number): string | null {
  const lines = row.text.split('\n');
  if (lines.length < 6) return null;
  const len = Math.ceil(lines.length / 2);
  const start = Math.floor(random() * (lines.length - len + 1));
  return lines.slice(start, start + len).join('\n');
}

/** Up to `count` distinct queries made from rows drawn with `seed`. */
export function pickQueries<R>(rows: R[], count: number, seed: number, make: (r: R, random: () => number) => string | null): string[] {
  const random = seededRandom(seed);
  const out = new Set<string>();
  for (let tries = 0; out.size < count && tries < count * 50; tries++) {
    const q = make(rows[Math.floor(random() * rows.length)], random);
    if (q !== null) out.add(q);
  }
  return [...out];
}
