import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isSourcePath, mineQueries, subjectSkipReason, subjectToQuery, type CommitRecord } from '../indexer/history/commit-miner.js';
import { readGitHistory } from '../indexer/history/git-history.js';
import { countOccurrences, GrepBaseline, grepQueryWords } from '../indexer/eval/grep-baseline.js';
import { firstHitRank, summarizeRanks } from '../indexer/history/retrieval-metrics.js';
import { buildScenarioRepo, type HistoryRepo } from './helpers/history-repo.js';

describe('mining queries from a repository built with git', () => {
  let repo: HistoryRepo;
  let indexed: Set<string>;
  beforeAll(() => {
    repo = buildScenarioRepo();
    // What the working tree holds now stands in for the index (the end-to-end test uses the real one).
    indexed = new Set(repo.git('ls-files').split('\n'));
  });

  it('keeps exactly the descriptive commits with 1-5 source files still present, newest first', async () => {
    const history = await readGitHistory(repo.dir, { maxCommits: 1000 });
    expect(history.head).toBe(repo.git('rev-parse', 'HEAD'));
    expect(history.pathPrefix).toBe('');
    expect(history.commits).toHaveLength(23);
    const mined = mineQueries(history.commits, { indexed, limit: 200 });
    expect(mined.queries.map((q) => [q.query, q.answers])).toEqual([
      ['Merge adjacent chunks into one result', ['src/printer.ts']],
      ['Add tokenizer for string literals', ['src/lexer.ts']],
      ['feat(lexer): handle unicode identifiers', ['src/lexer.ts']],
      ['Add pretty printer for syntax trees', ['src/printer.ts']],
      ['Remove the legacy cache module', ['src/parser.ts']],
      ['Add legacy cache for parsed modules', ['src/parser.ts']],
      ['Initial parser, lexer and config loader', ['src/config.ts', 'src/lexer.ts', 'src/parser.ts']],
    ]);
    expect(mined.queries[1].commit).toBe(repo.git('rev-parse', 'HEAD~1'));
    expect(mined.scanned).toBe(23);
    expect(mined.skipped).toEqual({
      merge: 2, // the --no-ff merge and the "Merge pull request #7" subject
      bot: 2, // dependabot[bot], renovate[bot]
      revert: 1,
      version_bump: 3, // "Bump version to 1.2.3", "v1.2.3", "Release 1.3"
      wip: 1,
      typo: 1,
      too_short: 2, // "Update docs", "fix: parser crash"
      no_source_files: 1, // README only
      too_many_files: 1, // seven plugin files
      not_in_index: 1, // only the since-deleted legacy cache
      duplicate: 1, // the older "Add tokenizer for string literals"
    });
  });

  it('stops at the query limit and counts only the commits it read', async () => {
    const history = await readGitHistory(repo.dir, { maxCommits: 1000 });
    const mined = mineQueries(history.commits, { indexed, limit: 2 });
    expect(mined.queries.map((q) => q.query)).toEqual(['Merge adjacent chunks into one result', 'Add tokenizer for string literals']);
    expect(mined.scanned).toBe(2);
  });

  it('maps paths for a project that is a subdirectory of the repository', async () => {
    const history = await readGitHistory(join(repo.dir, 'src'), { maxCommits: 1000 });
    expect(history.pathPrefix).toBe('src/');
    const inSrc = new Set([...indexed].filter((p) => p.startsWith('src/')).map((p) => p.slice(4)));
    const mined = mineQueries(history.commits, { indexed: inSrc, pathPrefix: history.pathPrefix, limit: 200 });
    expect(mined.queries.at(-1)).toMatchObject({ query: 'Initial parser, lexer and config loader', answers: ['config.ts', 'lexer.ts', 'parser.ts'] });
  });
});

describe('subject rules', () => {
  it.each([
    ['wip', 'wip'],
    ['WIP: parser rewrite in progress', 'wip'],
    ['fixup! Add tokenizer for strings', 'wip'],
    ['Fix typos in the lexer comments', 'typo'],
    ['fix typo', 'typo'],
    ['v1.2.3', 'version_bump'],
    ['1.4.0-rc.1', 'version_bump'],
    ['Bump eslint from 8.1.0 to 8.2.0 in /web', 'version_bump'],
    ['Release 1.2', 'version_bump'],
    ['chore(release): 2.0.0', 'version_bump'],
    ['Prepare release 3.1.0 of the library', 'version_bump'],
    ["Merge branch 'main' into feature/parser", 'merge'],
    ['Merge remote-tracking branch origin/main', 'merge'],
    ['Revert "Add the cache"', 'revert'],
    ['Update tests', 'too_short'],
    ['fix(parser): crash', 'too_short'],
    ['Merge 8.1.x into main', 'merge'],
    ['start version 8.5.0', 'version_bump'],
    ['fix spelling and spacing', 'typo'],
    ['docs: fix typo in the options guide', 'typo'],
    ['Merge adjacent chunks from one file', null],
    ['Add NoSuchCommand exception with suggestions for misspelled commands', null],
    ['Strip trailing whitespace from help text', null],
    ['Revert incorrect typing changes in the parser', null],
    ['Bump the default batch size for DGX requests', null],
    ['feat(eval): rank files by grep counts', null],
  ])('%j -> %s', (subject, reason) => {
    expect(subjectSkipReason(subject)).toBe(reason);
  });

  it('drops a trailing pull-request number from the query and knows source files from docs and config', () => {
    expect(subjectToQuery('  Add  grep mode to eval (#118) ')).toBe('Add grep mode to eval');
    expect(['src/a.ts', 'lib/b.py', 'Makefile', 'app/c.go'].every(isSourcePath)).toBe(true);
    expect(['README.md', 'package.json', 'ci.yml', 'Cargo.toml', 'docs/x.rst', 'logo.png'].some(isSourcePath)).toBe(false);
  });

  it('skips bot authors by name or e-mail', () => {
    const commit = (authorName: string, authorEmail: string): CommitRecord => ({
      hash: authorName,
      parents: ['p'],
      authorName,
      authorEmail,
      subject: 'Refresh the generated parser tables',
      files: ['src/parser.ts'],
    });
    const mined = mineQueries(
      [commit('github-actions[bot]', 'actions@github.com'), commit('CI', 'renovate@whitesourcesoftware.com'), commit('Ada', 'ada@example.com')],
      { indexed: new Set(['src/parser.ts']), limit: 10 },
    );
    expect(mined.queries.map((q) => q.commit)).toEqual(['Ada']);
    expect(mined.skipped.bot).toBe(2);
  });
});

describe('retrieval metrics', () => {
  it('ranks the first answer among distinct paths, cut at k', () => {
    expect(firstHitRank(['a.ts', 'a.ts', 'b.ts'], ['b.ts'], 10)).toBe(2);
    expect(firstHitRank(['x.ts'], ['y.ts', 'x.ts'], 10)).toBe(1);
    // Eleven chunks, but the answer is the 10th distinct file once the repeats of c.ts collapse.
    expect(firstHitRank(['c', 'c', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'answer'], ['answer'], 10)).toBe(10);
    expect(firstHitRank(['c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'answer'], ['answer'], 10)).toBeNull();
    expect(firstHitRank([], ['answer'], 10)).toBeNull();
  });

  it('computes recall@1, recall@10 and MRR@10 exactly', () => {
    // Ranks 2, 1, 10 and a miss: hits@1 = 1, hits@10 = 3, MRR = (1/2 + 1 + 1/10 + 0) / 4 = 0.4.
    expect(summarizeRanks([2, 1, 10, null], 10)).toEqual({
      queries: 4,
      hits_at_1: 1,
      hits_at_k: 3,
      recall_at_1: 0.25,
      recall_at_k: 0.75,
      mrr_at_k: 0.4,
    });
    expect(summarizeRanks([3, 6], 5)).toEqual({ queries: 2, hits_at_1: 0, hits_at_k: 1, recall_at_1: 0, recall_at_k: 0.5, mrr_at_k: 1 / 6 });
    expect(summarizeRanks([], 10)).toMatchObject({ queries: 0, recall_at_1: 0, recall_at_k: 0, mrr_at_k: 0 });
  });
});

describe('grep baseline', () => {
  it('takes query words of 3+ characters without stop words', () => {
    expect(grepQueryWords('Fix the bug in get_user_name and URL parsing of it; fix again')).toEqual(['fix', 'bug', 'get_user_name', 'url', 'parsing']);
    expect(countOccurrences('aaaa', 'aa')).toBe(2);
  });

  it('scores files by sum of idf x ln(1 + count), substring and case-insensitive', () => {
    const grep = new GrepBaseline([
      { path: 'a.ts', text: 'parseConfig(x); parse(y); PARSE' }, // parse x3 (one inside parseConfig), config x1
      { path: 'b.ts', text: 'const config = loadConfig();' }, // config x2
      { path: 'c.ts', text: 'nothing to see' },
    ]);
    const hits = grep.rank('Parse the config');
    expect(hits.map((h) => h.path)).toEqual(['a.ts', 'b.ts']);
    // N = 3 files; "parse" in 1 file, "config" in 2.
    expect(hits[0].score).toBeCloseTo(Math.log(3) * Math.log(4) + Math.log(1.5) * Math.log(2), 12);
    expect(hits[1].score).toBeCloseTo(Math.log(1.5) * Math.log(3), 12);
    expect(grep.rank('Parse the config', 1)).toHaveLength(1);
    expect(grep.rank('the and of')).toEqual([]);
  });
});
