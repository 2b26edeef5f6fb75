import Database from 'better-sqlite3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DgxEmbedder } from '../models/dgx-embedder.js';
import { causeChain } from '../models/errors/cause-chain.js';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { EmbeddingApiError } from '../models/errors/embedding-errors.js';
import { StorageError, storageErrorFrom, storageFailureKind } from '../models/errors/storage-error.js';
import { connectionErrorCode } from '../models/http-embedder.js';
import { tempDir } from './helpers/stdio-client.js';

describe('causeChain: the one walk over an error and its causes', () => {
  it('yields the error, then each cause in turn', () => {
    const root = new Error('disk');
    const middle = new Error('write failed', { cause: root });
    const top = new CodecartoError('index failed', { cause: middle });
    expect([...causeChain(top)]).toEqual([top, middle, root]);
    expect([...causeChain(undefined)]).toEqual([]);
  });

  it('ends on a chain that loops back on itself', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect([...causeChain(a, 5)]).toHaveLength(5);
  });
});

describe('StorageError: a storage failure as data, not as a string', () => {
  it('types a real SQLite read-only failure found anywhere in the cause chain', () => {
    const dir = tempDir('storage-error');
    const file = join(dir, 'index.sqlite');
    new Database(file).exec('CREATE TABLE t (x)').close();
    const readOnly = new Database(file, { readonly: true });
    let sqliteError: unknown;
    try {
      readOnly.prepare('INSERT INTO t VALUES (1)').run();
    } catch (error) {
      sqliteError = error;
    } finally {
      readOnly.close();
    }
    expect((sqliteError as { code?: string }).code).toMatch(/^SQLITE_READONLY/);

    const wrapped = new CodecartoError('writing the batch failed', { cause: sqliteError });
    const storage = storageErrorFrom(wrapped, dir);
    expect(storage).toBeInstanceOf(StorageError);
    expect(storage).toMatchObject({ kind: 'read_only', path: dir, isRetryable: false });
    expect(storage!.code).toMatch(/^SQLITE_READONLY/);
    expect(storage!.cause).toBe(wrapped);
    expect(storage!.message).toContain(`codecarto's data directory ${dir} is not writable`);
    expect(storage!.message.endsWith(storage!.advice)).toBe(true);
    expect(storage!.advice).toMatch(/CODECARTO_HOME/);
    // Already typed: returned as it is, not wrapped twice.
    expect(storageErrorFrom(storage, '/elsewhere')).toBe(storage);
  });

  it('types a real file-system failure by its errno code, and leaves other errors alone', () => {
    const dir = tempDir('storage-errno');
    mkdirSync(join(dir, 'taken'));
    let fsError: unknown;
    try {
      writeFileSync(join(dir, 'taken'), 'x'); // EISDIR: not a storage failure codecarto can advise on
    } catch (error) {
      fsError = error;
    }
    expect((fsError as { code?: string }).code).toBe('EISDIR');
    expect(storageErrorFrom(fsError, dir)).toBeNull();
    expect(storageErrorFrom(new CodecartoError('no code anywhere'), dir)).toBeNull();
    expect(storageErrorFrom('a string', dir)).toBeNull();

    expect(storageFailureKind('SQLITE_FULL')).toBe('disk_full');
    expect(storageFailureKind('ENOSPC')).toBe('disk_full');
    expect(storageFailureKind('EROFS')).toBe('read_only');
    expect(storageFailureKind('EACCES')).toBe('permission');
    expect(storageFailureKind('SQLITE_IOERR_WRITE')).toBe('io');
    const full = new StorageError({ kind: 'disk_full', code: 'ENOSPC', path: dir });
    expect(full.message).toBe(
      `The disk holding codecarto's data directory ${dir} is full (ENOSPC). Free some space there (or set CODECARTO_HOME to a roomier place), then call \`index\` again: the previous index is intact and only what is missing will be embedded.`,
    );
  });
});

describe('connection failures are judged by their fields', () => {
  it('reads the code from the cause chain of a real fetch failure, and none from a refusal without one', async () => {
    const refused = await fetch('http://127.0.0.1:1/', { signal: AbortSignal.timeout(5_000) }).catch((e: unknown) => e);
    // Port 1 is on fetch's blocked list: refused before connecting, with words but no code.
    expect(connectionErrorCode(refused)).toBeUndefined();
    const unparsable = await fetch('http://[::1:8080/').catch((e: unknown) => e);
    expect(connectionErrorCode(unparsable)).toBe('ERR_INVALID_URL');
  });

  it('an endpoint on a port fetch never connects to fails at once and is not retried', async () => {
    // 6000 is on the Fetch standard's blocked list: fetch refuses without sending anything.
    const embedder = new DgxEmbedder({ endpoint: 'http://127.0.0.1:6000/embed', retryWindowMs: 60_000 });
    const started = performance.now();
    const error = await embedder.embed({ texts: ['a'], purpose: 'passage' }).catch((e: unknown) => e);
    await embedder.close();
    expect(error).toBeInstanceOf(EmbeddingApiError);
    expect(error).toMatchObject({ isRetryable: false });
    expect((error as Error).message).toMatch(/Cannot send requests to http:\/\/127\.0\.0\.1:6000\/embed \(bad port\): fix the endpoint URL/);
    // A retried connection failure would wait out the 60 s retry window.
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
