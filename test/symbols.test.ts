/**
 * find_symbol, references and outline through a real MCP client, on code in five language families
 * (Python, Rust, TypeScript, Go, C) parsed by the indexer's own tree-sitter grammars: definitions by bare,
 * qualified (`Flask.url_for`, `Builder::build`), prefix and misspelt names; uses classified as calls,
 * imports and other uses, comments and strings left out, the definition marked; outlines of a file and a
 * directory; search hits that name the qualified symbol find_symbol takes; and a rename and a delete
 * followed by a re-index, an index made before the symbol table, answers during a run and before set_project.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateTokens } from '../indexer/search/token-estimate.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { FileSymbols } from '../indexer/chunk/file-symbols.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { connectInProcess, pollUntil, type InProcessSession, type ToolResult } from './helpers/in-process.js';
import { tempDir } from './helpers/stdio-client.js';

const FILES: Record<string, string> = {
  'app.py': `"""A small web framework."""
import os

MAX_CONTENT_LENGTH = 1024


def url_for(endpoint, **values):
    """Module-level url_for: builds a URL for the endpoint."""
    return current_app().url_for(endpoint, **values)


class Flask:
    """The application."""

    default_config = {"DEBUG": False}

    def __init__(self, name):
        self.name = name

    def url_for(self, endpoint, **values):
        # url_for is resolved against the URL map here
        return "/" + endpoint

    @property
    def debug(self):
        return self.default_config["DEBUG"]


def current_app():
    return Flask(os.environ.get("APP", "demo"))
`,
  'views.py': `from app import url_for, Flask


def index():
    # a comment that mentions url_for does not count
    label = "url_for in a string does not count either"
    return url_for("index")


def redirect_home(app: Flask):
    target = app.url_for("home")
    return target, label_of(url_for)


def label_of(fn):
    return fn.__name__
`,
  'src/builder.rs': `use std::fmt;

/// Largest number of parts a builder takes.
pub const MAX_PARTS: usize = 8;

pub trait Build {
    fn build(&self) -> String;
}

#[derive(Debug, Default)]
pub struct Builder {
    parts: Vec<String>,
}

pub enum Shape {
    Round,
    Square,
}

impl Builder {
    pub fn new() -> Self {
        Builder { parts: Vec::new() }
    }

    pub fn part(mut self, part: &str) -> Self {
        self.parts.push(part.to_string());
        self
    }
}

impl Build for Builder {
    fn build(&self) -> String {
        self.parts.join(",")
    }
}

impl fmt::Display for Builder {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.build())
    }
}
`,
  'src/main.rs': `mod builder;

use crate::builder::{Build, Builder};

fn main() {
    let built = Builder::new().part("a").part("b");
    // Builder::new in a comment is no call
    println!("{}", built.build());
}
`,
  'web/effect.ts': `export interface Subscriber {
  notify(): void;
}

export type EffectScheduler = (...args: any[]) => any;

export enum EffectFlags {
  ACTIVE = 1,
  RUNNING = 2,
}

export const DEFAULT_DEPTH = 3;

export class ReactiveEffect<T = any> implements Subscriber {
  flags: EffectFlags = EffectFlags.ACTIVE;

  constructor(public fn: () => T) {}

  run(): T {
    this.flags |= EffectFlags.RUNNING;
    return this.fn();
  }

  notify(): void {
    this.run();
  }
}

export function effect<T>(fn: () => T): ReactiveEffect<T> {
  const e = new ReactiveEffect(fn);
  e.run();
  return e;
}
`,
  'web/watch.ts': `import { ReactiveEffect, effect } from './effect';

export function watch(source: () => number): ReactiveEffect<number> {
  const runner = new ReactiveEffect(source);
  runner.run();
  effect(() => source());
  return runner;
}
`,
  'web/handlers.ts': `import * as constants from './effect';

export const mutableHandlers = {
  get(target: object, key: string) {
    return Reflect.get(target, key);
  },
};

export function depthOf() {
  const { DEFAULT_DEPTH } = constants;
  return DEFAULT_DEPTH;
}
`,
  'server/server.go': `package server

import "fmt"

const (
	StateIdle = iota
	StateRunning
)

// Handler answers requests.
type Handler interface {
	Serve(path string) string
}

// Server serves requests.
type Server struct {
	Addr  string
	state int
}

// NewServer makes a server that listens on addr.
func NewServer(addr string) *Server {
	return &Server{Addr: addr, state: StateIdle}
}

// Start starts the server.
func (s *Server) Start() error {
	s.state = StateRunning
	fmt.Println("listening on", s.Addr)
	return nil
}
`,
  'server/main.go': `package server

func Run() error {
	srv := NewServer(":8080")
	return srv.Start()
}
`,
  'lib/util.c': `#include <stdio.h>

#define MAX_ITEMS 16

struct item {
    int n;
};

static int helper(int x) {
    return x * 2;
}

int compute(struct item *it) {
    /* helper doubles */
    return helper(it->n) + MAX_ITEMS;
}
`,
};

/** `n` statements: long enough that each method is a chunk of its own (members under 1/8 of the budget merge). */
function statements(n: number, indent: string, line: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => indent + line(i)).join('\n');
}

/** Classes whose methods are chunked one by one, so search hits name the methods. */
const BIG_FILES: Record<string, string> = {
  'big/engine.rs': `pub struct Engine {
    speed: u32,
}

impl Engine {
    pub fn ignite(&mut self) -> u32 {
${statements(14, '        ', (i) => `self.speed = self.speed.wrapping_add(${i}); // ignite the cylinder number ${i} with a spark`)}
        self.speed
    }

    pub fn cool_down(&mut self) -> u32 {
${statements(14, '        ', (i) => `self.speed = self.speed.saturating_sub(${i}); // cool the radiator segment ${i} with water`)}
        self.speed
    }
}
`,
  'big/store.ts': `export class TodoStore {
  private items: string[] = [];

  addTodoItem(text: string): number {
${statements(14, '    ', (i) => `this.items.push(text + ' appended todo entry number ${i} to the list');`)}
    return this.items.length;
  }

  clearFinishedItems(): number {
${statements(14, '    ', (i) => `this.items = this.items.filter((item) => !item.endsWith('finished marker ${i}'));`)}
    return this.items.length;
  }
}
`,
  'big/pool.go': `package big

type Pool struct {
	workers []int
}

func (p *Pool) Grow(n int) int {
${statements(14, '\t', (i) => `p.workers = append(p.workers, n+${i}) // grow the worker pool by adding worker ${i}`)}
	return len(p.workers)
}

func (p *Pool) Shrink(n int) int {
${statements(14, '\t', (i) => `p.workers = p.workers[:len(p.workers)-1] // shrink the worker pool removing worker ${i}`)}
	return len(p.workers)
}
`,
};

function writeRepo(files: Record<string, string>): string {
  const repo = join(tempDir('symbols-repo'), 'repo');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(repo, path, '..'), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  return repo;
}

/** Line number (1-based) of the first line of `text` that contains `needle`. */
function lineOf(path: string, needle: string, text = FILES[path]): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`${needle} is not in ${path}`);
  return index + 1;
}

/** What Claude Code shows the model: the structuredContent JSON. */
function answerTokens(result: ToolResult): number {
  return estimateTokens(JSON.stringify(result.structuredContent));
}

describe('symbols through the MCP tools', () => {
  let session: InProcessSession;
  let repo: string;

  beforeAll(async () => {
    repo = writeRepo({ ...FILES, ...BIG_FILES });
    session = await connectInProcess({ home: tempDir('symbols-home') });
    expect((await session.call('set_project', { path: repo, provider: 'none' })).isError ?? false).toBe(false);
    const indexed = await session.call('index', { wait_seconds: 120 });
    expect(indexed.structuredContent.state).toBe('done');
  });

  afterAll(async () => {
    await session?.close();
  });

  it('find_symbol by bare name lists every definition, exact first, with kind, location and signature', async () => {
    const result = await session.call('find_symbol', { name: 'url_for' });
    expect(result.isError ?? false).toBe(false);
    const hits = result.structuredContent.results;
    expect(hits.slice(0, 2).map((h: any) => [h.symbol, h.kind, h.path, h.start_line, h.match])).toEqual([
      ['url_for', 'function', 'app.py', lineOf('app.py', 'def url_for(endpoint'), 'exact'],
      ['Flask.url_for', 'method', 'app.py', lineOf('app.py', 'def url_for(self'), 'exact'],
    ]);
    expect(hits[1].signature).toBe('def url_for(self, endpoint, **values):');
    expect(hits[1].end_line).toBe(lineOf('app.py', 'return "/" + endpoint'));
    expect(result.content[0].text).toContain(`app.py:${hits[1].start_line}-${hits[1].end_line}  Flask.url_for  (method)`);
    expect(answerTokens(result)).toBeLessThan(1_200);
  });

  it('find_symbol by qualified name, in any language\'s notation, finds that member first', async () => {
    const cases: [string, string, string, string][] = [
      ['Flask.url_for', 'Flask.url_for', 'method', 'app.py'],
      ['Builder::build', 'Builder.build', 'method', 'src/builder.rs'],
      ['ReactiveEffect.run', 'ReactiveEffect.run', 'method', 'web/effect.ts'],
      ['Server.Start', 'Server.Start', 'method', 'server/server.go'],
      ['Builder::new()', 'Builder.new', 'method', 'src/builder.rs'],
    ];
    for (const [name, symbol, kind, path] of cases) {
      const hit = (await session.call('find_symbol', { name })).structuredContent.results[0];
      expect([hit.symbol, hit.kind, hit.path, hit.match], name).toEqual([symbol, kind, path, 'qualified']);
    }
    // `impl Build for Builder` and `impl Display for Builder` qualify their methods by the type.
    const fmt = (await session.call('find_symbol', { name: 'fmt', kind: 'method' })).structuredContent.results;
    expect(fmt.map((h: any) => h.symbol)).toEqual(['Builder.fmt']);
  });

  it('find_symbol knows each kind of definition in each language', async () => {
    const cases: [string, string, string, string][] = [
      ['Flask', 'class', 'Flask', 'app.py'],
      ['MAX_CONTENT_LENGTH', 'constant', 'MAX_CONTENT_LENGTH', 'app.py'],
      ['Build', 'trait', 'Build', 'src/builder.rs'],
      ['Builder', 'struct', 'Builder', 'src/builder.rs'],
      ['Shape', 'enum', 'Shape', 'src/builder.rs'],
      ['MAX_PARTS', 'constant', 'MAX_PARTS', 'src/builder.rs'],
      ['builder', 'module', 'builder', 'src/main.rs'],
      ['Subscriber', 'interface', 'Subscriber', 'web/effect.ts'],
      ['EffectScheduler', 'type', 'EffectScheduler', 'web/effect.ts'],
      ['EffectFlags', 'enum', 'EffectFlags', 'web/effect.ts'],
      ['DEFAULT_DEPTH', 'constant', 'DEFAULT_DEPTH', 'web/effect.ts'],
      ['effect', 'function', 'effect', 'web/effect.ts'],
      ['Handler', 'interface', 'Handler', 'server/server.go'],
      ['Server', 'struct', 'Server', 'server/server.go'],
      ['StateRunning', 'constant', 'StateRunning', 'server/server.go'],
      ['NewServer', 'function', 'NewServer', 'server/server.go'],
      ['MAX_ITEMS', 'constant', 'MAX_ITEMS', 'lib/util.c'],
      ['item', 'struct', 'item', 'lib/util.c'],
      ['compute', 'function', 'compute', 'lib/util.c'],
    ];
    for (const [name, kind, symbol, path] of cases) {
      const result = await session.call('find_symbol', { name, kind });
      const hit = result.structuredContent.results[0];
      expect(hit && [hit.symbol, hit.kind, hit.path], `${name} (${kind})`).toEqual([symbol, kind, path]);
    }
    const signature = (await session.call('find_symbol', { name: 'NewServer' })).structuredContent.results[0].signature;
    expect(signature).toBe('func NewServer(addr string) *Server');
    const rust = (await session.call('find_symbol', { name: 'part' })).structuredContent.results[0].signature;
    expect(rust).toBe('pub fn part(mut self, part: &str) -> Self');
  });

  it('find_symbol falls back to prefixes and close spellings, says so, and filters by path_glob', async () => {
    const prefix = (await session.call('find_symbol', { name: 'NewSer' })).structuredContent.results;
    expect(prefix[0]).toMatchObject({ symbol: 'NewServer', match: 'prefix' });
    const fuzzy = await session.call('find_symbol', { name: 'urlfor' });
    expect(fuzzy.structuredContent.results[0]).toMatchObject({ symbol: 'url_for', match: 'fuzzy' });
    expect(fuzzy.structuredContent.note).toMatch(/No definition is named "urlfor"/);
    const inherited = await session.call('find_symbol', { name: 'App.url_for' });
    expect(inherited.structuredContent.results.map((h: any) => h.symbol)).toEqual(['url_for', 'Flask.url_for']);
    expect(inherited.structuredContent.note).toMatch(/No definition is qualified "App.url_for"/);
    const filtered = (await session.call('find_symbol', { name: 'url_for', path_glob: 'views.py' })).structuredContent;
    expect(filtered.results).toEqual([]);
    expect((await session.call('find_symbol', { name: 'zzqqxx' })).content[0].text).toMatch(/No definition of "zzqqxx" found/);
  });

  it('methods of an object literal are definitions, as the chunker sees them; a destructured name is a use', async () => {
    const get = (await session.call('find_symbol', { name: 'get', kind: 'method' })).structuredContent.results;
    expect(get.map((h: any) => [h.symbol, h.path, h.start_line])).toEqual([['get', 'web/handlers.ts', 4]]);
    const outline = (await session.call('outline', { path: 'web/handlers.ts' })).structuredContent.files[0].symbols;
    expect(outline.map((s: any) => `${s.depth} ${s.kind} ${s.name}`)).toEqual(['0 constant mutableHandlers', '1 method get', '0 function depthOf']);
    const depth = (await session.call('references', { name: 'DEFAULT_DEPTH', path_glob: 'web/handlers.ts' })).structuredContent.files[0].refs;
    expect(depth.map((r: any) => `${r.line} ${r.kind} ${r.in}`)).toEqual(['10 use depthOf', '11 use depthOf']);
  });

  it('find_symbol include_body returns the definition\'s code', async () => {
    const hit = (await session.call('find_symbol', { name: 'Builder::build', include_body: true })).structuredContent.results[0];
    expect(hit.body).toBe('    fn build(&self) -> String {\n        self.parts.join(",")\n    }');
    const plain = (await session.call('find_symbol', { name: 'Builder::build' })).structuredContent.results[0];
    expect(plain.body).toBeUndefined();
  });

  it('references: calls, imports and other uses with their enclosing function; comments and strings left out; the definition marked', async () => {
    const result = await session.call('references', { name: 'url_for' });
    const answer = result.structuredContent;
    const byPath = Object.fromEntries(answer.files.map((f: any) => [f.path, f]));
    expect(byPath['views.py'].refs).toEqual([
      { line: 1, kind: 'import', in: null, code: 'from app import url_for, Flask' },
      { line: lineOf('views.py', 'return url_for("index")'), kind: 'call', in: 'index', code: 'return url_for("index")' },
      { line: lineOf('views.py', 'app.url_for("home")'), kind: 'call', in: 'redirect_home', code: 'target = app.url_for("home")' },
      { line: lineOf('views.py', 'label_of(url_for)'), kind: 'use', in: 'redirect_home', code: 'return target, label_of(url_for)' },
    ]);
    expect(byPath['views.py'].uses).toBe(4);
    // app.py: two definitions (marked, not uses) and the call inside the module-level url_for; the comment is not there.
    expect(byPath['app.py'].refs).toEqual([
      { line: lineOf('app.py', 'def url_for(endpoint'), kind: 'definition', in: null, code: 'def url_for(endpoint, **values):' },
      { line: lineOf('app.py', 'current_app().url_for'), kind: 'call', in: 'url_for', code: 'return current_app().url_for(endpoint, **values)' },
      { line: lineOf('app.py', 'def url_for(self'), kind: 'definition', in: 'Flask', code: 'def url_for(self, endpoint, **values):' },
    ]);
    expect(byPath['app.py'].uses).toBe(1);
    expect([answer.calls, answer.imports, answer.other_uses, answer.definitions]).toEqual([3, 1, 1, 2]);
    expect(result.content[0].text).toContain('"url_for": 5 uses (3 calls, 1 imports, 1 other) in 2 files; 2 definitions (marked def).');
    expect(result.content[0].text).toContain(`  ${String(lineOf('views.py', 'return url_for("index")')).padEnd(5)} call   in index: return url_for("index")`);
  });

  it('references in Rust, TypeScript, Go and C', async () => {
    const refs = async (name: string) => {
      const answer = (await session.call('references', { name })).structuredContent;
      return answer.files.flatMap((f: any) => f.refs.map((r: any) => `${f.path}:${r.line} ${r.kind} ${r.in}`));
    };
    // A qualified name is looked up by its last part, and the answer says so.
    const newRefs = await session.call('references', { name: 'Builder::new' });
    expect(newRefs.structuredContent.note).toMatch(/Matched by the name "new"/);
    expect(await refs('Builder')).toEqual([
      `src/builder.rs:${lineOf('src/builder.rs', 'pub struct Builder')} definition null`,
      `src/builder.rs:${lineOf('src/builder.rs', 'impl Builder {')} use null`,
      `src/builder.rs:${lineOf('src/builder.rs', 'Builder { parts: Vec::new() }')} use Builder.new`,
      `src/builder.rs:${lineOf('src/builder.rs', 'impl Build for Builder')} use null`,
      `src/builder.rs:${lineOf('src/builder.rs', 'impl fmt::Display for Builder')} use null`,
      `src/main.rs:${lineOf('src/main.rs', 'use crate::builder')} import null`,
      `src/main.rs:${lineOf('src/main.rs', 'Builder::new().part')} use main`,
    ]);
    expect(await refs('new')).toEqual([
      // A method of an impl block hangs on no symbol (the impl is none): its definition is at the top.
      `src/builder.rs:${lineOf('src/builder.rs', 'pub fn new()')} definition null`,
      `src/builder.rs:${lineOf('src/builder.rs', 'Vec::new()')} call Builder.new`,
      `src/main.rs:${lineOf('src/main.rs', 'Builder::new().part')} call main`,
    ]);
    expect(await refs('ReactiveEffect')).toEqual([
      `web/effect.ts:${lineOf('web/effect.ts', 'export class ReactiveEffect')} definition null`,
      `web/effect.ts:${lineOf('web/effect.ts', 'export function effect')} use effect`,
      `web/effect.ts:${lineOf('web/effect.ts', 'new ReactiveEffect(fn)')} call effect`,
      `web/watch.ts:1 import null`,
      `web/watch.ts:${lineOf('web/watch.ts', 'export function watch')} use watch`,
      `web/watch.ts:${lineOf('web/watch.ts', 'new ReactiveEffect(source)')} call watch`,
    ]);
    expect(await refs('run')).toEqual([
      `web/effect.ts:${lineOf('web/effect.ts', 'run(): T {')} definition ReactiveEffect`,
      `web/effect.ts:${lineOf('web/effect.ts', 'this.run();')} call ReactiveEffect.notify`,
      `web/effect.ts:${lineOf('web/effect.ts', 'e.run();')} call effect`,
      `web/watch.ts:${lineOf('web/watch.ts', 'runner.run();')} call watch`,
    ]);
    expect(await refs('NewServer')).toEqual([
      `server/main.go:${lineOf('server/main.go', 'NewServer(":8080")')} call Run`,
      `server/server.go:${lineOf('server/server.go', 'func NewServer')} definition null`,
    ]);
    expect(await refs('Start')).toEqual([
      `server/main.go:${lineOf('server/main.go', 'srv.Start()')} call Run`,
      `server/server.go:${lineOf('server/server.go', 'func (s *Server) Start')} definition null`,
    ]);
    expect(await refs('helper')).toEqual([
      `lib/util.c:${lineOf('lib/util.c', 'static int helper')} definition null`,
      `lib/util.c:${lineOf('lib/util.c', 'return helper(it->n)')} call compute`,
    ]);
    const scoped = (await session.call('references', { name: 'url_for', path_glob: 'views.py' })).structuredContent;
    expect(scoped.files.map((f: any) => f.path)).toEqual(['views.py']);
  });

  it('outline: a file as a tree with line ranges, a directory as its files\' top-level symbols', async () => {
    const file = (await session.call('outline', { path: 'app.py' })).structuredContent;
    expect(file.type).toBe('file');
    expect(file.files[0].symbols.map((s: any) => `${'  '.repeat(s.depth)}${s.kind} ${s.name} ${s.start_line}-${s.end_line}`)).toEqual([
      `constant MAX_CONTENT_LENGTH ${lineOf('app.py', 'MAX_CONTENT_LENGTH =')}-${lineOf('app.py', 'MAX_CONTENT_LENGTH =')}`,
      `function url_for ${lineOf('app.py', 'def url_for(endpoint')}-${lineOf('app.py', 'current_app().url_for')}`,
      `class Flask ${lineOf('app.py', 'class Flask')}-${lineOf('app.py', 'return self.default_config')}`,
      `  method __init__ ${lineOf('app.py', 'def __init__')}-${lineOf('app.py', 'self.name = name')}`,
      `  method url_for ${lineOf('app.py', 'def url_for(self')}-${lineOf('app.py', 'return "/" + endpoint')}`,
      `  method debug ${lineOf('app.py', '@property')}-${lineOf('app.py', 'return self.default_config')}`,
      `function current_app ${lineOf('app.py', 'def current_app')}-${lineOf('app.py', 'return Flask(os.environ')}`,
    ]);
    // A trait's methods are its members; an impl's methods are top-level symbols named with their type.
    const rustFile = await session.call('outline', { path: './src/builder.rs' });
    expect(rustFile.structuredContent.files[0].symbols.map((s: any) => `${s.depth} ${s.name}`)).toEqual([
      '0 MAX_PARTS', '0 Build', '1 build', '0 Builder', '0 Shape', '0 Builder.new', '0 Builder.part', '0 Builder.build', '0 Builder.fmt',
    ]);
    expect(rustFile.content[0].text).toContain(`\n    ${lineOf('src/builder.rs', 'fn build(&self) -> String;')}-${lineOf('src/builder.rs', 'fn build(&self) -> String;')}  method build  fn build(&self) -> String;`);

    const dir = (await session.call('outline', { path: 'server' })).structuredContent;
    expect(dir.type).toBe('directory');
    expect(dir.files_total).toBe(2);
    expect(dir.files.map((f: any) => [f.path, f.symbols.map((s: any) => s.name)])).toEqual([
      ['server/main.go', ['Run']],
      ['server/server.go', ['StateIdle', 'StateRunning', 'Handler', 'Server', 'NewServer', 'Server.Start']],
    ]);
    const absolute = (await session.call('outline', { path: join(repo, 'lib') })).structuredContent;
    expect(absolute.files[0].path).toBe('lib/util.c');

    const missing = await session.call('outline', { path: 'nowhere/x.py' });
    expect(missing.isError).toBe(true);
    expect(missing.content[0].text).toMatch(/neither an indexed file nor a directory/);
    const outside = await session.call('outline', { path: '../other' });
    expect(outside.isError).toBe(true);
    expect(outside.content[0].text).toMatch(/leaves the project/);
  });

  it('search hits name the qualified symbol, which find_symbol and references take as it is', async () => {
    const symbols = new Map<string, any>();
    const queries = ['ignite the cylinder spark', 'cool the radiator', 'appended todo entry', 'finished marker', 'grow the worker pool', 'shrink the worker pool', 'url for endpoint', 'join the parts', 'start the server listening'];
    for (const query of queries) {
      const search = await session.call('search', { query, k: 10 });
      expect(search.isError ?? false, search.content[0].text).toBe(false);
      for (const hit of search.structuredContent.results) if (hit.symbol) symbols.set(hit.symbol, hit);
    }
    // Methods are named with their class, struct or receiver type, as in the symbol table.
    expect([...symbols.keys()]).toEqual(expect.arrayContaining(['Engine.ignite', 'Engine.cool_down', 'TodoStore.addTodoItem', 'TodoStore.clearFinishedItems', 'Pool.Grow', 'Pool.Shrink', 'url_for']));
    for (const [symbol, hit] of symbols) {
      const found = (await session.call('find_symbol', { name: symbol })).structuredContent.results;
      const same = found.find((d: any) => d.symbol === symbol && d.path === hit.path);
      expect(same, `${symbol} in ${hit.path}: ${JSON.stringify(found.map((d: any) => d.symbol))}`).toBeDefined();
      // The definition is where the hit is (a first member's hit starts at its bare `impl Engine {` header;
      // an impl block's own hit names the type, defined beside it).
      if (hit.kind !== 'impl') expect(same.start_line <= hit.end_line && hit.start_line <= same.end_line, symbol).toBe(true);
    }
    // Both calls of build() sit in macro arguments (println!, write!), which tree-sitter does not parse as calls: uses.
    const build = (await session.call('references', { name: 'Builder.build' })).structuredContent;
    expect([build.calls, build.other_uses, build.definitions]).toEqual([0, 2, 2]);
    expect((await session.call('references', { name: 'ReactiveEffect.run' })).structuredContent.calls).toBe(3);
  });

  it('a rename and a delete, then a re-index: the symbols move and go with their files', async () => {
    renameSync(join(repo, 'app.py'), join(repo, 'application.py'));
    rmSync(join(repo, 'web', 'watch.ts'));
    const indexed = await session.call('index', { wait_seconds: 120 });
    expect(indexed.structuredContent).toMatchObject({ state: 'done', files_added: 1, files_removed: 2 });

    const moved = (await session.call('find_symbol', { name: 'Flask.url_for' })).structuredContent.results;
    expect(moved.map((h: any) => [h.symbol, h.path])).toEqual([['Flask.url_for', 'application.py']]);
    const refs = (await session.call('references', { name: 'ReactiveEffect' })).structuredContent;
    expect(refs.files.map((f: any) => f.path)).toEqual(['web/effect.ts']);
    expect((await session.call('references', { name: 'url_for' })).structuredContent.files.map((f: any) => f.path)).toEqual(['application.py', 'views.py']);
    expect((await session.call('find_symbol', { name: 'watch' })).structuredContent.results).toEqual([]);
    expect((await session.call('outline', { path: 'app.py' })).isError).toBe(true);
    expect((await session.call('outline', { path: 'application.py' })).structuredContent.files[0].symbols).toHaveLength(7);

    // An edit inside a file: its symbols follow the new text.
    writeFileSync(join(repo, 'server', 'main.go'), 'package server\n\nfunc Run() error {\n\treturn nil\n}\n\nfunc Stop() {}\n');
    await session.call('index', { wait_seconds: 120 });
    expect((await session.call('references', { name: 'NewServer' })).structuredContent.files.map((f: any) => f.path)).toEqual(['server/server.go']);
    expect((await session.call('find_symbol', { name: 'Stop' })).structuredContent.results[0]).toMatchObject({ path: 'server/main.go', start_line: 7 });
  });
});

describe('symbols before and during indexing, and in an index made before them', () => {
  it('before set_project the tools say what to call', async () => {
    const session = await connectInProcess({ home: tempDir('symbols-none') });
    try {
      for (const [tool, args] of [['find_symbol', { name: 'x' }], ['references', { name: 'x' }], ['outline', { path: '.' }]] as const) {
        const result = await session.call(tool, args);
        expect(result.isError, tool).toBe(true);
        expect(result.content[0].text, tool).toMatch(/No project is set: call `set_project` with the path of the repository first/);
      }
    } finally {
      await session.close();
    }
  });

  it('while an index run stores files, answers cover what is stored and say so', async () => {
    const gpu = await FakeEmbeddingServer.start({ stallMs: 150, dims: 64 });
    const files: Record<string, string> = {};
    for (let i = 0; i < 120; i++) files[`src/module${i}.py`] = `def handler_${i}(request):\n    return request.get("x-${i}")\n`;
    const repo = writeRepo(files);
    const session = await connectInProcess({ home: tempDir('symbols-during') });
    try {
      await session.call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: gpu.endpoint, batch_size: 4 });
      const notYet = await session.call('find_symbol', { name: 'handler_1' });
      expect(notYet.structuredContent.note).toMatch(/Not indexed yet: call `index` first/);
      const first = await session.call('index', { wait_seconds: 0.5 });
      expect(first.structuredContent.state).toBe('running');
      const during = await session.call('find_symbol', { name: 'handler_1' });
      expect(during.isError ?? false, during.content[0].text).toBe(false);
      expect(during.structuredContent.partial).toBe(true);
      expect(during.structuredContent.note).toMatch(/Indexing is still running: this answer covers the files indexed so far/);
      const outline = await session.call('outline', { path: 'src' });
      expect(outline.isError ?? false, outline.content[0].text).toBe(false);
      expect(outline.structuredContent.partial).toBe(true);
      expect((await session.call('index', { wait_seconds: 120 })).structuredContent.state).toBe('done');
      const after = await session.call('references', { name: 'handler_119' });
      expect(after.structuredContent.partial).toBe(false);
      expect(after.structuredContent.note).toBeUndefined();
      expect(after.structuredContent.definitions).toBe(1);
    } finally {
      await session.close();
      await gpu.close();
    }
  });

  it('an index made before the symbol table is filled by the next run, re-embedding nothing', async () => {
    const gpu = await FakeEmbeddingServer.start({ dims: 64 });
    const repo = writeRepo({ 'app.py': FILES['app.py'], 'views.py': FILES['views.py'] });
    const session = await connectInProcess({ home: tempDir('symbols-upgrade') });
    try {
      const state = (await session.call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: gpu.endpoint })).structuredContent;
      expect((await session.call('index', { wait_seconds: 120 })).structuredContent.state).toBe('done');
      const embedded = gpu.requests.length;
      // What an index written by the previous version looks like: no symbol rows, no record of the symbol table.
      const db = new Database(join(state.data_dir, 'index.db'));
      db.exec("DELETE FROM symbols; DELETE FROM symbol_refs; DELETE FROM meta WHERE key = 'symbol_table'");
      db.close();
      const before = await session.call('find_symbol', { name: 'url_for' });
      expect(before.structuredContent.results).toEqual([]);
      expect(before.structuredContent.note).toMatch(/made before codecarto kept symbols.*call `index` to fill the symbol table/);

      const run = (await session.call('index', { wait_seconds: 120 })).structuredContent;
      expect(run).toMatchObject({ state: 'done', files_changed: 0, chunks_embedded: 0 });
      expect(gpu.requests.length).toBe(embedded);
      const after = await session.call('find_symbol', { name: 'url_for' });
      expect(after.structuredContent.results.map((h: any) => h.symbol)).toEqual(['url_for', 'Flask.url_for']);
      expect(after.structuredContent.note).toBeUndefined();
    } finally {
      await session.close();
      await gpu.close();
    }
  });
});

describe('answers stay small', () => {
  it('a name used everywhere, a directory of hundreds of definitions and long bodies stay within their budgets', async () => {
    const files: Record<string, string> = {};
    for (let f = 0; f < 30; f++) {
      const lines = [`from core import shared_helper_with_a_long_name`, ''];
      for (let d = 0; d < 15; d++) {
        lines.push(`def handler_${f}_${d}(request, ${'argument_with_a_long_name, '.repeat(6)}last):`);
        for (let u = 0; u < 3; u++) lines.push(`    value_${u} = shared_helper_with_a_long_name(request, "${'x'.repeat(150)}")`);
        lines.push('    return value_0', '', '');
      }
      files[`pkg/module_${f}.py`] = lines.join('\n');
    }
    files['core.py'] = `def shared_helper_with_a_long_name(request, text):\n${'    text = text.strip()\n'.repeat(400)}    return text\n`;
    const repo = writeRepo(files);
    const session = await connectInProcess({ home: tempDir('symbols-budget') });
    try {
      await session.call('set_project', { path: repo, provider: 'none' });
      expect((await session.call('index', { wait_seconds: 120 })).structuredContent.state).toBe('done');
      const refs = await session.call('references', { name: 'shared_helper_with_a_long_name' });
      expect(refs.structuredContent.calls).toBe(30 * 15 * 3);
      expect(refs.structuredContent.files.flatMap((f: any) => f.refs ?? [])).toHaveLength(60);
      expect(refs.structuredContent.note).toMatch(/60 of 1381 lines are shown; pass path_glob/);
      expect(answerTokens(refs)).toBeLessThan(8_000);
      const outline = await session.call('outline', { path: 'pkg' });
      expect(outline.structuredContent.symbols_omitted).toBeGreaterThan(0);
      expect(outline.structuredContent.note).toMatch(/more top-level symbols are not listed/);
      expect(answerTokens(outline)).toBeLessThan(7_000);
      const bodies = await session.call('find_symbol', { name: 'shared_helper_with_a_long_name', include_body: true });
      expect(bodies.structuredContent.results[0].body).toMatch(/… \(lines 151-402 not shown: read the file for the rest\)$/);
      expect(answerTokens(bodies)).toBeLessThan(20_000);
      const many = await session.call('find_symbol', { name: 'handler' });
      expect(many.structuredContent.results).toHaveLength(10);
      expect(many.structuredContent.total).toBe(200);
      // Ten definitions with signatures at their 200-character cap: about what a default search costs.
      expect(answerTokens(many)).toBeLessThan(2_000);
    } finally {
      await session.close();
    }
  });
});

describe('symbols stay with their chunks', () => {
  it('a file\'s symbols are written in its chunks\' transaction: when one fails, neither changes', () => {
    const store = openIndexStore(tempDir('symbols-tx'));
    try {
      const file = { path: 'a.py', size: 1, mtimeMs: 1, hash: 'h1', language: 'python' };
      const chunk = (text: string) => ({ language: 'python', symbol: 'f', kind: 'function', startLine: 1, endLine: 1, text, textHash: `hash-${text}`, embedText: `a.py: f\n${text}` });
      const symbols = (name: string): FileSymbols => ({
        defs: [{ name, qualified: name, kind: 'function', signature: `def ${name}():`, startLine: 1, endLine: 1, signatureEnd: 1, parent: null }],
        refs: [[name, '1d']],
      });
      store.upsertFile(file, [chunk('def f(): pass')], symbols('f'));
      const broken = symbols('g');
      (broken.defs[0] as { signature: unknown }).signature = null; // NOT NULL: the symbol insert fails mid-transaction
      expect(() => store.upsertFile({ ...file, hash: 'h2' }, [chunk('def g(): pass')], broken)).toThrow();
      expect(store.listFiles().get('a.py')?.hash).toBe('h1');
      expect(store.getChunks(store.lexicalSearch('f pass', 5).map((h) => h.chunkId)).map((c) => c.text)).toEqual(['def f(): pass']);
      expect(store.symbols.byName('f', 10).map((r) => r.qualified)).toEqual(['f']);
      expect(store.symbols.byName('g', 10)).toEqual([]);
      // Removing the file removes its symbols and occurrences with it.
      store.removeFiles(['a.py']);
      expect(store.symbols.byName('f', 10)).toEqual([]);
      expect(store.symbols.refs('f')).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('watching keeps the symbol table fresh without `index`', async () => {
    const repo = writeRepo({ 'lib/payments.py': 'def refund_payment(ledger):\n    return ledger\n' });
    const session = await connectInProcess({ home: tempDir('symbols-watch') }, { watchTimings: { quietMs: 200 } });
    try {
      await session.call('set_project', { path: repo, provider: 'none' });
      expect((await session.call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
      await pollUntil(() => session.call('status'), (s) => s.structuredContent.watching.state !== 'off');
      writeFileSync(join(repo, 'lib', 'payments.py'), 'def chargeback_window(days):\n    return days * 2\n\n\ndef refund_all():\n    return chargeback_window(3)\n');
      const found = await pollUntil(() => session.call('find_symbol', { name: 'chargeback_window' }), (r) => r.structuredContent.results[0]?.match === 'exact');
      expect(found.structuredContent.results[0]).toMatchObject({ symbol: 'chargeback_window', path: 'lib/payments.py', start_line: 1 });
      expect((await session.call('find_symbol', { name: 'refund_payment' })).structuredContent.results.every((r: any) => r.match !== 'exact')).toBe(true);
      const refs = (await session.call('references', { name: 'chargeback_window' })).structuredContent.files[0].refs;
      expect(refs.map((r: any) => `${r.line} ${r.kind} ${r.in}`)).toEqual(['1 definition null', '6 call refund_all']);
    } finally {
      await session.close();
    }
  });
});
