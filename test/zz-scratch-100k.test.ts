import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'vitest';
import { runIndex } from '../indexer/indexer.js';
import { openIndexStore } from '../indexer/store/open-store.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import { tempDir } from './helpers/stdio-client.js';

it('scratch', async () => {
  const root = join(tempDir('big'), 'repo');
  let t = performance.now();
  for (let d = 0; d < 500; d++) {
    const dir = join(root, `pkg${d % 20}`, `mod${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 201; f++) {
      if (f === 0) writeFileSync(join(dir, `f${f}.ts`), `export const value${d} = ${d};\n`);
      else closeSync(openSync(join(dir, `f${f}.txt`), 'w'));
    }
  }
  console.log('gen', performance.now() - t);
  const store = openIndexStore(tempDir('big-data'));
  t = performance.now();
  const s = await runIndex({ root, store, embedder: new NoneEmbedder() });
  console.log('index', performance.now() - t, JSON.stringify(s));
  t = performance.now();
  const s2 = await runIndex({ root, store, embedder: new NoneEmbedder() });
  console.log('index2', performance.now() - t, JSON.stringify(s2));
  store.close();
}, 600_000);
