/**
 * Worker-thread entry for indexer/prepare/file-preparer.ts: loads its own copy of the tokenizer, then prepares
 * files as asked. Several tasks may be in progress at once, so file reads overlap parsing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HfTokenizer } from '../../models/hf-tokenizer.js';
import { prepareFile } from './prepare-file.js';
import type { PrepareRequest, PrepareResponse, PrepareWorkerData } from './file-preparer.js';

const port = parentPort;
if (!port) throw new Error('prepare-worker.js runs as a worker thread only');
const init = workerData as PrepareWorkerData;
const tokenizer = HfTokenizer.fromFiles(init.tokenizer.tokenizerJson, init.tokenizer.tokenizerConfig);
if (tokenizer.id !== init.tokenizerId) {
  // Counting with another vocabulary would size chunks wrongly; the pool falls back to the main thread.
  throw new Error(`the worker loaded tokenizer ${tokenizer.id}, the indexer uses ${init.tokenizerId}`);
}

port.on('message', (request: PrepareRequest) => {
  prepareFile(request.task, tokenizer).then(
    (result) => port.postMessage({ id: request.id, result } satisfies PrepareResponse),
    (error: unknown) => {
      const e = error as NodeJS.ErrnoException;
      port.postMessage({ id: request.id, error: { message: e?.message ?? String(error), code: e?.code } } satisfies PrepareResponse);
    },
  );
});
