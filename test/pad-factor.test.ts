import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixedBatches, padFactor } from '../indexer/run/batch-planner.js';
import { embeddingText } from '../indexer/chunk/chunk.js';
import { runIndex } from '../indexer/run/run-index.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { DgxEmbedder } from '../models/dgx-embedder.js';
import { loadMistralTokenizer } from '../models/hf-tokenizer.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { repoRoot, tempDir } from './helpers/stdio-client.js';

/**
 * Issue 3: on a real code tree (zod's v4 core sources, installed by `npm ci`) the requests the indexer
 * sends at the seed's batch_size 48 pad at most 1.15x; fixed batches of 48 in file order over the same
 * chunks are printed beside it.
 */
describe('pad factor on a real tree', () => {
  it('length-sorted token-budget batches stay at or under 1.15', async () => {
    const server = await FakeEmbeddingServer.start({ dims: 32 });
    const store = openIndexStore(tempDir('pad'));
    const embedder = new DgxEmbedder({ endpoint: server.endpoint, batchSize: 48 });
    try {
      const summary = await runIndex({ root: join(repoRoot, 'node_modules', 'zod', 'src', 'v4', 'core'), store, embedder });
      expect(summary.state).toBe('done');
      expect(summary.chunks_embedded).toBeGreaterThan(500);
      for (const r of server.requests) expect(r.texts.length).toBeLessThanOrEqual(48);

      const planned = summary.tokens_padded / summary.tokens_embedded;

      // The same chunks in file order, as a fixed-48 client would send them.
      const tokenizer = loadMistralTokenizer();
      const ids = Array.from({ length: store.counts().chunks + 1000 }, (_, i) => i + 1);
      const rows = store.getChunks(ids).sort((a, b) => a.path.localeCompare(b.path) || a.startLine - b.startLine);
      const seen = new Set<string>();
      const items = rows
        .filter((r) => !seen.has(r.textHash) && seen.add(r.textHash))
        .map((r) => ({ key: r.textHash, tokens: tokenizer.count(embeddingText(r)) + 2 }));
      const fixed = padFactor(fixedBatches(items, 48));

      console.log(
        `zod/src/v4/core: ${summary.chunks_embedded} chunks, ${summary.tokens_embedded} tokens; ` +
          `planned pad factor ${planned.toFixed(3)} in ${server.requests.length} requests; ` +
          `fixed 48 in file order ${fixed.toFixed(3)} in ${Math.ceil(items.length / 48)} requests`,
      );
      expect(planned).toBeLessThanOrEqual(1.15);
      expect(fixed).toBeGreaterThan(planned);
    } finally {
      store.close();
      await embedder.close();
      await server.close();
    }
  }, 300_000);
});
