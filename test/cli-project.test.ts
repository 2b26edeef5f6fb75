import { spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveCliProject } from '../src/cli-project.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

/** Runs the built CLI (`npm test` builds first) in `cwd` with a private data home and nothing from the caller's codecarto environment. */
function codecarto(args: string[], options: { home: string; cwd: string }) {
  const env: NodeJS.ProcessEnv = { ...process.env, CODECARTO_HOME: options.home };
  delete env.CODECARTO_PROVIDER;
  delete env.CODECARTO_PROJECT;
  const run = spawnSync(process.execPath, [cliPath, ...args], { env, cwd: options.cwd, encoding: 'utf8', timeout: 60_000 });
  return { ...run, firstErrLine: run.stderr.split('\n')[0] };
}

function makeRepo(name: string, files: Record<string, string>): string {
  const dir = join(realpathSync(tempDir(name)), name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** MCP words that mean nothing at a shell (the bug: CLI messages said "call `set_project`", "search with refresh: true"). */
const MCP_SPEAK = /set_project|refresh: true|call `index`|`index`[^\w]|provider "dgx", "onnx"|mode "lexical"/;

describe('resolveCliProject', () => {
  const outer = makeRepo('outer', { 'a.py': 'x = 1\n', 'inner/b.py': 'y = 2\n', 'inner/deep/c.py': 'z = 3\n' });
  const inner = join(outer, 'inner');
  const other = makeRepo('other', { 'o.py': 'o = 1\n' });
  const known = [
    { project: outer, current: false },
    { project: inner, current: false },
    { project: other, current: true },
  ];

  it('takes the deepest known project that holds the current directory', () => {
    expect(resolveCliProject({ cwd: join(inner, 'deep'), known, mustBeKnown: true })).toEqual({ root: inner, source: 'cwd' });
    expect(resolveCliProject({ cwd: outer, known, mustBeKnown: true })).toEqual({ root: outer, source: 'cwd' });
    // A sibling whose name starts like a project's is not inside it.
    const sibling = `${outer}-sibling`;
    mkdirSync(sibling);
    expect(resolveCliProject({ cwd: sibling, known, mustBeKnown: true })).toEqual({ root: other, source: 'last' });
  });

  it('finds the project through a symlinked current directory', () => {
    const link = join(tempDir('link'), 'checkout');
    symlinkSync(inner, link);
    expect(resolveCliProject({ cwd: join(link, 'deep'), known, mustBeKnown: true })).toEqual({ root: inner, source: 'cwd' });
  });

  it('puts --project before CODECARTO_PROJECT before the current directory', () => {
    expect(resolveCliProject({ explicit: other, env: outer, cwd: inner, known, mustBeKnown: true })).toEqual({ root: other, source: 'argument' });
    expect(resolveCliProject({ env: outer, cwd: inner, known, mustBeKnown: true })).toEqual({ root: outer, source: 'environment' });
    // Relative to the current directory; for search and status a path inside a project means that project.
    expect(resolveCliProject({ explicit: 'deep', cwd: inner, known, mustBeKnown: true })).toEqual({ root: inner, source: 'argument' });
    // index and eval take the path as the project itself.
    expect(resolveCliProject({ explicit: 'deep', cwd: inner, known, mustBeKnown: false })).toEqual({ root: join(inner, 'deep'), source: 'argument' });
  });

  it('says how to start when there is nothing to choose from', () => {
    const fresh = makeRepo('fresh', { 'f.py': 'f = 1\n' });
    expect(() => resolveCliProject({ cwd: fresh, known: [], mustBeKnown: false })).toThrow(/run `codecarto index <path>`.*or pass --project <path>/);
    expect(() => resolveCliProject({ explicit: fresh, cwd: outer, known, mustBeKnown: true })).toThrow(`${fresh} has not been indexed: run \`codecarto index ${fresh}\` first.`);
    expect(() => resolveCliProject({ explicit: join(fresh, 'missing'), cwd: outer, known, mustBeKnown: false })).toThrow(/does not exist/);
  });
});

describe('the one-shot commands', () => {
  it('work on the project that holds the current directory, else the last one set, and name it', () => {
    const home = tempDir('cli-project-home');
    const alpha = makeRepo('alpha', { 'billing/invoice.py': 'def compute_invoice_total(lines):\n    return sum(lines)\n' });
    const beta = makeRepo('beta', { 'auth/session.py': 'def refresh_session_token(user):\n    return user\n' });
    const elsewhere = realpathSync(tempDir('elsewhere'));

    // Nothing indexed yet: the error says what to run.
    const none = codecarto(['search', 'invoice'], { home, cwd: alpha });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/run `codecarto index <path>` with the repository's path first, or pass --project <path>/);

    // index without a path inside a repository that is not indexed yet takes --project (a relative one too).
    const indexAlpha = codecarto(['index', '--project', '.', '--provider', 'none', '--json'], { home, cwd: alpha });
    expect(indexAlpha.status).toBe(0);
    expect(indexAlpha.firstErrLine).toBe(`project: ${alpha}`);
    expect(JSON.parse(indexAlpha.stdout)).toMatchObject({ project: alpha, state: 'done', files_added: 1 });
    const indexBeta = codecarto(['index', beta, '--provider', 'none'], { home, cwd: elsewhere });
    expect(indexBeta.status).toBe(0);
    expect(indexBeta.firstErrLine).toBe(`project: ${beta}`);
    // The project's notes speak CLI: the provider flag, not set_project's argument.
    expect(indexBeta.stderr).toMatch(/For semantic search pass --provider dgx, onnx or openai\./);

    // Inside alpha (a subdirectory), search and status answer for alpha although beta was indexed last.
    const inAlpha = codecarto(['search', 'compute invoice total', '--json'], { home, cwd: join(alpha, 'billing') });
    expect(inAlpha.status).toBe(0);
    expect(inAlpha.firstErrLine).toBe(`project: ${alpha}`);
    const found = JSON.parse(inAlpha.stdout);
    expect(found.project).toBe(alpha);
    expect(found.results[0].path).toBe('billing/invoice.py');
    const statusAlpha = codecarto(['status', '--json'], { home, cwd: join(alpha, 'billing') });
    expect(statusAlpha.status).toBe(0);
    expect(JSON.parse(statusAlpha.stdout)).toMatchObject({ project: alpha, files: 1 });

    // Outside every project: the last one set (searching alpha did not change it), said so.
    const outside = codecarto(['search', 'refresh session token'], { home, cwd: elsewhere });
    expect(outside.status).toBe(0);
    expect(outside.firstErrLine).toMatch(new RegExp(`^project: ${beta} \\(the last one set: no indexed project contains the current directory`));
    expect(outside.stdout).toMatch(/^auth\/session\.py:1-2/m);

    // --project picks any indexed project from anywhere; an unindexed path is refused with what to run.
    const picked = codecarto(['status', '--project', alpha], { home, cwd: beta });
    expect(picked.status).toBe(0);
    expect(picked.firstErrLine).toBe(`project: ${alpha}`);
    expect(picked.stdout).toMatch(new RegExp(`^Project: ${alpha}$`, 'm'));
    const unindexed = codecarto(['status', '--project', elsewhere], { home, cwd: alpha });
    expect(unindexed.status).toBe(1);
    expect(unindexed.stderr).toContain(`${elsewhere} has not been indexed: run \`codecarto index ${elsewhere}\` first.`);
    const twice = codecarto(['index', alpha, '--project', beta], { home, cwd: alpha });
    expect(twice.status).toBe(1);
    expect(twice.stderr).toMatch(/Name the project once/);

    // Stale files and semantic search without vectors: the advice names CLI commands and flags.
    writeFileSync(join(alpha, 'billing', 'tax.py'), 'def apply_sales_tax(total):\n    return total * 1.2\n');
    const stale = codecarto(['status'], { home, cwd: alpha });
    expect(stale.stdout).toContain(`Note: 1 files changed since the last index; run \`codecarto index ${alpha}\` (or search with --refresh) to refresh.`);
    const staleSearch = codecarto(['search', 'sales tax'], { home, cwd: alpha });
    expect(staleSearch.stdout).toContain(`not reflected here; run \`codecarto index ${alpha}\` (or search with --refresh).`);
    const semantic = codecarto(['search', 'sales tax', '--mode', 'semantic'], { home, cwd: alpha });
    expect(semantic.status).toBe(1);
    expect(semantic.stderr).toContain(`Use --mode lexical, or run \`codecarto index ${alpha}\` with an embedding provider first.`);
    const refreshed = codecarto(['search', 'sales tax', '--refresh', '--json'], { home, cwd: alpha });
    expect(refreshed.status).toBe(0);
    expect(JSON.parse(refreshed.stdout)).toMatchObject({ project: alpha, refreshed: 'done', results: [{ path: 'billing/tax.py' }] });
    const badProvider = codecarto(['index', '--provider', 'dgx'], { home, cwd: alpha });
    expect(badProvider.status).toBe(1);
    expect(badProvider.stderr).toMatch(/provider "dgx" needs --dgx-endpoint, the full URL/);

    for (const run of [none, indexAlpha, indexBeta, inAlpha, statusAlpha, outside, picked, unindexed, stale, staleSearch, semantic, refreshed, badProvider]) {
      expect(run.stdout + run.stderr).not.toMatch(MCP_SPEAK);
    }
  });
});
