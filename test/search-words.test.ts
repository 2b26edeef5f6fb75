/**
 * Issue 18.1, ranking for questions in plain words: word forms meet (porter stemming in chunks_fts; an index
 * written before stemming is rebuilt on open), and source code comes before tests, docs and changelogs that
 * repeat a question's words unless the query asks for them. Asked through the MCP search tool of a real
 * server over an in-process client, on a real index. docs/quality.md ("Ranking for plain-word questions")
 * measures each step on the developer-question benchmark.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pathTokenText, tokenText } from '../indexer/store/fts-tokens.js';
import { chunkClass, pathClass } from '../indexer/search/path-class.js';
import { mentionsOnlyInComments } from '../indexer/search/prefer-answering-chunks.js';
import { askedClasses } from '../indexer/search/ranking-priors.js';
import { search } from '../indexer/search/search.js';
import { INDEX_DB_FILE, openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import type { ChunkInput, IndexStore } from '../indexer/store/store-types.js';
import { connectInProcess, type InProcessSession, type Structured } from './helpers/in-process.js';
import { tempDir } from './helpers/stdio-client.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const stores: IndexStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

function chunk(symbol: string, kind: string, startLine: number, text: string): ChunkInput {
  return { language: 'python', symbol, kind, startLine, endLine: startLine + text.split('\n').length - 1, text, textHash: sha(text), embedText: text };
}

const CONTEXT_PY = [
  chunk('AppContext', 'class', 1, 'class AppContext:\n    """Holds the app while a request is handled."""'),
  chunk('AppContext.push', 'method', 5, 'def push(self) -> None:\n    _cv_app.set(self)\n    self._tokens.append(self)'),
];

describe('word forms meet (porter stemming)', () => {
  it('"pushed" finds the push method in a store', () => {
    const store = openIndexStore(tempDir('words-store'));
    stores.push(store);
    store.upsertFile({ path: 'src/ctx.py', size: 1, mtimeMs: 1, hash: 'h', language: 'python' }, CONTEXT_PY);
    const found = store.getChunks(store.lexicalSearch('where is it pushed', 10).map((h) => h.chunkId));
    expect(found.map((row) => row.symbol)).toContain('AppContext.push');
  });

  it('an index whose FTS table was written without stemming is rebuilt on open, so stemmed queries find its rows', () => {
    const dir = tempDir('words-migrate');
    const store = openIndexStore(dir);
    store.upsertFile({ path: 'src/ctx.py', size: 1, mtimeMs: 1, hash: 'h', language: 'python' }, CONTEXT_PY);
    store.close();
    // What earlier versions wrote: the same columns and tokens, no porter stage.
    const db = new Database(join(dir, INDEX_DB_FILE));
    db.exec(`DROP TABLE chunks_fts;
      CREATE VIRTUAL TABLE chunks_fts USING fts5(path, symbol, body, tokenize = 'unicode61 remove_diacritics 2');`);
    const insert = db.prepare('INSERT INTO chunks_fts(rowid, path, symbol, body) VALUES (?, ?, ?, ?)');
    const rows = db.prepare('SELECT c.id AS id, f.path AS path, c.symbol AS symbol, t.text AS text FROM chunks c JOIN files f ON f.id = c.file_id JOIN texts t ON t.hash = c.text_hash').all() as { id: number; path: string; symbol: string; text: string }[];
    for (const row of rows) insert.run(row.id, pathTokenText(row.path), tokenText(row.symbol), tokenText(row.text));
    expect(db.prepare(`SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH '"pushed"'`).pluck().get()).toBe(0);
    db.close();

    const reopened = openIndexStore(dir);
    stores.push(reopened);
    const found = reopened.getChunks(reopened.lexicalSearch('pushed', 10).map((h) => h.chunkId));
    expect(found.map((row) => row.symbol)).toContain('AppContext.push');
    const check = new Database(join(dir, INDEX_DB_FILE), { readonly: true });
    try {
      expect(check.prepare("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").pluck().get()).toMatch(/porter/);
      expect(check.prepare('SELECT count(*) FROM chunks_fts').pluck().get()).toBe(rows.length);
    } finally {
      check.close();
    }
  });
});

/** Unrelated modules, so the question's words are rare in the project (bm25's idf) as in a real repository. */
const FILLER_TOPICS = ['parser', 'render', 'cache', 'router', 'logger', 'config', 'socket', 'metrics', 'session', 'template', 'upload', 'mailer'];
const filler = Object.fromEntries(
  FILLER_TOPICS.map((topic) => [
    `src/${topic}.py`,
    Array.from({ length: 4 }, (_, i) => `def ${topic}_step_${i}(value):\n    """Run ${topic} step ${i} on the value."""\n    return ${topic}_table[${i}](value)\n`).join('\n'),
  ]),
);

/**
 * The class docstring names the question's words, the push method's body does the work; the test file and the
 * changelog repeat the words more often than the source does.
 */
const PROJECT: Record<string, string> = {
  ...filler,
  'src/ctx.py': [
    'class AppContext:',
    '    """An app context holds the app and, while a request is handled, the request.',
    '',
    '    A request context is pushed at the beginning of each request and popped at',
    '    the end. While it is pushed, the request and session proxies point at it.',
    ...Array.from({ length: 30 }, (_, i) => `    Note ${i}: the proxies resolve through the active context; see the guide, section ${i}.`),
    '    """',
    '',
    '    def __init__(self, app, environ=None):',
    '        self.app = app',
    '        self.environ = environ',
    '        self._tokens = []',
    '',
    '    def push(self) -> None:',
    '        """Make this the active context."""',
    '        self._tokens.append(_cv_app.set(self))',
    '        if self.environ is not None:',
    '            self.match_request()',
    '        for callback in self.app.on_activate_callbacks:',
    '            callback(self.app, self.environ, self._tokens)',
    '        if len(self._tokens) > self.app.config_max_depth:',
    '            raise RuntimeError(f"too deep: {len(self._tokens)} active, limit {self.app.config_max_depth}")',
    '        self.app.signal_sender.send(self.app, _async_wrapper=self.app.ensure_sync)',
    '',
    ...Array.from({ length: 12 }, (_, i) => [`    def helper_${i}(self, value):`, `        return self.app.handlers[${i}](value)`, '']).flat(),
  ].join('\n'),
  // A function named by the question's words, and a longer one whose body repeats them.
  'src/redirects.py': [
    'def resolve_redirects(response, session, limit=30):',
    '    hops = 0',
    '    while response.is_redirect:',
    '        hops += 1',
    '        if hops > limit:',
    '            raise TooManyHops(limit, response.url, session.trust_env, session.max_hops)',
    '        location = response.headers.get("location") or response.url',
    '        prepared = session.prepare_next(response.request.copy(), location, response.status_code)',
    '        response.close()',
    '        response = session.send(prepared, stream=True, verify=session.verify, cert=session.cert)',
    '    return response',
    '',
  ].join('\n'),
  'src/transport.py': [
    'def send_all(request, pool):',
    '    # Redirects are resolved by the caller; this only sends. Resolved redirects never come back here,',
    '    # and redirects that cannot be resolved raise before this point: resolved redirects, resolved',
    '    # redirects, resolved redirects. Resolved redirects are how redirects are resolved: redirects resolved.',
    '    connection = pool.connection_for(request.url)',
    '    return connection.urlopen(request.method, request.url, body=request.body)',
    '',
  ].join('\n'),
  // The class docstring is dense with the question's words; the method that computes the answer is not named by them.
  'src/sessions.py': [
    'class SessionInterface:',
    '    """Opens and saves sessions. The cookie expiry time of a session is computed from the',
    '    permanent flag: a permanent session cookie expires after the configured lifetime, and the',
    '    expiry time is computed again on every save. A session cookie that is not permanent has no',
    '    expiry time: it ends with the browser. Computed expiry times are in UTC.',
    ...Array.from({ length: 24 }, (_, i) => `    Rule ${i}: the interface is replaceable; subclasses override the hooks, see the guide ${i}.`),
    '    """',
    '',
    '    def lifetime_for(self, app, session):',
    '        if not session.permanent:',
    '            return None',
    '        cookie_expiry_time = utc_now() + app.permanent_session_lifetime',
    '        session.expiry_computed_at = utc_now()',
    '        return cookie_expiry_time',
    '',
    ...Array.from({ length: 12 }, (_, i) => [`    def hook_${i}(self, app, value):`, `        return app.extensions[${i}].call(self, value)`, '']).flat(),
  ].join('\n'),
  // A function long enough to be cut into pieces; only its last piece speaks of the question's words.
  'src/migrate.py': [
    'def apply_schema_steps(db, steps, dry_run=False):',
    ...Array.from({ length: 60 }, (_, i) => `    step_${i} = steps.next_item(db.cursor(), position=${i}, dry_run=dry_run, label="phase ${i}")`),
    '    # Finally the orphaned attachments are purged and the vacuum reclaims their pages.',
    '    purge_orphaned_attachments(db)',
    '    db.vacuum_reclaim_pages()',
    '',
  ].join('\n'),
  'tests/test_ctx.py': [
    'def test_app_ctx_lifecycle(app):',
    '    """The request context is pushed and popped around each request."""',
    '    ctx = app.app_context()',
    '    ctx.push()  # request context pushed',
    '    assert ctx.request_context_pushed',
    '',
  ].join('\n'),
  'CHANGES.rst': [
    'Version 3.2',
    '-----------',
    '',
    '-   The request context is pushed before the app context is pushed. The request context push',
    '    now happens in ``AppContext.push``.',
    '',
  ].join('\n'),
};

function writeProject(files: Record<string, string>): string {
  const root = join(tempDir('words-project'), 'repo');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('source before tests, docs and changelogs (MCP search, real index)', () => {
  let session: InProcessSession;
  const search = async (query: string) => {
    const result = await session.call('search', { query, k: 5, mode: 'lexical', detail: 'locations' });
    expect(result.isError, result.content[0]?.text).toBeFalsy();
    return result.structuredContent.results as Structured[];
  };

  beforeAll(async () => {
    session = await connectInProcess({ home: tempDir('words-home'), watch: 'off' });
    const set = await session.call('set_project', { path: writeProject(PROJECT), provider: 'none' });
    expect(set.isError, set.content[0]?.text).toBeFalsy();
    expect((await session.call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
  });
  afterAll(async () => {
    await session?.close();
  });

  it('"pushed" finds the push method, and the source file outranks a test file and a CHANGES file with more of the same words', async () => {
    const results = await search('where is the request context pushed');
    const paths = results.map((hit) => hit.path);
    expect(paths[0]).toBe('src/ctx.py');
    expect(paths).toContain('tests/test_ctx.py');
    expect(paths).toContain('CHANGES.rst');
    expect(results.some((hit) => hit.path === 'src/ctx.py' && hit.symbol === 'AppContext.push')).toBe(true);
  });

  it('a definition named by the question\'s words outranks a longer one whose body repeats them', async () => {
    const results = await search('how are redirects resolved');
    expect(results[0].symbol).toBe('resolve_redirects');
    expect(results.map((hit) => hit.path)).toContain('src/transport.py');
  });

  it('a method whose body answers outranks the class docstring that only mentions the words', async () => {
    const results = await search('where is the cookie expiry time computed for a session');
    expect(results[0]).toMatchObject({ path: 'src/sessions.py', symbol: 'SessionInterface.lifetime_for', kind: 'method' });
    // The docstring is still there, after the method.
    expect(results.some((hit) => hit.path === 'src/sessions.py' && hit.kind === 'class')).toBe(true);
  });

  it('a hit on a later piece of a long function starts at the function\'s signature', async () => {
    const [first] = await search('where are orphaned attachments purged');
    expect(first).toMatchObject({ path: 'src/migrate.py', symbol: 'apply_schema_steps', start_line: 1 });
    expect(first.end_line).toBeGreaterThanOrEqual(63);
  });

  it('the search tool\'s description says how to ask for tests and docs', async () => {
    const { tools } = await session.client.listTools();
    const description = tools.find((tool) => tool.name === 'search')!.description!;
    expect(description).toMatch(/Source code ranks before tests, docs, changelogs/);
    expect(description).toMatch(/say so in the query/);
    expect(description).toMatch(/path_glob/);
  });

  it('a query that says "test" brings the test file back to the top', async () => {
    expect((await search('the test where the request context is pushed'))[0].path).toBe('tests/test_ctx.py');
  });
});

describe('path classes', () => {
  it.each([
    ['src/flask/app.py', 'python', 'source'],
    ['src/flask/testing.py', 'python', 'source'],
    ['doc/md_docs.go', 'go', 'source'],
    ['tests/test_basic.py', 'python', 'test'],
    ['command_test.go', 'go', 'test'],
    ['packages/runtime-core/__tests__/scheduler.spec.ts', 'typescript', 'test'],
    ['packages-private/dts-test/component.test-d.ts', 'typescript', 'test'],
    ['src/button.test.tsx', 'tsx', 'test'],
    ['crates/globset/benches/bench.rs', 'rust', 'test'],
    ['docs/api.rst', 'text', 'docs'],
    ['site/content/user_guide.md', 'markdown', 'docs'],
    ['README.md', 'markdown', 'docs'],
    ['CHANGES.rst', 'text', 'changelog'],
    ['HISTORY.md', 'markdown', 'changelog'],
    ['changelogs/CHANGELOG-3.4.md', 'markdown', 'changelog'],
    ['CHANGES', 'text', 'changelog'],
    ['crates/ignore/examples/walk.rs', 'rust', 'example'],
    ['Makefile', 'make', 'config'],
    ['.github/workflows/test.yml', 'yaml', 'config'],
  ])('%s (%s) is %s', (path, language, cls) => {
    expect(pathClass(path, language)).toBe(cls);
  });

  it('counts a test module inside a source file (Rust\'s mod tests) as tests', () => {
    expect(chunkClass('crates/ignore/src/dir.rs', 'rust', 'tests.gitignore_whitelist')).toBe('test');
    expect(chunkClass('crates/ignore/src/dir.rs', 'rust', 'Ignore.matched')).toBe('source');
    expect(chunkClass('crates/ignore/src/dir.rs', 'rust', 'tests_helper')).toBe('source');
  });

  it('hears a query ask for tests, docs, changelogs or examples in any word form', () => {
    expect([...askedClasses('how are redirects followed')]).toEqual(['source']);
    expect(askedClasses('the tests for redirects').has('test')).toBe(true);
    expect(askedClasses('where is testing of cookies').has('test')).toBe(true);
    expect(askedClasses('docs on sessions').has('docs')).toBe(true);
    expect(askedClasses('changelog entry for 3.2').has('changelog')).toBe(true);
    expect(askedClasses('an example of a blueprint').has('example')).toBe(true);
    // Code that writes documentation is asked about in those words; they do not ask for docs.
    expect(askedClasses('how is the markdown documentation page written').has('docs')).toBe(false);
  });
});

describe('mentionsOnlyInComments', () => {
  const stems = new Set(['cooki', 'expiri']);
  it('is true when some of the query words the chunk holds are only in its docstring or comments', () => {
    expect(mentionsOnlyInComments('class Jar:\n    """Holds each cookie until its expiry."""\n    cookies = {}', stems)).toBe(true);
    expect(mentionsOnlyInComments('type Jar struct {\n\t// expiry of each cookie\n\tcookies map[string]Cookie\n}', stems)).toBe(true);
  });
  it('is false when the code itself names every query word it holds', () => {
    expect(mentionsOnlyInComments('class Jar:\n    """Cookies."""\n    cookie_expiry = 3600', stems)).toBe(false);
    expect(mentionsOnlyInComments('class Empty:\n    pass', stems)).toBe(false);
  });
});

describe('a symbol named by a different form of the question\'s word', () => {
  it('"certificate verification" lifts cert_verify above a function whose comment says the same words', async () => {
    const store = openIndexStore(tempDir('words-prefix'));
    stores.push(store);
    const body = (name: string, lines: string[]) => [`def ${name}(conn, url, verify, cert):`, ...lines.map((l) => `    ${l}`), ''].join('\n');
    store.upsertFile({ path: 'src/adapters.py', size: 1, mtimeMs: 1, hash: 'a', language: 'python' }, [
      chunk('HTTPAdapter.cert_verify', 'method', 1, body('cert_verify', ['"""Set up certificate verification for the connection."""', 'if url.startswith("https") and verify:', '    conn.cert_reqs = "CERT_REQUIRED"', '    conn.ca_certs = verify', 'else:', '    conn.cert_reqs = "CERT_NONE"'])),
      chunk('HTTPAdapter.build_pool', 'method', 20, body('build_pool', ['# Certificate verification happens when the pool opens a connection; each certificate is checked then.', 'return PoolManager(num_pools=10)'])),
    ]);
    for (let i = 0; i < 8; i++) {
      store.upsertFile({ path: `src/other${i}.py`, size: 1, mtimeMs: 1, hash: `o${i}`, language: 'python' }, [chunk(`helper_${i}`, 'function', 1, `def helper_${i}(value):\n    return value * ${i} + offset_table[${i}]\n`)]);
    }
    const response = await search(store, new NoneEmbedder(), { query: 'how is TLS certificate verification configured', k: 5, mode: 'lexical' });
    const order = response.results.filter((h) => h.path === 'src/adapters.py').map((h) => h.symbol);
    expect(order[0]).toBe('HTTPAdapter.cert_verify');
  });
});
