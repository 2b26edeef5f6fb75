/**
 * Issue 16.3: set_project's path comes from an agent. Before the fix set_project("/"), "/etc", "/proc" and
 * "~/../../etc" all succeeded and an index of / read thousands of files; a tree of any size was indexed.
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkProjectRoot } from '../indexer/workspace/project-root-policy.js';
import type { Config } from '../src/config.js';
import { connectInProcess, type InProcessSession } from './helpers/in-process.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

const PROJECT_SENTENCE = /A project is one repository's own directory/;

/** Runs the built CLI (`npm test` builds first) without blocking this process's fake servers. */
function codecarto(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, CODECARTO_HOME: tempDir('cli-home'), ...env };
  delete childEnv.CODECARTO_PROVIDER;
  delete childEnv.CODECARTO_PROJECT;
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env: childEnv, timeout: 60_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

const sessions: InProcessSession[] = [];
async function connect(config: Partial<Config> = {}): Promise<InProcessSession> {
  const session = await connectInProcess({ home: tempDir('roots-home'), watch: 'off', ...config });
  sessions.push(session);
  return session;
}
afterEach(async () => {
  for (const session of sessions.splice(0)) await session.close();
});

/** `count` files of one line each under <tmp>/repo, spread over directories of 100. */
function makeTree(count: number, root = join(tempDir('limit'), 'repo'), from = 0): string {
  for (let i = from; i < from + count; i++) {
    const dir = join(root, `d${Math.floor(i / 100)}`);
    mkdirSync(dir, { recursive: true });
    if (i % 100 === 0) writeFileSync(join(dir, 'index.ts'), `export const limitword${i} = ${i};\n`);
    else closeSync(openSync(join(dir, `f${i}.txt`), 'w'));
  }
  return root;
}

describe('set_project refuses what is not a project (issue 16.3)', () => {
  it('refuses /, system trees, the home directory and its parents, after resolving links', async () => {
    const { call } = await connect();
    const link = join(tempDir('link'), 'innocent');
    symlinkSync('/etc', link);
    const paths = ['/', '/etc', '/etc/ssl', '/proc', '/proc/self', '/sys', '/dev', '/usr', '/bin', '/var', '/boot', tmpdir(), '~', '~/../../etc', homedir(), link];
    if (homedir() !== '/') paths.push(dirname(homedir()));
    for (const path of paths) {
      const result = await call('set_project', { path });
      expect(result.isError, path).toBe(true);
      expect(result.content[0].text, path).toMatch(PROJECT_SENTENCE);
    }
    expect((await call('set_project', { path: link })).content[0].text).toMatch(/really \/etc/);
    expect((await call('set_project', { path: '~' })).content[0].text).toMatch(/home directory/);
    // Nothing was opened: no project is current.
    expect((await call('search', { query: 'password' })).isError).toBe(true);
  });

  it("refuses codecarto's own data directory and anything in it, and allows a folder under /tmp", async () => {
    const home = tempDir('roots-own');
    const inside = join(home, 'projects');
    mkdirSync(inside, { recursive: true });
    const { call } = await connect({ home });
    for (const path of [home, inside]) {
      const result = await call('set_project', { path });
      expect(result.isError, path).toBe(true);
      expect(result.content[0].text).toMatch(/CODECARTO_HOME/);
    }
    const repo = makeTree(3);
    expect((await call('set_project', { path: repo })).isError).toBeFalsy();
  });

  it('judges system trees themselves, not every folder below /var, /opt or /usr', () => {
    const policy = { homeDir: '/home/me', dataHome: '/home/me/.local/share/codecarto' };
    for (const ok of ['/var/www/app', '/opt/app', '/srv/git/app', '/home/me/src/app', '/tmp/x', '/usr/local/src/app']) {
      expect(() => checkProjectRoot(ok, ok, policy), ok).not.toThrow();
    }
    for (const refused of ['/var/lib', '/var/log/nginx', '/var/cache/apt', '/var/run', '/home', '/home/me', '/usr/lib', '/home/me/.local/share/codecarto/projects/x']) {
      expect(() => checkProjectRoot(refused, refused, policy), refused).toThrow(PROJECT_SENTENCE);
    }
  });
});

describe('file limit (issue 16.3)', () => {
  it('refuses a tree over the limit at set_project, saying how to raise it, and max_files raises it', async () => {
    const repo = makeTree(1_000);
    const { call } = await connect({ maxFiles: 500 });
    const refused = await call('set_project', { path: repo });
    expect(refused.isError).toBe(true);
    expect(refused.content[0].text).toMatch(/more than 500 files/);
    expect(refused.content[0].text).toMatch(/max_files/);
    expect(refused.content[0].text).toMatch(/CODECARTO_MAX_FILES/);
    expect((await call('set_project', { path: repo, max_files: 999 })).isError).toBe(true);

    const raised = await call('set_project', { path: repo, max_files: 1_000 });
    expect(raised.isError).toBeFalsy();
    const done = await call('index', { wait_seconds: 60 });
    expect(done.structuredContent).toMatchObject({ state: 'done', files_scanned: 1_000 });
    // max_files is bounded.
    const huge = await call('set_project', { path: repo, max_files: 1e9 });
    expect(huge.isError).toBe(true);
  });

  it('fails an index run early when the tree grew past the limit, before preparing a file', async () => {
    const repo = makeTree(400);
    const { call } = await connect();
    expect((await call('set_project', { path: repo, provider: 'none', max_files: 500 })).isError).toBeFalsy();
    makeTree(600, repo, 400);
    const first = await call('index', { wait_seconds: 60 });
    expect(first.structuredContent.state).toBe('failed');
    expect(first.structuredContent.error).toMatch(/more than 500 files.*max_files/s);
    expect(first.structuredContent.files_scanned).toBe(0);
    expect((await call('status')).structuredContent.files).toBe(0);

    // The person raises the limit for this project; it is remembered for the next run.
    expect((await call('set_project', { path: repo, max_files: 1_200 })).isError).toBeFalsy();
    expect((await call('index', { wait_seconds: 60 })).structuredContent).toMatchObject({ state: 'done', files_scanned: 1_000 });
    makeTree(300, repo, 1_000);
    const grown = await call('index', { wait_seconds: 60 });
    expect(grown.structuredContent.state).toBe('failed');
    expect(grown.structuredContent.error).toMatch(/more than 1,200 files/);
  });

  it('`codecarto index --max-files` raises the limit for the person at the shell', async () => {
    const repo = makeTree(1_000);
    const refused = await codecarto(['index', repo], { CODECARTO_MAX_FILES: '500' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/more than 500 files.*--max-files/s);
    const raised = await codecarto(['index', repo, '--max-files', '1000'], { CODECARTO_MAX_FILES: '500' });
    expect(raised.stderr).not.toMatch(/more than/);
    expect(raised.code).toBe(0);
  });
});
