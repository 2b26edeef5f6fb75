/**
 * find_symbol's ranking of definitions that share a name, through a real MCP client on code the indexer
 * parses (Rust, Python, TypeScript): with `near` (a file the agent reads) that file's definitions, then its
 * directory's, then those of files it imports come first; without it, members of types used in more files
 * come first. `near` is untrusted: a path leaving the project is refused, one not indexed is ignored with a note.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess, type InProcessSession } from './helpers/in-process.js';
import { tempDir } from './helpers/stdio-client.js';

/** A crate with its own `Builder::new` and a config type only it defines. */
function crateBuilder(config: string): string {
  return `pub struct Builder {
    size: usize,
}

#[derive(Default)]
pub struct ${config} {
    pub depth: usize,
}

impl Builder {
    pub fn new() -> Self {
        Builder { size: 0 }
    }
}
`;
}

const FILES: Record<string, string> = {
  'crates/alpha/src/builder.rs': crateBuilder('AlphaConfig'),
  'crates/beta/src/builder.rs': crateBuilder('BetaConfig'),
  'crates/gamma/src/builder.rs': crateBuilder('GammaConfig'),
  'crates/gamma/src/notes.rs': 'pub fn describe() -> &\'static str {\n    "gamma"\n}\n',
  'crates/app/src/main.rs': `use beta::builder::{BetaConfig, Builder};

fn main() {
    let config = BetaConfig::default();
    let builder = Builder::new();
    println!("{}", config.depth);
    drop(builder);
}
`,
  // Two `open`s: Searcher is used in four files, Walker in its own only.
  'crates/aaa/src/walk.rs': 'pub struct Walker;\n\nimpl Walker {\n    pub fn open() -> Walker {\n        Walker\n    }\n}\n',
  'crates/zzz/src/search.rs': 'pub struct Searcher;\n\nimpl Searcher {\n    pub fn open() -> Searcher {\n        Searcher\n    }\n}\n',
  ...Object.fromEntries(
    [1, 2, 3].map((i) => [`crates/zzz/src/use${i}.rs`, `use crate::search::Searcher;\n\npub fn run${i}() {\n    let _s = Searcher::open();\n}\n`]),
  ),
  'pkg/a/models.py': 'def validate(value):\n    return value is not None\n\n\nclass Model:\n    pass\n',
  'pkg/b/forms.py': 'def validate(value):\n    return bool(value)\n\n\nclass Form:\n    pass\n',
  'tests/test_forms.py': 'from pkg.b.forms import Form, validate\n\n\ndef test_validate():\n    assert validate(Form())\n',
  'packages/runtime/src/h.ts': 'export function h(tag: string): string {\n  return tag;\n}\n',
  'packages/server/src/helpers.ts':
    'export function h(tag: string): string {\n  return `<${tag}>`;\n}\n\nexport function renderVNode(tag: string): string {\n  return h(tag);\n}\n',
  'packages/app/main.ts': "import { h, renderVNode } from '../server/src/helpers';\n\nexport const page = renderVNode(h('div'));\n",
};

describe('find_symbol near a file, and definitions sharing a name', () => {
  let session: InProcessSession;
  let repo: string;

  const paths = async (args: Record<string, unknown>) => {
    const result = await session.call('find_symbol', args);
    expect(result.isError ?? false, result.content[0].text).toBe(false);
    return (result.structuredContent.results as { path: string; symbol: string }[]).map((r) => `${r.path} ${r.symbol}`);
  };

  beforeAll(async () => {
    repo = join(tempDir('symbols-near-repo'), 'repo');
    for (const [path, text] of Object.entries(FILES)) {
      mkdirSync(join(repo, path, '..'), { recursive: true });
      writeFileSync(join(repo, path), text);
    }
    session = await connectInProcess({ home: tempDir('symbols-near-home') });
    expect((await session.call('set_project', { path: repo, provider: 'none' })).isError ?? false).toBe(false);
    expect((await session.call('index', { wait_seconds: 120 })).structuredContent.state).toBe('done');
  });

  afterAll(async () => {
    await session?.close();
  });

  it('ranks first the definition in a file that the near file imports (Rust, Python, TypeScript)', async () => {
    // Without near, path order: alpha's, pkg/a's and runtime's come first.
    expect((await paths({ name: 'new' }))[0]).toBe('crates/alpha/src/builder.rs Builder.new');
    expect((await paths({ name: 'new', near: 'crates/app/src/main.rs' }))[0]).toBe('crates/beta/src/builder.rs Builder.new');
    expect((await paths({ name: 'Builder::new', near: 'crates/app/src/main.rs' }))[0]).toBe('crates/beta/src/builder.rs Builder.new');

    expect((await paths({ name: 'validate' }))[0]).toBe('pkg/a/models.py validate');
    expect((await paths({ name: 'validate', near: 'tests/test_forms.py' }))[0]).toBe('pkg/b/forms.py validate');

    expect((await paths({ name: 'h' }))[0]).toBe('packages/runtime/src/h.ts h');
    expect((await paths({ name: 'h', near: './packages/app/main.ts' }))[0]).toBe('packages/server/src/helpers.ts h');
    // An absolute path inside the project is the same file.
    expect((await paths({ name: 'h', near: join(repo, 'packages/app/main.ts') }))[0]).toBe('packages/server/src/helpers.ts h');
  });

  it("ranks the near file's own definition first, then its directory's", async () => {
    expect((await paths({ name: 'new', near: 'crates/gamma/src/builder.rs' }))[0]).toBe('crates/gamma/src/builder.rs Builder.new');
    expect((await paths({ name: 'new', near: 'crates/gamma/src/notes.rs' }))[0]).toBe('crates/gamma/src/builder.rs Builder.new');
  });

  it('without near, ranks members of types used in more files first', async () => {
    expect(await paths({ name: 'open' })).toEqual(['crates/zzz/src/search.rs Searcher.open', 'crates/aaa/src/walk.rs Walker.open']);
  });

  it('refuses a near path that leaves the project and ignores, with a note, one that is not indexed', async () => {
    const outside = await session.call('find_symbol', { name: 'new', near: '../../etc/passwd' });
    expect(outside.isError).toBe(true);
    expect(outside.content[0].text).toMatch(/leaves the project/);
    const absolute = await session.call('find_symbol', { name: 'new', near: '/etc/passwd' });
    expect(absolute.isError).toBe(true);
    expect(absolute.content[0].text).toMatch(/outside the project/);
    const empty = await session.call('find_symbol', { name: 'new', near: '  ' });
    expect(empty.isError).toBe(true);
    expect(empty.content[0].text).toMatch(/near is empty/);
    const missing = await session.call('find_symbol', { name: 'new', near: 'crates/nowhere.rs' });
    expect(missing.isError ?? false).toBe(false);
    expect(missing.structuredContent.note).toMatch(/near "crates\/nowhere.rs" is not an indexed file/);
    expect(missing.structuredContent.results[0].path).toBe('crates/alpha/src/builder.rs');
  });
});
