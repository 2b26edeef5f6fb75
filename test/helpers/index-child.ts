/**
 * A child process for crash tests: `node index-child.js <root> <dataDir> <endpoint> <snapshotAfter>` runs
 * one index of `root` into the store in `dataDir`, embedding through the seed-protocol `endpoint`, and
 * prints the summary as one JSON line. With CODECARTO_CRASH_AT set it SIGKILLs itself at that failpoint
 * (indexer/store/crash-point.ts).
 */
import { runIndex } from '../../indexer/run/run-index.js';
import { openIndexStore } from '../../indexer/store/sqlite-index-store.js';
import { DgxEmbedder } from '../../models/dgx-embedder.js';

const [root, dataDir, endpoint, snapshotAfter] = process.argv.slice(2);
const store = openIndexStore(dataDir, { snapshotAfter: Number(snapshotAfter) });
const embedder = new DgxEmbedder({ endpoint, batchSize: 4 });
try {
  const summary = await runIndex({ root, store, embedder, prepareWorkers: 0 });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} finally {
  store.close();
  await embedder.close();
}
