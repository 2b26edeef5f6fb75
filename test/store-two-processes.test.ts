import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../indexer/store/sqlite-store.js';

const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * Another process commits small write transactions back to back (as an index run does), for `ms`.
 * Resolves once it has committed at least once, with a promise for its end.
 */
function busyWriter(file: string, ms: number): Promise<{ done: Promise<number> }> {
  const script = `
    const Database = require(${JSON.stringify(betterSqlite)});
    const db = new Database(${JSON.stringify(file)});
    db.pragma('busy_timeout = 5000');
    const put = db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('writer', ?)");
    const end = Date.now() + ${ms};
    const pause = new Int32Array(new SharedArrayBuffer(4));
    let n = 0;
    while (Date.now() < end) {
      db.transaction(() => { for (let i = 0; i < 50; i++) put.run(String(n++)); }).immediate();
      if (n === 50) process.stdout.write('writing\\n');
      Atomics.wait(pause, 0, 0, 2); // the run's work between two commits
    }
    db.close();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve({ done }));
    child.once('exit', (code) => reject(new Error(`writer exited (${code}) before writing`)));
  });
}

describe('the index database shared by two processes', () => {
  it('opens (schema check and meta writes) while another process commits, instead of failing with "database is locked"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codecarto-two-procs-'));
    dirs.push(dir);
    const file = join(dir, 'index.db');
    openDatabase(file).close();
    const writer = await busyWriter(file, 2_500);
    const failures: string[] = [];
    let opens = 0;
    const end = Date.now() + 2_000;
    // A deferred migration transaction reads, then writes meta: a commit by the other process in between made
    // SQLite answer SQLITE_BUSY at once, which is what a second `codecarto index` printed.
    while (Date.now() < end) {
      try {
        openDatabase(file).close();
      } catch (error) {
        failures.push((error as Error).message);
      }
      opens++;
    }
    expect(await writer.done).toBe(0);
    expect(opens).toBeGreaterThan(20);
    expect(failures).toEqual([]);
  }, 30_000);
});
