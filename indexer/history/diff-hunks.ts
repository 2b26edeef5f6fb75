/**
 * Unified diffs (`git show` / `git diff` with --unified=0) as data: each file's hunks, which lines of
 * the new side they changed, and where a line of the old side is on the new side. Pure functions, so
 * the line arithmetic is tested without git (test/eval-functions.test.ts).
 */

/** One `@@ -oldStart,oldCount +newStart,newCount @@` hunk. A count of 0 puts the hunk after its start line. */
export interface Hunk {
  oldStart: number;
  oldCount: number;
  newStart: number;
  newCount: number;
}

export interface FileDiff {
  /** Path on the old side (null for an added file), as in the `--- a/...` header. */
  oldPath: string | null;
  /** Path on the new side (null for a deleted file), as in the `+++ b/...` header. */
  newPath: string | null;
  hunks: Hunk[];
}

/** What a change did to the new side's lines: lines it wrote, and places where it only removed lines. */
export interface ChangedLines {
  /** 1-based new-side lines the change added or rewrote. */
  lines: number[];
  /** Pure deletions: lines were removed between new-side line `after` and `after + 1` (after = 0: at the top). */
  deletions: number[];
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/**
 * Parses a patch with a/ and b/ prefixes (git's defaults, which the callers pin). Content lines are
 * skipped by their prefix, so nothing in the code can be mistaken for a header.
 */
export function parseUnifiedDiff(patch: string): FileDiff[] {
  const files: FileDiff[] = [];
  let current: FileDiff | null = null;
  let inHunks = false;
  for (const line of patch.split('\n')) {
    if (line.startsWith('diff --git ')) {
      current = { oldPath: null, newPath: null, hunks: [] };
      files.push(current);
      inHunks = false;
      continue;
    }
    if (!current) continue;
    const hunk = HUNK_HEADER.exec(line);
    if (hunk) {
      inHunks = true;
      current.hunks.push({
        oldStart: Number(hunk[1]),
        oldCount: hunk[2] === undefined ? 1 : Number(hunk[2]),
        newStart: Number(hunk[3]),
        newCount: hunk[4] === undefined ? 1 : Number(hunk[4]),
      });
      continue;
    }
    if (inHunks) continue;
    if (line.startsWith('--- ')) current.oldPath = headerPath(line.slice(4), 'a/');
    else if (line.startsWith('+++ ')) current.newPath = headerPath(line.slice(4), 'b/');
  }
  return files;
}

/** The new-side lines and deletion points of `hunks` (a file's hunks of one change). */
export function changedLines(hunks: readonly Hunk[]): ChangedLines {
  const lines: number[] = [];
  const deletions: number[] = [];
  for (const h of hunks) {
    if (h.newCount === 0) deletions.push(h.newStart);
    for (let i = 0; i < h.newCount; i++) lines.push(h.newStart + i);
  }
  return { lines, deletions };
}

/**
 * Where old-side `line` is on the new side of `hunks` (one file's diff), or null when the diff rewrote
 * or removed it. Hunks must be in file order, as git writes them.
 */
export function translateLine(hunks: readonly Hunk[], line: number): number | null {
  let offset = 0;
  for (const h of hunks) {
    if (h.oldCount === 0) {
      // Pure insertion after old line oldStart: lines after it move down.
      if (h.oldStart < line) offset += h.newCount;
      else break;
      continue;
    }
    if (line < h.oldStart) break;
    if (line <= h.oldStart + h.oldCount - 1) return null;
    offset += h.newCount - h.oldCount;
  }
  return line + offset;
}

/** `a/src/x.ts`, `"b/odd\tname"` or `/dev/null` -> the path without its prefix, or null. */
function headerPath(text: string, prefix: string): string | null {
  // git ends a header path that contains a space with a tab.
  const raw = text.endsWith('\t') ? text.slice(0, -1) : text;
  if (raw === '/dev/null') return null;
  const path = raw.startsWith('"') ? unquoteC(raw) : raw;
  return path.startsWith(prefix) ? path.slice(prefix.length) : path;
}

const ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/** git's C-style quoting of unusual paths: `"dir/tab\there"`, octal bytes of UTF-8 (`\303\251`). */
export function unquoteC(quoted: string): string {
  const body = quoted.slice(1, quoted.endsWith('"') ? -1 : undefined);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') {
      bytes.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const next = body[i + 1] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(ESCAPES[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
