/**
 * `codecarto symbol`, `codecarto refs` and `codecarto outline` through the built CLI (`npx tsc` first): the
 * same answers as find_symbol, references and outline, in shell words, on the project holding the current
 * directory, paths relative to where the person stands.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliPath, tempDir } from './helpers/stdio-client.js';

function codecarto(args: string[], options: { home: string; cwd: string }) {
  const env: NodeJS.ProcessEnv = { ...process.env, CODECARTO_HOME: options.home };
  delete env.CODECARTO_PROVIDER;
  delete env.CODECARTO_PROJECT;
  return spawnSync(process.execPath, [cliPath, ...args], { env, cwd: options.cwd, encoding: 'utf8', timeout: 60_000 });
}

const FILES: Record<string, string> = {
  'src/app.py': 'class Flask:\n    def url_for(self, endpoint):\n        return "/" + endpoint\n\n\ndef make_app():\n    app = Flask()\n    return app.url_for("index")\n',
  'src/lib.rs': 'pub struct Builder {}\n\nimpl Builder {\n    pub fn build(&self) -> u8 {\n        1\n    }\n}\n\nfn main() {\n    Builder {}.build();\n}\n',
};

describe('codecarto symbol, refs and outline', () => {
  const home = tempDir('symbols-cli-home');
  let repo: string;

  beforeAll(() => {
    repo = join(realpathSync(tempDir('symbols-cli')), 'repo');
    for (const [path, text] of Object.entries(FILES)) {
      mkdirSync(join(repo, path, '..'), { recursive: true });
      writeFileSync(join(repo, path), text);
    }
    const index = codecarto(['index', repo, '--provider', 'none'], { home, cwd: repo });
    expect(index.status, index.stderr).toBe(0);
  });

  it('symbol finds a definition by qualified name, in Rust notation too, with --body and --json', () => {
    const found = codecarto(['symbol', 'Flask.url_for'], { home, cwd: repo });
    expect(found.status, found.stderr).toBe(0);
    expect(found.stderr).toContain(`project: ${repo}`);
    expect(found.stdout).toContain('src/app.py:2-3  Flask.url_for  (method, qualified match)\n  def url_for(self, endpoint):');
    const rust = codecarto(['symbol', 'Builder::build', '--body', '--json'], { home, cwd: join(repo, 'src') });
    const answer = JSON.parse(rust.stdout);
    expect(answer.project).toBe(repo);
    expect(answer.results[0]).toMatchObject({ symbol: 'Builder.build', kind: 'method', path: 'src/lib.rs', start_line: 4, end_line: 6 });
    expect(answer.results[0].body).toBe('    pub fn build(&self) -> u8 {\n        1\n    }');
    const kind = codecarto(['symbol', 'Builder', '--kind', 'struct'], { home, cwd: repo });
    expect(kind.stdout).toContain('src/lib.rs:1-1  Builder  (struct)');
    const none = codecarto(['symbol', 'zzqqxx'], { home, cwd: repo });
    expect(none.status).toBe(1);
    expect(none.stdout).toContain('No definition of "zzqqxx" found.');
    // --near is a file the person reads, relative to where they stand: src/lib.rs from src/ (no "not an indexed file" note).
    const near = JSON.parse(codecarto(['symbol', 'build', '--near', 'lib.rs', '--json'], { home, cwd: join(repo, 'src') }).stdout);
    expect(near.note).toBeUndefined();
    expect(near.results[0]).toMatchObject({ symbol: 'Builder.build', path: 'src/lib.rs' });
    const notIndexed = JSON.parse(codecarto(['symbol', 'build', '--near', 'src/lib.rs', '--json'], { home, cwd: join(repo, 'src') }).stdout);
    expect(notIndexed.note).toMatch(/is not an indexed file/);
    const badKind = codecarto(['symbol', 'x', '--kind', 'widget'], { home, cwd: repo });
    expect(badKind.status).toBe(1);
    expect(badKind.stderr).toMatch(/--kind must be one of function, method, class/);
  });

  it('refs lists uses by file with their enclosing function and the definition marked', () => {
    const refs = codecarto(['refs', 'url_for'], { home, cwd: repo });
    expect(refs.status, refs.stderr).toBe(0);
    expect(refs.stdout).toContain('"url_for": 1 use (1 calls, 0 imports, 0 other) in 1 file; 1 definition (marked def).');
    expect(refs.stdout).toContain('  2     def    in Flask: def url_for(self, endpoint):');
    expect(refs.stdout).toContain('  8     call   in make_app: return app.url_for("index")');
    const json = JSON.parse(codecarto(['refs', 'Builder', '--json', '--path-glob', '*.rs'], { home, cwd: repo }).stdout);
    expect(json.files[0].refs.map((r: { line: number; kind: string }) => `${r.line} ${r.kind}`)).toEqual(['1 definition', '3 use', '10 use']);
  });

  it('outline takes paths relative to the current directory', () => {
    const file = codecarto(['outline', 'app.py'], { home, cwd: join(repo, 'src') });
    expect(file.status, file.stderr).toBe(0);
    expect(file.stdout).toBe('src/app.py\n  1-3  class Flask  class Flask:\n    2-3  method url_for  def url_for(self, endpoint):\n  6-8  function make_app  def make_app():\n');
    const dir = JSON.parse(codecarto(['outline', '--json'], { home, cwd: repo }).stdout);
    expect(dir.type).toBe('directory');
    expect(dir.files.map((f: { path: string; symbols: { name: string }[] }) => [f.path, f.symbols.map((s) => s.name)])).toEqual([
      ['src/app.py', ['Flask', 'make_app']],
      ['src/lib.rs', ['Builder', 'Builder.build', 'main']],
    ]);
    const missing = codecarto(['outline', 'nope.py'], { home, cwd: repo });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/neither an indexed file nor a directory/);
  });
});
