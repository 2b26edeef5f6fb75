/**
 * Turns git history into a labelled retrieval set: a commit's subject is the query, the source files it
 * changed that the index still holds are the answers. Pure functions of the commit records, so the
 * rules are tested as data (test/eval.test.ts); reading git lives in git-history.ts.
 *
 * The rules, checked in this order (the first that applies is the reason a commit is skipped):
 * 1. merge: more than one parent, or a subject in git's own merge-message forms ("Merge branch ...",
 *    "Merge pull request ...", "Merge remote-tracking branch ...", "Merge tag ...", "Merge commit ...",
 *    "Merge 'x' into y", "Merge stable into main"). "Merge adjacent chunks ..." is a real description and is kept.
 * 2. bot: author name or e-mail of a bot (dependabot, renovate, github-actions, "[bot]", ...).
 * 3. revert: git's `Revert "..."` repeats another commit's subject, so it would count that query twice.
 * 4. version_bump: the subject is a version ("v1.2.3"), a release ("Release 1.2", "chore(release): 2.0",
 *    "start version 8.5.0"), "Bump x from a to b", "Bump version to 1.2" and the like: they name no code.
 * 5. wip: "wip", "work in progress", and autosquash subjects (fixup!, squash!, amend!).
 * 6. typo: "typo(s)" anywhere, or "fix spelling" / "fix whitespace": cosmetic edits anywhere.
 * 7. too_short: fewer than 3 words (after a conventional-commit type such as "fix:" or "feat(x):"),
 *    since "Fix build" or "Update tests" describes no place in the code.
 * 8. no_source_files / too_many_files: the commit must change 1 to 5 source files (code, not docs or
 *    config; see isSourcePath), counted as committed, wherever they are now: a sweeping change has no
 *    single place its subject describes.
 * 9. not_in_index: none of those source files is in the current index (files that existed only in the
 *    past, or outside the project's directory, are never answers).
 * 10. duplicate: the same query as a more recent kept commit would weigh one query twice.
 */
import { languageForPath } from '../chunk/languages.js';

/** One commit as `git log` reports it; `files` are paths relative to the repository's top level. */
export interface CommitRecord {
  hash: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  subject: string;
  files: string[];
}

/** One labelled query: the commit's subject, and the indexed project paths it changed. */
export interface EvalQuery {
  commit: string;
  query: string;
  answers: string[];
}

export const SKIP_REASONS = [
  'merge',
  'bot',
  'revert',
  'version_bump',
  'wip',
  'typo',
  'too_short',
  'no_source_files',
  'too_many_files',
  'not_in_index',
  'duplicate',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface MinedQueries {
  queries: EvalQuery[];
  /** Commits examined, newest first, until `limit` queries were kept or the history ran out. */
  scanned: number;
  skipped: Record<SkipReason, number>;
}

export interface MineOptions {
  /** Paths the index holds, relative to the project root. */
  indexed: ReadonlySet<string>;
  /** The project root relative to the repository's top level, with a trailing slash ("" at the top). */
  pathPrefix?: string;
  /** Stop after this many kept queries. */
  limit: number;
}

/**
 * The newest history queries `codecarto eval` measures on by default. Fusion calibration leaves exactly
 * these out, so eval measures on queries the calibration never saw; both read the number from here.
 */
export const DEFAULT_EVAL_QUERIES = 200;

/** Commits read per kept query: most histories keep well over 1 in 20 (bots, merges and docs-only commits are the rest). */
const COMMITS_PER_QUERY = 20;
const MIN_COMMITS_READ = 1000;

/** How many commits to read from git to mine `queries` queries. */
export function commitsToRead(queries: number): number {
  return Math.max(MIN_COMMITS_READ, queries * COMMITS_PER_QUERY);
}

export const MIN_SUBJECT_WORDS = 3;
export const MAX_CHANGED_SOURCE_FILES = 5;

/** Indexed languages that are prose or configuration: a change to them does not point at code. */
const NON_SOURCE_LANGUAGES = new Set(['markdown', 'text', 'json', 'yaml', 'toml', 'ini', 'xml', 'csv', 'latex']);

const GIT_MERGE_SUBJECT = /^merge (branch(es)?|remote-tracking branch|pull request|tag|commit|changes from) |^merge ['"]|^merge \S+ into \S+$/i;
const BOT_AUTHOR = /\[bot\]|dependabot|renovate|github-actions|greenkeeper|mergify|snyk-bot|pre-commit-ci|allcontributors|semantic-release-bot/i;
/** git's own revert subjects: `Revert "<subject>"` or `Revert <hash>` ("Revert incorrect typing changes" is a description). */
const REVERT = /^revert\s+("|[0-9a-f]{7,40}\b)/i;
const WIP = /^(wip\b|work in progress\b|(fixup|squash|amend)!)/i;
/** Narrow on purpose: "suggestions for misspelled commands" or "strip trailing whitespace from help" are features. */
const TYPO = /\btypos?\b|^(fix(es|ed)?|correct(s|ed)?)\s+(the\s+|some\s+)?(spelling|whitespace)\b|^(spelling|whitespace)\b/i;
/** "feat:", "fix(parser):", "chore(deps)!:": a type, not a description; stripped before the word count and version checks. */
const CONVENTIONAL_TYPE = /^[a-z]+(\([^)]*\))?!?:\s*/i;
/** GitHub's squash-merge suffix " (#123)": metadata, not the author's words, and a number only adds noise to a query. */
const PULL_REQUEST_SUFFIX = /\s*\(#\d+\)\s*$/;
const VERSION = String.raw`v?\d+(\.\d+)+[\w.+-]*`;
const VERSION_BUMPS = [
  new RegExp(`^${VERSION}$`, 'i'), // "v1.2.3", "2.0.0-rc.1"
  new RegExp(`^(bump|upgrade|update)\\b.*\\bfrom\\s+${VERSION}\\s+to\\s+${VERSION}`, 'i'), // "Bump x from 1.0 to 1.1"
  new RegExp(`^(bump|upgrade|update|set)\\b.*\\bto\\s+${VERSION}$`, 'i'), // "Bump version to 1.2.3", "Update lodash to 4.17.21"
  /^(bump|update|increment|set) (the )?(package |project |app )?version\b/i, // "Bump version", "Update version number"
  /^(release[ds]?|releasing|prepare (for )?release|cut release|publish(ed)?|version)\b.*\d+\.\d+/i, // "Release 1.2", "Version 3.1"
  /^(start|begin|open)\s+(version|release)\s+v?\d+\.\d+/i, // "start version 8.5.0"
];

/** Code files: indexed languages other than prose and configuration. */
export function isSourcePath(path: string): boolean {
  const language = languageForPath(path);
  return language !== null && !NON_SOURCE_LANGUAGES.has(language);
}

export function isBotAuthor(name: string, email: string): boolean {
  return BOT_AUTHOR.test(name) || BOT_AUTHOR.test(email);
}

/** The query a subject becomes: trimmed, whitespace collapsed, a trailing "(#123)" removed. */
export function subjectToQuery(subject: string): string {
  return subject.replace(/\s+/g, ' ').trim().replace(PULL_REQUEST_SUFFIX, '');
}

/** Why a subject is not a real description (rules 1 and 3-7 above), or null when it is one. */
export function subjectSkipReason(subject: string): SkipReason | null {
  const text = subjectToQuery(subject);
  if (GIT_MERGE_SUBJECT.test(text)) return 'merge';
  if (REVERT.test(text)) return 'revert';
  const description = text.replace(CONVENTIONAL_TYPE, '');
  if (/^chore\(release\)/i.test(text) || VERSION_BUMPS.some((re) => re.test(description))) return 'version_bump';
  if (WIP.test(text) || WIP.test(description)) return 'wip';
  if (TYPO.test(description)) return 'typo';
  const words = description.split(' ').filter((w) => /\p{L}/u.test(w));
  if (words.length < MIN_SUBJECT_WORDS) return 'too_short';
  return null;
}

/** Applies the rules to commits given newest first and keeps up to `limit` queries. */
export function mineQueries(commits: Iterable<CommitRecord>, options: MineOptions): MinedQueries {
  const prefix = options.pathPrefix ?? '';
  const skipped = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
  const queries: EvalQuery[] = [];
  const seen = new Set<string>();
  let scanned = 0;
  for (const commit of commits) {
    if (queries.length >= options.limit) break;
    scanned++;
    const reason = commitSkipReason(commit, options.indexed, prefix);
    if (typeof reason === 'string') {
      skipped[reason]++;
      continue;
    }
    const query = subjectToQuery(commit.subject);
    const key = query.toLowerCase();
    if (seen.has(key)) {
      skipped.duplicate++;
      continue;
    }
    seen.add(key);
    queries.push({ commit: commit.hash, query, answers: reason.answers });
  }
  return { queries, scanned, skipped };
}

function commitSkipReason(commit: CommitRecord, indexed: ReadonlySet<string>, prefix: string): SkipReason | { answers: string[] } {
  const subjectReason = subjectSkipReason(commit.subject);
  if (commit.parents.length > 1 || subjectReason === 'merge') return 'merge';
  if (isBotAuthor(commit.authorName, commit.authorEmail)) return 'bot';
  if (subjectReason) return subjectReason;
  const sources = [...new Set(commit.files)].filter(isSourcePath);
  if (sources.length === 0) return 'no_source_files';
  if (sources.length > MAX_CHANGED_SOURCE_FILES) return 'too_many_files';
  const answers = sources
    .filter((path) => path.startsWith(prefix))
    .map((path) => path.slice(prefix.length))
    .filter((path) => indexed.has(path))
    .sort();
  return answers.length > 0 ? { answers } : 'not_in_index';
}
