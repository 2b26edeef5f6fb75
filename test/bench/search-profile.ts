/**
 * Search latency on an index the bench kept (`node dist/test/bench/bench.js --skip onnx,recall,reindex,memory --keep`):
 * the bench's 200 word queries (same seed, same words), hybrid, k 10, query vectors computed beforehand, with
 * the mean time per store call. `--dump FILE` writes every query's ranked hits, so two builds of the searcher
 * can be compared for identical results; `--rounds N` repeats the query set (p50/p95 over all of them);
 * `--mode lexical|semantic` and `--k N` change the request.
 *
 *   node dist/test/bench/search-profile.js <kept work dir>/index [--rounds N] [--dump FILE] [--mode M] [--k N]
 */
import { writeFileSync } from 'node:fs';
import { search, type SearchMode } from '../../indexer/search/search.js';
import { openIndexStore } from '../../indexer/store/sqlite-index-store.js';
import { allChunks, pickQueries, timedStore, wordQuery, type MethodTime } from './bench-store.js';
import { HashedEmbedder, PrecomputedQueryEmbedder } from './hashed-embedder.js';
import { percentile } from './vector-math.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dataDir = argv[0];
  if (!dataDir) throw new Error('usage: search-profile <index dir> [--rounds N] [--dump FILE]');
  const rounds = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : 1;
  const dump = argv.includes('--dump') ? argv[argv.indexOf('--dump') + 1] : undefined;
  const mode = (argv.includes('--mode') ? argv[argv.indexOf('--mode') + 1] : 'hybrid') as SearchMode;
  const k = argv.includes('--k') ? Number(argv[argv.indexOf('--k') + 1]) : 10;
  const raw = openIndexStore(dataDir);
  // The bench's word queries (seed 1): the same 200 queries on the same index.
  const queries = pickQueries(allChunks(raw), 200, 1, wordQuery);
  const embedder = new HashedEmbedder();
  const vectors = new Map(queries.map((q) => [q, embedder.vectors.vector(q)]));
  const queryEmbedder = new PrecomputedQueryEmbedder(embedder, vectors);
  const times = new Map<string, MethodTime>();
  const store = timedStore(raw, times);
  for (const q of queries.slice(0, 10)) await search(store, queryEmbedder, { query: q, k, mode });
  times.clear();
  const latencies: number[] = [];
  const results: unknown[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const q of queries) {
      const t = performance.now();
      const response = await search(store, queryEmbedder, { query: q, k, mode });
      latencies.push(performance.now() - t);
      if (r === 0) results.push({ query: q, mode: response.mode, results: response.results });
    }
  }
  const n = latencies.length;
  let inStore = 0;
  const breakdown: Record<string, string> = {};
  for (const [name, t] of [...times.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
    breakdown[name] = `${(t.ms / n).toFixed(2)} ms (${(t.calls / n).toFixed(1)} calls)`;
    inStore += t.ms;
  }
  const mean = latencies.reduce((a, b) => a + b, 0) / n;
  breakdown.outside_store = `${(mean - inStore / n).toFixed(2)} ms`;
  console.log(JSON.stringify({ queries: n, p50_ms: +percentile(latencies, 50).toFixed(2), p95_ms: +percentile(latencies, 95).toFixed(2), mean_ms: +mean.toFixed(2), breakdown }));
  if (dump) writeFileSync(dump, JSON.stringify(results, null, 1));
  raw.close();
}

await main();
