/**
 * Reads a repository's recent history with read-only git commands (rev-parse, log). Nothing here
 * writes to the repository: no checkout, no stash, no index refresh (GIT_OPTIONAL_LOCKS=0).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CodecartoError } from '../../models/errors/codecarto-error.js';
import type { CommitRecord } from './commit-miner.js';

const run = promisify(execFile);

export interface GitHistory {
  /** HEAD's commit hash. */
  head: string;
  /** The project directory relative to the repository's top level, with a trailing slash ("" at the top). */
  pathPrefix: string;
  /** Newest first, in `git log`'s default order. */
  commits: CommitRecord[];
}

export interface ReadHistoryOptions {
  /** How many commits to read at most (merges included). */
  maxCommits: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const FIELD = '\x1f';
const RECORD = '\x1e';

/** Runs one git command in `cwd` and returns its stdout. */
export async function git(cwd: string, args: string[], options: { timeoutMs: number; signal?: AbortSignal }): Promise<string> {
  try {
    const { stdout } = await run('git', args, {
      cwd,
      timeout: options.timeoutMs,
      signal: options.signal,
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'utf8',
      // No optional locks: git must not even refresh the repository's index file while we read.
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
    });
    return stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
    if (e.code === 'ENOENT') throw new CodecartoError('git was not found on PATH: `codecarto eval` reads the history with git; install git.', { cause: error });
    if (e.name === 'AbortError') throw error;
    if (e.killed) throw new CodecartoError(`git ${args[0]} took longer than ${options.timeoutMs / 1000} s in ${cwd}; try a smaller --queries.`, { cause: error });
    const detail = (e.stderr ?? '').trim().split('\n')[0] || e.message;
    throw new CodecartoError(`git ${args[0]} failed in ${cwd}: ${detail}. \`codecarto eval\` needs a git repository with history.`, { cause: error });
  }
}

export async function readGitHistory(root: string, options: ReadHistoryOptions): Promise<GitHistory> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const opts = { timeoutMs, signal: options.signal };
  const [prefix, head] = (await git(root, ['rev-parse', '--show-prefix', 'HEAD'], opts)).split('\n');
  const log = await git(
    root,
    [
      // Settings that would change log's output are pinned, so a user's git config cannot break parsing.
      '-c', 'log.showRoot=true',
      '-c', 'log.showSignature=false',
      '-c', 'diff.relative=false',
      'log',
      `--max-count=${options.maxCommits}`,
      // Renames as delete + add: the new path is the one the index may hold.
      '--no-renames',
      '--no-color',
      '--name-only',
      '-z',
      `--format=${RECORD}%H${FIELD}%P${FIELD}%an${FIELD}%ae${FIELD}%s`,
      'HEAD',
      '--',
    ],
    opts,
  );
  return { head: head.trim(), pathPrefix: prefix.trim(), commits: parseLog(log) };
}

/**
 * Parses `git log -z --name-only` with the format above: each record is RECORD, the fields joined by
 * FIELD, a NUL, then (when files changed) a newline and NUL-terminated paths. Merges list no files.
 */
export function parseLog(output: string): CommitRecord[] {
  const commits: CommitRecord[] = [];
  for (const record of output.split(RECORD)) {
    if (!record) continue;
    const end = record.indexOf('\0');
    const header = end < 0 ? record : record.slice(0, end);
    const [hash, parents, authorName, authorEmail, subject] = header.split(FIELD);
    const files = end < 0 ? [] : record.slice(end + 1).replace(/^\n/, '').split('\0').filter((f) => f.length > 0);
    commits.push({ hash, parents: parents ? parents.split(' ') : [], authorName, authorEmail, subject: subject ?? '', files });
  }
  return commits;
}
