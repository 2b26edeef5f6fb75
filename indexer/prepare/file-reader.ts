/**
 * Reads one source file for indexing and decides whether it is text worth chunking.
 * Never throws for a file-level problem (gone, unreadable, binary...): it says why in a 'skipped'
 * result, so one bad file cannot stop an index run. Only resource exhaustion (EMFILE, ENFILE, ENOMEM)
 * is thrown, since skipping then would silently drop healthy files.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DEFAULT_MAX_FILE_BYTES, isSecretPath } from '../walk/walker.js';

export type ReadResult =
  | { kind: 'text'; text: string; hash: string /* sha256 hex of the bytes */; size: number; mtimeMs: number; invalidUtf8: boolean }
  | { kind: 'skipped'; reason: 'binary' | 'minified' | 'too_large' | 'unreadable' | 'vanished'; detail?: string };

/** Bytes sampled for binary detection, as git and ripgrep do. */
const BINARY_SAMPLE_BYTES = 8192;
/** Share of control bytes in the sample above which a NUL-free file is still treated as binary. */
const MAX_CONTROL_RATIO = 0.1;
/** Minified: a line this long together with a high average line length... */
const LONG_LINE_CHARS = 2_000;
const MINIFIED_AVG_LINE_CHARS = 300;
/** ...or any one line this long, whatever the average. */
const HUGE_LINE_CHARS = 20_000;

const THROWN_CODES = new Set(['EMFILE', 'ENFILE', 'ENOMEM']);
// Opening a FIFO for reading blocks until a writer appears; O_NONBLOCK makes open return at once.
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export async function readSourceFile(absPath: string, options: { maxFileBytes?: number } = {}): Promise<ReadResult> {
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  // Defence in depth: the walker already skips these, but a caller may pass any path.
  if (isSecretPath(absPath)) return { kind: 'skipped', reason: 'unreadable', detail: 'secret file: never read' };

  let handle: FileHandle | undefined;
  let bytes: Buffer;
  let mtimeMs: number;
  try {
    handle = await open(absPath, OPEN_FLAGS);
    const info = await handle.stat();
    if (!info.isFile()) return { kind: 'skipped', reason: 'unreadable', detail: info.isDirectory() ? 'EISDIR' : 'not a regular file' };
    if (info.size > maxFileBytes) return tooLarge(info.size, maxFileBytes);
    mtimeMs = info.mtimeMs;
    const read = await readAtMost(handle, info.size, maxFileBytes);
    if (read === undefined) return tooLarge(undefined, maxFileBytes);
    bytes = read;
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
    if (code && THROWN_CODES.has(code)) throw err;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'skipped', reason: 'vanished' };
    return { kind: 'skipped', reason: 'unreadable', detail: code ?? String(err) };
  } finally {
    await handle?.close().catch(() => undefined);
  }

  if (looksBinary(bytes)) return { kind: 'skipped', reason: 'binary' };
  const hash = createHash('sha256').update(bytes).digest('hex');
  const body = hasUtf8Bom(bytes) ? bytes.subarray(3) : bytes;
  let text: string;
  let invalidUtf8 = false;
  try {
    text = fatalDecoder.decode(body);
  } catch {
    // Keep the file: a stray Latin-1 byte in a comment should not hide the code around it.
    text = lenientDecoder.decode(body);
    invalidUtf8 = true;
  }
  const minified = minifiedReason(text);
  if (minified) return { kind: 'skipped', reason: 'minified', detail: minified };
  return { kind: 'text', text, hash, size: bytes.length, mtimeMs, invalidUtf8 };
}

function tooLarge(size: number | undefined, max: number): ReadResult {
  return { kind: 'skipped', reason: 'too_large', detail: `${size === undefined ? 'more than' : size} bytes; limit ${max}` };
}

/** Reads to EOF, or returns undefined once more than `max` bytes turn up (the file grew after stat). */
async function readAtMost(handle: FileHandle, expected: number, max: number): Promise<Buffer | undefined> {
  let buffer = Buffer.allocUnsafe(Math.min(expected, max) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > max) return undefined;
      const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, max + 1));
      buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  return length > max ? undefined : buffer.subarray(0, length);
}

function hasUtf8Bom(bytes: Buffer): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

/** A NUL byte in the sample, or too many control bytes other than common whitespace and ESC. */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, BINARY_SAMPLE_BYTES);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === 0) return true;
    // Tab, LF, VT, FF, CR, backspace and ESC (ANSI colours in logs) occur in real text.
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0b && b !== 0x0c && b !== 0x0d && b !== 0x08 && b !== 0x1b) || b === 0x7f) control++;
  }
  return n > 0 && control / n > MAX_CONTROL_RATIO;
}

/** Why the text looks machine-generated, or undefined when it reads like source. */
export function minifiedReason(text: string): string | undefined {
  let lines = 0;
  let longest = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    longest = Math.max(longest, end - start);
    lines++;
    if (longest > HUGE_LINE_CHARS) return `a line of more than ${HUGE_LINE_CHARS} characters`;
    start = end + 1;
  }
  const average = text.length / lines;
  if (longest > LONG_LINE_CHARS && average > MINIFIED_AVG_LINE_CHARS) {
    return `longest line ${longest} characters, average ${Math.round(average)}`;
  }
  return undefined;
}
