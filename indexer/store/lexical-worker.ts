/**
 * Worker thread of LexicalThread: its own read-only connection to the index database, answering lexical
 * queries (SqliteStore.lexical) and then the exact vector scores of their rows, while the main thread
 * searches the vector graph. WAL lets it read beside the main connection and any writer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SqliteStore } from './sqlite-store.js';
import type { LexicalResponse, LexicalWorkerData, ToLexicalWorker } from './lexical-thread.js';

const { file, closed } = workerData as LexicalWorkerData;
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const store = new SqliteStore(db);
/** Each query's rows until its vector (or null) comes. */
const rowsOf = new Map<number, number[]>();

function answer(message: ToLexicalWorker): LexicalResponse | null {
  if (message === 'close') {
    // The main thread waits for this before it closes its own connection, which then, as the last one,
    // checkpoints and removes the write-ahead log.
    db.close();
    const flag = new Int32Array(closed);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    return null;
  }
  const { id } = message;
  try {
    if ('terms' in message) {
      const rows = [...store.lexical(message.terms, message.limit)].map(({ id: chunk, score, path, language }) => ({ id: chunk, score, path, language }));
      rowsOf.set(id, rows.map((r) => r.id));
      return { id, rows };
    }
    const ids = rowsOf.get(id) ?? [];
    rowsOf.delete(id);
    return { id, exact: message.vector ? store.exactScores(message.vector, ids) : null };
  } catch (err) {
    rowsOf.delete(id);
    return { id, error: (err as Error).message };
  }
}

parentPort?.on('message', (message: ToLexicalWorker) => {
  const response = answer(message);
  if (response) parentPort?.postMessage(response);
});
