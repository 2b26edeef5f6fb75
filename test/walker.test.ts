import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError } from '../models/errors/abort-error.js';
import { isSecretPath, walkRepository, WalkStats, type SkipReason, type WalkOptions } from '../indexer/walk/walker.js';

const temps: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codecarto-walker-'));
  temps.push(dir);
  return dir;
}

/** Writes each file (creating parents); a value of null makes a directory. */
function tree(root: string, files: Record<string, string | Buffer | null>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    if (content === null) {
      mkdirSync(abs, { recursive: true });
    } else {
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, content);
    }
  }
}

async function walk(root: string, options: WalkOptions = {}): Promise<{ paths: string[]; stats: WalkStats }> {
  const stats = new WalkStats();
  const paths: string[] = [];
  for await (const file of walkRepository(root, options, stats)) paths.push(file.path);
  return { paths, stats };
}

function counts(stats: WalkStats): Partial<Record<SkipReason, number>> {
  return Object.fromEntries(Object.entries(stats.skipped).filter(([, n]) => n > 0));
}

afterEach(() => {
  for (const dir of temps.splice(0)) {
    // Restore permissions first so cleanup works when not running as root.
    try {
      execFileSync('chmod', ['-R', 'u+rwx', dir]);
    } catch {
      // best effort
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('walkRepository', () => {
  it('yields files depth-first in sorted name order with repo-relative forward-slash paths', async () => {
    const root = tempDir();
    tree(root, { 'b.ts': 'b', 'a/z.ts': 'z', 'a/c/d.ts': 'd', 'A.ts': 'A', 'a.ts': 'a', 'empty': null });
    const stats = new WalkStats();
    const files = [];
    for await (const file of walkRepository(root, {}, stats)) files.push(file);
    expect(files.map((f) => f.path)).toEqual(['A.ts', 'a/c/d.ts', 'a/z.ts', 'a.ts', 'b.ts']);
    expect(files[1].absPath).toBe(path.join(root, 'a', 'c', 'd.ts'));
    expect(files[1].size).toBe(1);
    expect(files[1].mtimeMs).toBeGreaterThan(0);
    expect(counts(stats)).toEqual({});
  });

  it('honours nested .gitignore files with negation, anchored and dir-only patterns', async () => {
    const root = tempDir();
    tree(root, {
      '.gitignore': '*.log\n/top-only.txt\ncache/\n# a comment\n',
      'app.log': 'x',
      'top-only.txt': 'x',
      'cache/big.bin': 'x', // dir-only pattern: the directory is skipped as one entry
      'cache-file/cache': 'file named cache is not a directory', // dir-only pattern must not match a file
      'src/.gitignore': '!keep.log\ngenerated.ts\n/local.ts\n',
      'src/keep.log': 'kept by negation',
      'src/other.log': 'still ignored by the root rule',
      'src/top-only.txt': 'the root rule is anchored to the root',
      'src/generated.ts': 'x',
      'src/local.ts': 'anchored to src',
      'src/deep/local.ts': 'anchored pattern does not reach deeper',
      'src/deep/generated.ts': 'unanchored pattern does',
      'other/generated.ts': 'rules in src do not apply to siblings',
    });
    const { paths, stats } = await walk(root);
    expect(paths).toEqual([
      '.gitignore',
      'cache-file/cache',
      'other/generated.ts',
      'src/.gitignore',
      'src/deep/local.ts',
      'src/keep.log',
      'src/top-only.txt',
    ]);
    // app.log, top-only.txt, cache/, src/deep/generated.ts, src/generated.ts, src/local.ts, src/other.log
    expect(counts(stats)).toEqual({ ignored: 7 });
  });

  it('lets a deeper .gitignore re-include what a shallower one ignores, but not inside an ignored directory', async () => {
    const root = tempDir();
    tree(root, {
      '.gitignore': '*.gen.ts\nlogs/\n',
      'pkg/.gitignore': '!*.gen.ts\n',
      'pkg/a.gen.ts': 'x',
      'b.gen.ts': 'x',
      'logs/.gitignore': '!*\n',
      'logs/x.txt': 'x',
    });
    const { paths, stats } = await walk(root);
    expect(paths).toEqual(['.gitignore', 'pkg/.gitignore', 'pkg/a.gen.ts']);
    expect(counts(stats)).toEqual({ ignored: 2 });
  });

  it('honours .git/info/exclude and .codecartoignore at any level, with .codecartoignore able to negate', async () => {
    const root = tempDir();
    tree(root, {
      '.git/info/exclude': 'scratch.ts\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.gitignore': 'fixtures/\n*.snap\n',
      '.codecartoignore': 'docs/\n!keep.snap\n',
      'scratch.ts': 'x',
      'main.ts': 'x',
      'fixtures/a.ts': 'x',
      'docs/readme.md': 'x',
      'a.snap': 'x',
      'keep.snap': 'x',
      'lib/.codecartoignore': '*.test.ts\n',
      'lib/a.test.ts': 'x',
      'lib/a.ts': 'x',
    });
    const { paths, stats } = await walk(root);
    expect(paths).toEqual(['.codecartoignore', '.gitignore', 'keep.snap', 'lib/.codecartoignore', 'lib/a.ts', 'main.ts']);
    // .git is default_excluded; ignored: a.snap, docs/, fixtures/, lib/a.test.ts, scratch.ts
    expect(counts(stats)).toEqual({ default_excluded: 1, ignored: 5 });
  });

  it('does not descend into ignored or excluded directories', async () => {
    const root = tempDir();
    tree(root, { '.gitignore': 'huge/\n', 'huge/a/b/c.ts': 'x', 'node_modules/m/i.js': 'x', 'ok.ts': 'x' });
    // Were the walker to descend, these dangling links would be counted as 'unreadable'.
    symlinkSync('missing', path.join(root, 'huge', 'a', 'dangling'));
    symlinkSync('missing', path.join(root, 'node_modules', 'm', 'dangling'));
    const { paths, stats } = await walk(root);
    expect(paths).toEqual(['.gitignore', 'ok.ts']);
    expect(counts(stats)).toEqual({ ignored: 1, default_excluded: 1 });
  });

  it('applies default excludes below the root only', async () => {
    const root = tempDir();
    tree(root, {
      'node_modules/dep/index.js': 'x',
      '.git/config': 'x',
      '.hg/store': 'x',
      'sub/.git': 'gitdir: ../.git/modules/sub\n',
      '.venv/lib.py': 'x',
      '__pycache__/m.pyc': 'x',
      'target/debug/x': 'x',
      'dist/index.js': 'x',
      'build/out.js': 'x',
      'coverage/lcov.info': 'x',
      '.next/page.js': 'x',
      'package-lock.json': '{}',
      'yarn.lock': 'x',
      'pnpm-lock.yaml': 'x',
      'Cargo.lock': 'x',
      'go.sum': 'x',
      'deps.lock': 'x',
      'web/app.min.js': 'x',
      'web/app.min.css': 'x',
      'web/app.js.map': 'x',
      'web/vendor.bundle.js': 'x',
      'web/main-bundle.js': 'x',
      'web/0.chunk.js': 'x',
      'web/app.js': 'x',
      '.vscode/settings.json': '{}',
      'src/dist.ts': 'a file named like an excluded dir is fine',
      'src/build.rs': 'x',
      'package.json': '{}',
    });
    const { paths, stats } = await walk(root);
    expect(paths).toEqual(['.vscode/settings.json', 'package.json', 'src/build.rs', 'src/dist.ts', 'web/app.js']);
    expect(counts(stats)).toEqual({ default_excluded: 23 });
  });

  it('walks a package inside node_modules when it is the root', async () => {
    const root = tempDir();
    tree(root, {
      'node_modules/lib/package.json': '{}',
      'node_modules/lib/src/index.ts': 'x',
      'node_modules/lib/node_modules/nested/index.js': 'x',
      'node_modules/lib/dist/index.js': 'x',
    });
    const { paths, stats } = await walk(path.join(root, 'node_modules', 'lib'));
    expect(paths).toEqual(['package.json', 'src/index.ts']);
    expect(counts(stats)).toEqual({ default_excluded: 2 });
    // Even a root that is itself named like an excluded directory is walked.
    const dist = await walk(path.join(root, 'node_modules', 'lib', 'dist'));
    expect(dist.paths).toEqual(['index.js']);
  });

  it('never yields secret files', async () => {
    const root = tempDir();
    const secrets = [
      '.env', '.env.local', '.env.production', 'server.pem', 'tls/private.key', 'cert.p12', 'cert.pfx',
      '.ssh/id_rsa', '.ssh/id_rsa.pub', '.ssh/id_ed25519', 'id_dsa', 'id_ecdsa', '.npmrc', '.pypirc', '.netrc',
      '.git-credentials', '.aws/credentials', 'credentials.json', 'release.keystore', 'store.jks', '.htpasswd',
      'config/secrets.yml', 'config/secrets.yaml', 'secrets.json', 'gcp-credentials.json',
    ];
    tree(root, Object.fromEntries([...secrets.map((s) => [s, 'TOP SECRET']), ['src/env.ts', 'x'], ['key.ts', 'x'], ['keys/README.md', 'x']]));
    const { paths, stats } = await walk(root);
    expect(paths).toEqual(['key.ts', 'keys/README.md', 'src/env.ts']);
    expect(counts(stats)).toEqual({ secret: secrets.length });
    for (const s of secrets) expect(isSecretPath(s)).toBe(true);
    expect(isSecretPath('/abs/path/.ENV')).toBe(true);
    expect(isSecretPath('src/environment.ts')).toBe(false);
    expect(isSecretPath('keyboard.ts')).toBe(false);
  });

  it('skips files larger than maxFileBytes by stat', async () => {
    const root = tempDir();
    tree(root, { 'big.ts': 'x'.repeat(101), 'edge.ts': 'x'.repeat(100), 'small.ts': 'x' });
    const { paths, stats } = await walk(root, { maxFileBytes: 100 });
    expect(paths).toEqual(['edge.ts', 'small.ts']);
    expect(counts(stats)).toEqual({ too_large: 1 });
    const defaults = tempDir();
    tree(defaults, { 'big.txt': Buffer.alloc(1_000_001, 0x61), 'ok.txt': Buffer.alloc(1_000_000, 0x61) });
    const byDefault = await walk(defaults);
    expect(byDefault.paths).toEqual(['ok.txt']);
    expect(counts(byDefault.stats)).toEqual({ too_large: 1 });
  });

  it('finishes quickly on a directory symlink loop and counts it', async () => {
    const root = tempDir();
    tree(root, { 'a/file.ts': 'x', 'b/file.ts': 'x' });
    symlinkSync('..', path.join(root, 'a', 'up'));
    symlinkSync(path.join(root, 'b'), path.join(root, 'b', 'self'));
    symlinkSync('loop2', path.join(root, 'loop1'));
    symlinkSync('loop1', path.join(root, 'loop2'));
    const started = Date.now();
    const { paths, stats } = await walk(root);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(paths).toEqual(['a/file.ts', 'b/file.ts']);
    // a/up -> root, b/self -> b, and the link chain loop1 <-> loop2 (ELOOP).
    expect(counts(stats)).toEqual({ symlink_loop: 4 });
  });

  it('follows links inside the root under the link path, and not links out of it', async () => {
    const outside = tempDir();
    tree(outside, { 'secret-src.ts': 'outside', 'dir/x.ts': 'outside' });
    const root = tempDir();
    tree(root, { 'real/impl.ts': 'x', 'shared/util.ts': 'x', 'target/gen.rs': 'default-excluded as a real dir' });
    symlinkSync(path.join(root, 'real', 'impl.ts'), path.join(root, 'alias.ts'));
    symlinkSync('shared', path.join(root, 'linked-dir'));
    symlinkSync(path.join(outside, 'secret-src.ts'), path.join(root, 'out.ts'));
    symlinkSync(path.join(outside, 'dir'), path.join(root, 'outdir'));
    symlinkSync(path.join(root, 'missing.ts'), path.join(root, 'broken.ts'));
    const { paths, stats } = await walk(root);
    // Each real directory is walked once, under the first path that reaches it: linked-dir sorts
    // before shared, so shared is the repeat (counted as symlink_loop) and util.ts is not duplicated.
    expect(paths).toEqual(['alias.ts', 'linked-dir/util.ts', 'real/impl.ts']);
    expect(counts(stats)).toEqual({ symlink_outside_root: 2, unreadable: 1, symlink_loop: 1, default_excluded: 1 });
  });

  it('does not yield a secret reached through an innocently named link', async () => {
    const root = tempDir();
    tree(root, { '.env': 'TOKEN=1', 'a.ts': 'x' });
    symlinkSync('.env', path.join(root, 'config.txt'));
    const { paths, stats } = await walk(root);
    expect(paths).toEqual(['a.ts']);
    expect(counts(stats)).toEqual({ secret: 2 });
  });

  it('handles names with spaces and non-ASCII characters', async () => {
    const root = tempDir();
    tree(root, { 'my dir/file name.ts': 'x', 'données/café ☕.py': 'x', '日本語/テスト.go': 'x', '#hash.ts': 'x', '!bang.ts': 'x' });
    const { paths, stats } = await walk(root);
    expect(paths).toEqual(['!bang.ts', '#hash.ts', 'données/café ☕.py', 'my dir/file name.ts', '日本語/テスト.go']);
    expect(counts(stats)).toEqual({});
  });

  it('counts unreadable files and directories, or yields them when running privileged', async () => {
    const root = tempDir();
    tree(root, { 'locked.ts': 'x', 'locked-dir/inner.ts': 'x', 'ok.ts': 'x' });
    chmodSync(path.join(root, 'locked.ts'), 0o000);
    chmodSync(path.join(root, 'locked-dir'), 0o000);
    // Root (as in CI containers) bypasses permission bits; detect rather than assume.
    let privileged = true;
    try {
      readFileSync(path.join(root, 'locked.ts'));
      readdirSync(path.join(root, 'locked-dir'));
    } catch {
      privileged = false;
    }
    const { paths, stats } = await walk(root);
    if (privileged) {
      expect(paths).toEqual(['locked-dir/inner.ts', 'locked.ts', 'ok.ts']);
      expect(counts(stats)).toEqual({});
    } else {
      expect(paths).toEqual(['ok.ts']);
      expect(counts(stats)).toEqual({ unreadable: 2 });
    }
  });

  it('counts a FIFO as not_regular without opening it', async () => {
    const root = tempDir();
    tree(root, { 'a.ts': 'x' });
    try {
      execFileSync('mkfifo', [path.join(root, 'pipe')]);
    } catch {
      return; // no mkfifo on this platform
    }
    symlinkSync('pipe', path.join(root, 'pipe-link'));
    const { paths, stats } = await walk(root);
    expect(paths).toEqual(['a.ts']);
    expect(counts(stats)).toEqual({ not_regular: 2 });
  });

  it('throws AbortError when the signal is aborted', async () => {
    const root = tempDir();
    tree(root, { 'a/1.ts': 'x', 'b/2.ts': 'x', 'c/3.ts': 'x' });
    const controller = new AbortController();
    const seen: string[] = [];
    const run = async () => {
      for await (const file of walkRepository(root, { signal: controller.signal }, new WalkStats())) {
        seen.push(file.path);
        controller.abort();
      }
    };
    await expect(run()).rejects.toBeInstanceOf(AbortError);
    expect(seen).toEqual(['a/1.ts']);
    const aborted = AbortSignal.abort();
    await expect(walk(root, { signal: aborted })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('walks thousands of files in order and stops early when the consumer breaks', async () => {
    const root = tempDir();
    const dirs = 40;
    const perDir = 50;
    for (let d = 0; d < dirs; d++) {
      const dir = path.join(root, 'src', `d${String(d).padStart(3, '0')}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < perDir; f++) writeFileSync(path.join(dir, `f${String(f).padStart(2, '0')}.ts`), 'x');
    }
    const { paths, stats } = await walk(root);
    expect(paths.length).toBe(dirs * perDir);
    expect(paths[0]).toBe('src/d000/f00.ts');
    expect(paths.at(-1)).toBe('src/d039/f49.ts');
    expect([...paths].sort()).toEqual(paths);
    expect(counts(stats)).toEqual({});
    const early = new WalkStats();
    const firstTwo: string[] = [];
    for await (const file of walkRepository(root, {}, early)) {
      firstTwo.push(file.path);
      if (firstTwo.length === 2) break;
    }
    expect(firstTwo).toEqual(['src/d000/f00.ts', 'src/d000/f01.ts']);
  });
});
