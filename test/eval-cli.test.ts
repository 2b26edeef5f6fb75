import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildScenarioRepo } from './helpers/history-repo.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

/** Runs the built CLI (`npm test` builds first) with a private data home and no provider from the caller's environment. */
function codecarto(args: string[], home: string, extraEnv: NodeJS.ProcessEnv = {}, cwd?: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, CODECARTO_HOME: home };
  delete env.CODECARTO_PROVIDER;
  delete env.CODECARTO_PROJECT;
  return spawnSync(process.execPath, [cliPath, ...args], { env, cwd, encoding: 'utf8', timeout: 60_000 });
}

describe('codecarto eval', () => {
  it('indexes a git repository, measures lexical and grep on its history, and leaves the repository untouched', () => {
    const repo = buildScenarioRepo();
    const home = tempDir('eval-home');
    const head = repo.git('rev-parse', 'HEAD');

    const run = codecarto(['eval', repo.dir, '--json', '--modes', 'lexical,grep'], home);
    expect(run.stderr).toMatch(/Mined 7 queries from 23 commits/);
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]);
    expect(report).toMatchObject({
      project: repo.dir,
      head,
      evaluated_against: 'index of the working tree',
      k: 10,
      commits_scanned: 23,
      queries: 7, // the seven commits the mining suite lists (test/eval.test.ts)
      unavailable: {},
    });
    expect(report.index_files).toBe(repo.git('ls-files').split('\n').length);
    expect(Object.keys(report.modes)).toEqual(['grep', 'lexical']);
    for (const metrics of Object.values<Record<string, number>>(report.modes)) {
      expect(metrics.queries).toBe(7);
      expect(metrics.hits_at_1).toBeLessThanOrEqual(metrics.hits_at_k);
      expect(metrics.recall_at_1).toBeCloseTo(metrics.hits_at_1 / 7, 12);
      expect(metrics.recall_at_k).toBeCloseTo(metrics.hits_at_k / 7, 12);
      expect(metrics.mrr_at_k).toBeGreaterThanOrEqual(metrics.recall_at_1);
      expect(metrics.mrr_at_k).toBeLessThanOrEqual(metrics.recall_at_k);
    }

    // The table form; semantic cannot run without an embedding provider and says why instead of faking it.
    const table = codecarto(['eval', repo.dir, '--modes', 'semantic,lexical', '--queries', '3'], home);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/against the index of the working tree/);
    expect(table.stdout).toMatch(/^mode\s+queries\s+recall@1\s+recall@10\s+MRR@10/m);
    expect(table.stdout).toMatch(/^lexical\s+3\s/m);
    expect(table.stdout).toMatch(/^semantic: not measured: .*--provider/m);

    // Without a path: the indexed project that holds the current directory, named first on stderr.
    const here = codecarto(['eval', '--json', '--modes', 'grep', '--queries', '3'], home, {}, join(repo.dir, repo.git('ls-files').split('\n')[0], '..'));
    expect(here.status).toBe(0);
    expect(here.stderr.split('\n')[0]).toBe(`project: ${repo.dir}`);
    expect(JSON.parse(here.stdout)).toMatchObject({ project: repo.dir, queries: 3 });

    // Read-only: no new, changed or ignored files, same HEAD, and the data lives under CODECARTO_HOME.
    expect(repo.git('status', '--porcelain', '--ignored')).toBe('');
    expect(repo.git('rev-parse', 'HEAD')).toBe(head);
    expect(repo.git('stash', 'list')).toBe('');
  });

  it('says a directory without git history cannot be evaluated, before indexing it', () => {
    const dir = tempDir('eval-nogit');
    writeFileSync(join(dir, 'main.py'), 'def main():\n    pass\n');
    const run = codecarto(['eval', dir], tempDir('eval-home'), { GIT_CEILING_DIRECTORIES: dirname(dir) });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/git rev-parse failed in .*not a git repository.*needs a git repository with history/);
    expect(run.stderr).not.toMatch(/Bringing the index up to date/);
  });

  it('refuses an unknown mode before touching anything', () => {
    const run = codecarto(['eval', '--modes', 'lexical,vibes'], tempDir('eval-home'));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/--modes takes a comma-separated list of grep, lexical, semantic, hybrid \(not "vibes"\)/);
  });
});
