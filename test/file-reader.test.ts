import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSourceFile } from '../indexer/prepare/file-reader.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'codecarto-reader-'));
});

afterAll(() => {
  try {
    chmodSync(path.join(dir, 'locked.ts'), 0o644);
  } catch {
    // not created
  }
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string | Buffer): string {
  const abs = path.join(dir, name);
  writeFileSync(abs, content);
  return abs;
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

describe('readSourceFile', () => {
  it('reads UTF-8 text with its hash, size and mtime', async () => {
    const content = 'export const greeting = "héllo ☕";\n';
    const abs = file('ok.ts', content);
    const result = await readSourceFile(abs);
    expect(result).toEqual({
      kind: 'text',
      text: content,
      hash: sha256(content),
      size: Buffer.byteLength(content),
      mtimeMs: statSync(abs).mtimeMs,
      invalidUtf8: false,
    });
  });

  it('reads an empty file as empty text', async () => {
    const result = await readSourceFile(file('empty.ts', ''));
    expect(result).toMatchObject({ kind: 'text', text: '', size: 0, hash: sha256(''), invalidUtf8: false });
  });

  it('strips a UTF-8 BOM from the text but hashes the raw bytes', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('x = 1\n')]);
    const result = await readSourceFile(file('bom.py', bytes));
    expect(result).toMatchObject({ kind: 'text', text: 'x = 1\n', hash: sha256(bytes), size: 9, invalidUtf8: false });
  });

  it('keeps a file with invalid UTF-8, replacing the bad bytes', async () => {
    const bytes = Buffer.concat([Buffer.from('const name = "caf'), Buffer.from([0xe9]), Buffer.from('";\nconst ok = 1;\n')]);
    const result = await readSourceFile(file('latin1.ts', bytes));
    expect(result).toMatchObject({ kind: 'text', text: 'const name = "caf\uFFFD";\nconst ok = 1;\n', hash: sha256(bytes), invalidUtf8: true });
  });

  it('skips a file with a NUL byte in its first 8 KB as binary, but not one with a NUL later', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]);
    expect(await readSourceFile(file('image.png', png))).toEqual({ kind: 'skipped', reason: 'binary' });
    const late = Buffer.concat([Buffer.from('a\n'.repeat(5000)), Buffer.from([0])]);
    expect(await readSourceFile(file('late-nul.txt', late))).toMatchObject({ kind: 'text' });
  });

  it('skips NUL-free data dense in control characters as binary, but keeps tabs and ANSI colours', async () => {
    const noisy = Buffer.alloc(1000);
    for (let i = 0; i < noisy.length; i++) noisy[i] = i % 3 === 0 ? 0x01 + (i % 7) : 0x41;
    expect(await readSourceFile(file('noisy.dat', noisy))).toEqual({ kind: 'skipped', reason: 'binary' });
    const log = '\x1b[31merror\x1b[0m\tat line 3\r\n'.repeat(50);
    expect(await readSourceFile(file('colours.log', log))).toMatchObject({ kind: 'text', text: log });
  });

  it('skips a minified one-liner, including a multi-megabyte one', async () => {
    const oneLiner = 'var a=function(b){return b+1};'.repeat(1000); // 30,000 chars on one line
    expect(await readSourceFile(file('app.js', oneLiner))).toMatchObject({ kind: 'skipped', reason: 'minified' });
    const huge = 'x=1;'.repeat(750_000); // 3 MB
    expect(await readSourceFile(file('huge.js', huge), { maxFileBytes: 4_000_000 })).toMatchObject({ kind: 'skipped', reason: 'minified' });
  });

  it('skips files of long lines on average, but keeps source with one long line', async () => {
    const longLines = `${'a'.repeat(2_500)}\n`.repeat(10);
    expect(await readSourceFile(file('long.js', longLines))).toMatchObject({ kind: 'skipped', reason: 'minified' });
    const oneLong = `const data = "${'a'.repeat(2_500)}";\n${'let x = 1;\n'.repeat(100)}`;
    expect(await readSourceFile(file('one-long.ts', oneLong))).toMatchObject({ kind: 'text' });
    const wideButShort = `${'b'.repeat(1_900)}\n`.repeat(10); // average > 300, no line over 2,000
    expect(await readSourceFile(file('wide.txt', wideButShort))).toMatchObject({ kind: 'text' });
  });

  it('skips files over maxFileBytes', async () => {
    const abs = file('big.ts', 'x'.repeat(11));
    expect(await readSourceFile(abs, { maxFileBytes: 10 })).toMatchObject({ kind: 'skipped', reason: 'too_large' });
    expect(await readSourceFile(abs, { maxFileBytes: 11 })).toMatchObject({ kind: 'text', size: 11 });
    const overDefault = file('over-default.txt', Buffer.alloc(1_000_001, 0x61));
    expect(await readSourceFile(overDefault)).toMatchObject({ kind: 'skipped', reason: 'too_large' });
  });

  it('reports a missing file as vanished and a directory as unreadable', async () => {
    expect(await readSourceFile(path.join(dir, 'no-such-file.ts'))).toEqual({ kind: 'skipped', reason: 'vanished' });
    expect(await readSourceFile(path.join(dir, 'no-such-dir', 'x.ts'))).toEqual({ kind: 'skipped', reason: 'vanished' });
    mkdirSync(path.join(dir, 'a-dir'));
    expect(await readSourceFile(path.join(dir, 'a-dir'))).toMatchObject({ kind: 'skipped', reason: 'unreadable' });
  });

  it('reports a file without read permission as unreadable, unless running privileged', async () => {
    const abs = file('locked.ts', 'const x = 1;\n');
    chmodSync(abs, 0o000);
    // Root (as in CI containers) bypasses permission bits; detect rather than assume.
    let privileged = true;
    try {
      readFileSync(abs);
    } catch {
      privileged = false;
    }
    const result = await readSourceFile(abs);
    if (privileged) expect(result).toMatchObject({ kind: 'text', text: 'const x = 1;\n' });
    else expect(result).toEqual({ kind: 'skipped', reason: 'unreadable', detail: 'EACCES' });
  });

  it('does not block on a FIFO', async () => {
    const fifo = path.join(dir, 'pipe');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      return; // no mkfifo on this platform
    }
    const started = Date.now();
    expect(await readSourceFile(fifo)).toMatchObject({ kind: 'skipped', reason: 'unreadable' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses to read secret files even when asked directly', async () => {
    const abs = file('.env', 'TOKEN=hunter2\n');
    expect(await readSourceFile(abs)).toMatchObject({ kind: 'skipped', reason: 'unreadable' });
  });
});
