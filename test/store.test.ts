import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import { afterEach, describe, expect, it } from 'vitest';
import { HNSW_FILE, INDEX_DB_FILE, openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { decodeVector, encodeVectorFloat32, SCHEMA_VERSION } from '../indexer/store/sqlite-store.js';
import { VectorDimensionsError } from '../indexer/store/store-errors.js';
import { GRAPH_DIMS } from '../indexer/store/vector-projection.js';
import { DEFAULT_HNSW_PARAMS } from '../indexer/store/vector-index.js';
import type { ChunkInput, FileRecord, IndexStore } from '../indexer/store/store-types.js';

const DIMS = 8;
const MODEL = { modelId: 'test-model', dims: DIMS, distance: 'cosine' as const };

const temps: string[] = [];
const open: IndexStore[] = [];

afterEach(() => {
  for (const store of open.splice(0)) {
    try {
      store.close();
    } catch {
      // Already closed by the test.
    }
  }
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codecarto-store-'));
  temps.push(dir);
  return dir;
}

function openStore(dir: string, logs: string[] = []): IndexStore {
  const store = openIndexStore(dir, { log: (m) => logs.push(m) });
  open.push(store);
  return store;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function file(p: string, language = 'typescript', content = p): FileRecord {
  return { path: p, size: content.length, mtimeMs: 1000, hash: sha(content), language };
}

function chunk(text: string, symbol: string | null = null, opts: Partial<ChunkInput> = {}): ChunkInput {
  return {
    language: 'typescript',
    symbol,
    kind: symbol ? 'function' : 'block',
    startLine: 1,
    endLine: text.split('\n').length,
    text,
    textHash: sha(text),
    embedText: `${symbol ?? ''}\n${text}`,
    ...opts,
  };
}

/** A unit vector along axis `axis` (with a little of axis+1 so neighbours are distinct). */
function axisVector(axis: number, dims = DIMS): Float32Array {
  const v = new Float32Array(dims);
  v[axis % dims] = 1;
  v[(axis + 1) % dims] = 0.1;
  return v;
}

/** Gives every pending text a vector: the i-th pending text (by the store's order) gets axisVector(i). */
function embedAllPending(store: IndexStore): Map<string, Float32Array> {
  const given = new Map<string, Float32Array>();
  const pending = store.pendingTexts();
  pending.forEach((p, i) => given.set(p.textHash, axisVector(i)));
  store.putVectors([...given].map(([textHash, vector]) => ({ textHash, vector })));
  return given;
}

describe('files and chunks', () => {
  it('upserts, replaces and removes files, keeping counts right', () => {
    const store = openStore(tempDir());
    store.upsertFile(file('src/a.ts'), [chunk('function a() {}', 'a'), chunk('function b() {}', 'b')]);
    store.upsertFile(file('src/b.ts'), [chunk('const x = 1;')]);
    expect(store.counts()).toEqual({ files: 2, chunks: 3, chunksWithVectors: 0, texts: 3, vectors: 0 });
    expect([...store.listFiles().keys()].sort()).toEqual(['src/a.ts', 'src/b.ts']);
    expect(store.listFiles().get('src/b.ts')).toEqual(file('src/b.ts'));

    // Replace: old chunks and their FTS rows go, new ones come.
    store.upsertFile(file('src/a.ts', 'typescript', 'v2'), [chunk('function c() {}', 'c')]);
    expect(store.counts().chunks).toBe(2);
    expect(store.listFiles().get('src/a.ts')?.hash).toBe(sha('v2'));
    expect(store.lexicalSearch('a', 10)).toHaveLength(1); // only the path token "a" of src/a.ts
    expect(store.lexicalSearch('b', 10).map((h) => store.getChunks([h.chunkId])[0].path)).toEqual(['src/b.ts']);

    store.touchFile('src/b.ts', 99, 2000);
    expect(store.listFiles().get('src/b.ts')).toMatchObject({ size: 99, mtimeMs: 2000 });

    expect(store.removeFiles(['src/a.ts', 'src/nope.ts'])).toBe(1);
    expect(store.counts()).toMatchObject({ files: 1, chunks: 1 });
    expect(store.lexicalSearch('c', 10)).toEqual([]);
    expect(store.removeFiles([])).toBe(0);
  });

  it('counts texts and vectors by counters that triggers keep: equal to count(*) through every write, and filled for a database made without them', () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.setModel(MODEL);
    const direct = () => {
      const db = new Database(path.join(dir, INDEX_DB_FILE), { readonly: true });
      const row = db.prepare('SELECT (SELECT count(*) FROM texts) AS texts, (SELECT count(*) FROM vectors) AS vectors').get() as { texts: number; vectors: number };
      db.close();
      return row;
    };
    const same = () => {
      const raw = direct();
      const counted = store.counts();
      // counts().texts leaves out texts no chunk uses any more (garbage not yet collected).
      expect(counted.vectors).toBe(raw.vectors);
      return { texts: raw.texts, vectors: counted.vectors };
    };
    const embedAll = () => store.putVectors(store.pendingTexts().map((p, i) => ({ textHash: p.textHash, vector: Float32Array.from({ length: DIMS }, (_, d) => ((i + d) % 7) - 3) })));
    store.upsertFile(file('a.ts'), [chunk('function a() {}', 'a'), chunk('function b() {}', 'b')]);
    store.upsertFile(file('b.ts'), [chunk('function a() {}', 'a')]);
    embedAll();
    expect(same()).toEqual({ texts: 2, vectors: 2 });
    store.upsertFile(file('a.ts', 'typescript', 'v2'), [chunk('function c() {}', 'c')]);
    embedAll();
    store.removeFiles(['b.ts']);
    store.collectGarbage();
    expect(same()).toEqual({ texts: 1, vectors: 1 });
    expect(store.counts()).toMatchObject({ texts: 1, vectors: 1, chunksWithVectors: 1 });
    store.clearVectors();
    expect(same()).toEqual({ texts: 1, vectors: 0 });
    embedAll();
    store.close();
    // A database made before the counters: opening fills them from count(*).
    const before = new Database(path.join(dir, INDEX_DB_FILE));
    before.exec('DROP TRIGGER texts_count_insert; DROP TRIGGER texts_count_delete; DROP TRIGGER vectors_count_insert; DROP TRIGGER vectors_count_delete; DROP TABLE row_counts;');
    before.close();
    const reopened = openStore(dir);
    expect(reopened.counts()).toMatchObject({ texts: 1, vectors: 1 });
    reopened.upsertFile(file('d.ts'), [chunk('function d() {}', 'd')]);
    expect(reopened.counts()).toMatchObject({ texts: 2, vectors: 1 });
  });

  it('stores a text once however many chunks share it, and returns rows in the order asked', () => {
    const dir = tempDir();
    const store = openStore(dir);
    const shared = 'export const config = { retries: 3 };';
    store.upsertFile(file('a.ts'), [chunk(shared, 'config')]);
    store.upsertFile(file('b.ts'), [chunk(shared, 'config'), chunk('other()', null)]);
    expect(store.counts()).toMatchObject({ chunks: 3, texts: 2 });
    const db = new Database(path.join(dir, INDEX_DB_FILE), { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM texts').get()).toEqual({ n: 2 });
    db.close();

    const ids = store.lexicalSearch('retries', 10).map((h) => h.chunkId);
    expect(ids).toHaveLength(2);
    const rows = store.getChunks([ids[1], 123456, ids[0]]);
    expect(rows.map((r) => r.id)).toEqual([ids[1], ids[0]]);
    expect(rows.every((r) => r.text === shared && r.textHash === sha(shared))).toBe(true);
    expect(new Set(rows.map((r) => r.path))).toEqual(new Set(['a.ts', 'b.ts']));
    expect(rows[0]).toMatchObject({ language: 'typescript', symbol: 'config', kind: 'function', startLine: 1, endLine: 1 });
    // Heads are the same rows without the text, in the same order.
    expect(store.getChunkHeads([ids[1], 123456, ids[0]])).toEqual(rows.map(({ text: _text, ...head }) => head));
  });

  it('getChunks handles more ids than one batch', () => {
    const store = openStore(tempDir());
    const chunks = Array.from({ length: 1200 }, (_, i) => chunk(`line${i}()`, null, { startLine: i + 1, endLine: i + 1 }));
    store.upsertFile(file('big.ts'), chunks);
    const ids = store.lexicalSearch('big', 2000).map((h) => h.chunkId);
    expect(ids).toHaveLength(1200);
    const reversed = [...ids].reverse();
    expect(store.getChunks(reversed).map((r) => r.id)).toEqual(reversed);
    expect(store.getChunkHeads(reversed).map((r) => r.id)).toEqual(reversed);
  });

  it('keeps meta for the caller but guards the store\'s own keys', () => {
    const dir = tempDir();
    const store = openStore(dir);
    expect(store.getMeta('last_indexed')).toBeNull();
    store.setMeta('last_indexed', '2024-01-01');
    expect(store.getMeta('schema_version')).toBe(String(SCHEMA_VERSION));
    expect(() => store.setMeta('schema_version', '9')).toThrow(/kept by the index store/);
    store.close();
    expect(openStore(dir).getMeta('last_indexed')).toBe('2024-01-01');
  });

  it('opens the database in WAL mode with foreign keys', () => {
    const dir = tempDir();
    openStore(dir);
    const db = new Database(path.join(dir, INDEX_DB_FILE));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});

describe('lexical search', () => {
  function seeded(): IndexStore {
    const store = openStore(tempDir());
    store.upsertFile(file('src/users/service.ts'), [
      chunk('export function getUserName(id: string) {\n  return db.lookup(id).name;\n}', 'getUserName'),
    ]);
    store.upsertFile(file('src/http/HTTPServer.ts'), [
      chunk('export class HTTPServer {\n  listen(port: number) {}\n}', 'HTTPServer'),
    ]);
    store.upsertFile(file('lib/parse.py', 'python'), [
      chunk('def parse_json2(text):\n    return json.loads(text)', 'parse_json2', { language: 'python' }),
    ]);
    store.upsertFile(file('docs/users.md', 'markdown'), [
      chunk('The user name is shown in the header.', null, { language: 'markdown' }),
    ]);
    return store;
  }

  const paths = (store: IndexStore, hits: { chunkId: number }[]) => store.getChunks(hits.map((h) => h.chunkId)).map((r) => r.path);

  it('finds camelCase identifiers from split words, and by their whole lowercased form', () => {
    const store = seeded();
    const hits = store.lexicalSearch('user name', 10);
    expect(paths(store, hits)).toContain('src/users/service.ts');
    expect(paths(store, store.lexicalSearch('getusername', 10))).toEqual(['src/users/service.ts']);
    expect(paths(store, store.lexicalSearch('get_user_name', 10))[0]).toBe('src/users/service.ts');
    expect(paths(store, store.lexicalSearch('http server', 10))[0]).toBe('src/http/HTTPServer.ts');
    expect(paths(store, store.lexicalSearch('parseJSON2', 10))[0]).toBe('lib/parse.py');
  });

  it('ranks with score = -bm25, higher first, symbol and path above body', () => {
    const store = seeded();
    const hits = store.lexicalSearch('user name', 10);
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1].score).toBeGreaterThanOrEqual(hits[i].score);
    expect(hits[0].score).toBeGreaterThan(0);
    // The symbol getUserName outranks the markdown body that merely says "user name".
    expect(paths(store, hits)[0]).toBe('src/users/service.ts');
  });

  it('uses OR semantics so partial matches still rank', () => {
    const store = seeded();
    expect(paths(store, store.lexicalSearch('listen nonexistentword', 10))).toEqual(['src/http/HTTPServer.ts']);
  });

  it('applies path and language filters', () => {
    const store = seeded();
    expect(paths(store, store.lexicalSearch('user name', 10, { languages: ['markdown'] }))).toEqual(['docs/users.md']);
    expect(paths(store, store.lexicalSearch('user name', 10, { pathFilter: (p) => p.startsWith('src/') }))).toEqual([
      'src/users/service.ts',
    ]);
    expect(store.lexicalSearch('user name', 10, { languages: ['rust'] })).toEqual([]);
  });

  it('over-fetches until a selective filter has k hits', () => {
    const store = openStore(tempDir());
    for (let i = 0; i < 300; i++) store.upsertFile(file(`gen/f${i}.ts`), [chunk(`widget${i} = makeWidget()`, null)]);
    const hits = store.lexicalSearch('widget', 5, { pathFilter: (p) => /f2\d\d\.ts$/.test(p) });
    expect(hits).toHaveLength(5);
    expect(paths(store, hits).every((p) => /f2\d\d\.ts$/.test(p))).toBe(true);
  });

  it('never throws on punctuation or FTS syntax, and returns nothing for an empty query', () => {
    const store = seeded();
    for (const q of ['foo("bar") AND -x*', '"', 'NEAR(', 'a:b', '^', '*', 'OR', 'NOT user', '(((', "it's", '{}[]']) {
      expect(() => store.lexicalSearch(q, 10)).not.toThrow();
    }
    expect(store.lexicalSearch('', 10)).toEqual([]);
    expect(store.lexicalSearch('  --  ', 10)).toEqual([]);
    expect(store.lexicalSearch('user', 0)).toEqual([]);
  });
});

describe('vectors', () => {
  it('lists pending texts in a stable order, stores vectors, and counts them', () => {
    const store = openStore(tempDir());
    store.upsertFile(file('a.ts'), [chunk('alpha()'), chunk('beta()'), chunk('alpha()')]);
    expect(store.countPending()).toBe(2);
    const pending = store.pendingTexts();
    expect(pending.map((p) => p.textHash)).toEqual([sha('alpha()'), sha('beta()')].sort());
    expect(store.pendingTexts(1)).toEqual([pending[0]]);
    expect(pending[0].embedText).toContain(pending[0].textHash === sha('alpha()') ? 'alpha()' : 'beta()');
    expect(store.missingVectors([sha('alpha()'), sha('beta()')])).toEqual([sha('alpha()'), sha('beta()')]);

    expect(() => store.putVectors([{ textHash: sha('alpha()'), vector: axisVector(0) }])).toThrow(/setModel/);
    expect(store.setModel(MODEL)).toBe(false);
    expect(store.getModel()).toEqual(MODEL);
    store.putVectors([
      { textHash: sha('alpha()'), vector: axisVector(0) },
      { textHash: sha('unknown'), vector: axisVector(1) },
    ]);
    expect(store.countPending()).toBe(1);
    expect(store.missingVectors([sha('alpha()'), sha('beta()')])).toEqual([sha('beta()')]);
    expect(store.counts()).toEqual({ files: 1, chunks: 3, chunksWithVectors: 2, texts: 2, vectors: 1 });
    // Already stored: ignored.
    store.putVectors([{ textHash: sha('alpha()'), vector: axisVector(5) }]);
    expect(store.counts().vectors).toBe(1);
  });

  it('validates dims and finiteness before writing anything', () => {
    const store = openStore(tempDir());
    store.setModel(MODEL);
    store.upsertFile(file('a.ts'), [chunk('alpha()'), chunk('beta()')]);
    const bad = new Float32Array(DIMS);
    bad[3] = Number.NaN;
    expect(() =>
      store.putVectors([
        { textHash: sha('alpha()'), vector: axisVector(0) },
        { textHash: sha('beta()'), vector: new Float32Array(DIMS + 1) },
      ]),
    ).toThrow(VectorDimensionsError);
    expect(() => store.putVectors([{ textHash: sha('beta()'), vector: bad }])).toThrow(/finite/);
    expect(store.counts().vectors).toBe(0);
    expect(() => store.semanticSearch(new Float32Array(3), 5)).toThrow(/3 dims/);
  });

  it('semantic search returns the nearest chunk, and [] with no vectors or no model', () => {
    const store = openStore(tempDir());
    expect(store.semanticSearch(axisVector(0), 5)).toEqual([]);
    store.upsertFile(file('a.ts'), [chunk('alpha()', 'alpha'), chunk('beta()', 'beta'), chunk('gamma()', 'gamma')]);
    store.setModel(MODEL);
    expect(store.semanticSearch(axisVector(0), 5)).toEqual([]);
    const given = embedAllPending(store);
    const betaAxis = [...given.keys()].indexOf(sha('beta()'));
    const hits = store.semanticSearch(axisVector(betaAxis), 2);
    expect(hits).toHaveLength(2);
    expect(store.getChunks([hits[0].chunkId])[0].symbol).toBe('beta');
    expect(hits[0].score).toBeCloseTo(1, 5);
    expect(hits[0].score).toBeGreaterThan(hits[1].score);
  });

  it('returns every chunk that shares the nearest text', () => {
    const store = openStore(tempDir());
    store.setModel(MODEL);
    store.upsertFile(file('a.ts'), [chunk('shared()', 'one')]);
    store.upsertFile(file('b.ts'), [chunk('shared()', 'two'), chunk('lonely()', 'three')]);
    const given = embedAllPending(store);
    const axis = [...given.keys()].indexOf(sha('shared()'));
    const hits = store.semanticSearch(axisVector(axis), 2);
    expect(hits).toHaveLength(2);
    expect(hits[0].score).toBeCloseTo(hits[1].score, 6);
    expect(store.getChunks(hits.map((h) => h.chunkId)).map((r) => r.path).sort()).toEqual(['a.ts', 'b.ts']);
  });

  it('applies path and language filters to semantic hits, over-fetching as needed', () => {
    const store = openStore(tempDir());
    store.setModel(MODEL);
    for (let i = 0; i < 60; i++) {
      const lang = i % 10 === 0 ? 'python' : 'typescript';
      store.upsertFile(file(`f${i}.${lang === 'python' ? 'py' : 'ts'}`, lang), [chunk(`body${i}()`, null, { language: lang })]);
    }
    embedAllPending(store);
    const hits = store.semanticSearch(axisVector(0), 5, { languages: ['python'] });
    expect(hits).toHaveLength(5);
    expect(store.getChunks(hits.map((h) => h.chunkId)).every((r) => r.language === 'python')).toBe(true);
    const pathHits = store.semanticSearch(axisVector(0), 3, { pathFilter: (p) => p === 'f7.ts' });
    expect(store.getChunks(pathHits.map((h) => h.chunkId)).map((r) => r.path)).toEqual(['f7.ts']);
  });

  it('setModel with another model or dims drops every vector; the same model keeps them', () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.setModel(MODEL);
    store.upsertFile(file('a.ts'), [chunk('alpha()')]);
    embedAllPending(store);
    store.flushVectorIndex();
    expect(store.setModel(MODEL)).toBe(false);
    expect(store.counts().vectors).toBe(1);

    expect(store.setModel({ ...MODEL, dims: 16 })).toBe(true);
    expect(store.counts()).toMatchObject({ vectors: 0, chunksWithVectors: 0, chunks: 1 });
    expect(store.countPending()).toBe(1);
    expect(store.semanticSearch(new Float32Array(16).fill(1), 5)).toEqual([]);
    store.putVectors([{ textHash: sha('alpha()'), vector: axisVector(0, 16) }]);
    expect(store.semanticSearch(axisVector(0, 16), 1)).toHaveLength(1);

    expect(store.setModel({ ...MODEL, dims: 16, modelId: 'other' })).toBe(true);
    expect(store.counts().vectors).toBe(0);
    expect(store.getModel()).toEqual({ ...MODEL, dims: 16, modelId: 'other' });
  });

  it('clearVectors drops all vectors but keeps chunks, texts and the model', () => {
    const store = openStore(tempDir());
    store.setModel(MODEL);
    store.upsertFile(file('a.ts'), [chunk('alpha()'), chunk('beta()')]);
    embedAllPending(store);
    store.clearVectors();
    expect(store.counts()).toEqual({ files: 1, chunks: 2, chunksWithVectors: 0, texts: 2, vectors: 0 });
    expect(store.getModel()).toEqual(MODEL);
    expect(store.semanticSearch(axisVector(0), 5)).toEqual([]);
    expect(store.countPending()).toBe(2);
  });

  it('collects garbage: unreferenced texts and their vectors go, and HNSW stops returning them', () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.setModel(MODEL);
    store.upsertFile(file('a.ts'), [chunk('alpha()')]);
    store.upsertFile(file('b.ts'), [chunk('beta()'), chunk('alpha()')]);
    const given = embedAllPending(store);
    expect(store.removeFiles(['b.ts'])).toBe(2);
    expect(store.counts()).toMatchObject({ chunks: 1, texts: 1, vectors: 2 });
    // Before GC, the orphan's vector may still be found but maps to no chunk.
    const betaAxis = [...given.keys()].indexOf(sha('beta()'));
    const before = store.semanticSearch(axisVector(betaAxis), 5);
    expect(store.getChunks(before.map((h) => h.chunkId)).map((r) => r.path)).toEqual(['a.ts']);

    expect(store.collectGarbage()).toBe(1);
    expect(store.counts()).toEqual({ files: 1, chunks: 1, chunksWithVectors: 1, texts: 1, vectors: 1 });
    expect(store.semanticSearch(axisVector(betaAxis), 5)).toHaveLength(1);
    expect(store.collectGarbage()).toBe(0);
    // After GC the text is gone: re-adding the file makes it pending again.
    store.upsertFile(file('b.ts'), [chunk('beta()')]);
    expect(store.pendingTexts().map((p) => p.textHash)).toEqual([sha('beta()')]);

    // The flushed file reflects the deletion (compacted: 1 of 2 points deleted > 25%).
    const logs: string[] = [];
    store.flushVectorIndex();
    store.close();
    const reopened = openStore(dir, logs);
    expect(logs.some((l) => /loaded HNSW index with 1 vectors/.test(l))).toBe(true);
    expect(logs.some((l) => /rebuilding/.test(l))).toBe(false);
    expect(reopened.semanticSearch(axisVector(0), 5)).toHaveLength(1);
  });
});

describe('HNSW persistence', () => {
  function populated(dir: string, logs: string[] = []): { store: IndexStore; given: Map<string, Float32Array> } {
    const store = openStore(dir, logs);
    store.setModel(MODEL);
    store.upsertFile(file('a.ts'), [chunk('alpha()', 'alpha'), chunk('beta()', 'beta')]);
    store.upsertFile(file('b.ts'), [chunk('gamma()', 'gamma'), chunk('delta()', 'delta')]);
    return { store, given: embedAllPending(store) };
  }

  function nearestSymbol(store: IndexStore, vector: Float32Array): string | null {
    const [hit] = store.semanticSearch(vector, 1);
    return hit ? store.getChunks([hit.chunkId])[0].symbol : null;
  }

  const snapshots = (dir: string) => readdirSync(dir).filter((f) => /^vectors.*\.hnsw$/.test(f));
  /** Rows of hnsw_log, read beside the store through a second connection (as another process would). */
  function logRows(dir: string): number {
    const db = new Database(path.join(dir, INDEX_DB_FILE), { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM hnsw_log').get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  it('a forced flush writes a snapshot; reopening loads it with nothing to replay or rebuild', () => {
    const dir = tempDir();
    const { store, given } = populated(dir);
    store.flushVectorIndex({ force: true });
    store.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(snapshots(dir)).toHaveLength(1);
    expect(logRows(dir)).toBe(0);

    const logs: string[] = [];
    const reopened = openStore(dir, logs);
    expect(logs.some((l) => l.includes('loaded HNSW index with 4 vectors (0 replayed from the log)'))).toBe(true);
    expect(logs.some((l) => l.includes('rebuilding'))).toBe(false);
    const gammaAxis = [...given.keys()].indexOf(sha('gamma()'));
    expect(nearestSymbol(reopened, axisVector(gammaAxis))).toBe('gamma');
  });

  it('vectors stored or deleted after the snapshot are replayed from the log on open: nothing rebuilt or re-embedded', () => {
    const dir = tempDir();
    const { store, given } = populated(dir);
    store.flushVectorIndex({ force: true });
    // Committed to SQLite after the snapshot, then the process ends without writing another.
    store.upsertFile(file('c.ts'), [chunk('epsilon()', 'epsilon')]);
    store.putVectors([{ textHash: sha('epsilon()'), vector: axisVector(6) }]);
    store.removeFiles(['b.ts']);
    store.collectGarbage();
    store.close();

    const logs: string[] = [];
    const reopened = openStore(dir, logs);
    expect(logs.some((l) => l.includes('loaded HNSW index with 3 vectors (1 replayed from the log)'))).toBe(true);
    expect(logs.some((l) => l.includes('rebuilding'))).toBe(false);
    expect(reopened.countPending()).toBe(0);
    expect(nearestSymbol(reopened, axisVector(6))).toBe('epsilon');
    const gammaAxis = [...given.keys()].indexOf(sha('gamma()'));
    expect(nearestSymbol(reopened, axisVector(gammaAxis))).not.toBe('gamma');
    expect(reopened.semanticSearch(axisVector(0), 10)).toHaveLength(3);
  });

  it('a run that changes a few vectors writes no snapshot: the file stays as it is and the log holds the change', () => {
    const dir = tempDir();
    const { store } = populated(dir);
    store.flushVectorIndex({ force: true });
    const [before] = snapshots(dir);
    const mtime = statSync(path.join(dir, before)).mtimeMs;
    store.upsertFile(file('c.ts'), [chunk('epsilon()', 'epsilon')]);
    store.putVectors([{ textHash: sha('epsilon()'), vector: axisVector(6) }]);
    store.flushVectorIndex();
    expect(snapshots(dir)).toEqual([before]);
    expect(statSync(path.join(dir, before)).mtimeMs).toBe(mtime);
    expect(logRows(dir)).toBe(1);
    expect(nearestSymbol(store, axisVector(6))).toBe('epsilon');
  });

  it('writes a snapshot once the log holds 1024 added vectors, and the log starts again', () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.setModel(MODEL);
    const next = seeded(7);
    for (let f = 0; f < 11; f++) {
      store.upsertFile(file(`f${f}.ts`), Array.from({ length: 100 }, (_, i) => chunk(`fn${f}_${i}()`)));
      store.putVectors(store.pendingTexts().map((p) => ({ textHash: p.textHash, vector: Float32Array.from({ length: DIMS }, next) })));
      store.flushVectorIndex();
      expect(snapshots(dir)).toHaveLength(f < 10 ? 0 : 1);
    }
    expect(logRows(dir)).toBe(0);
    store.close();
    const logs: string[] = [];
    openStore(dir, logs);
    expect(logs.some((l) => l.includes('loaded HNSW index with 1100 vectors (0 replayed from the log)'))).toBe(true);
  });

  it('a deleted or corrupt snapshot is rebuilt from SQLite', () => {
    const dir = tempDir();
    const { store, given } = populated(dir);
    store.flushVectorIndex({ force: true });
    store.close();
    rmSync(path.join(dir, snapshots(dir)[0]));

    const logs: string[] = [];
    const reopened = openStore(dir, logs);
    expect(logs.some((l) => l.includes('rebuilding') && l.includes('missing'))).toBe(true);
    const alphaAxis = [...given.keys()].indexOf(sha('alpha()'));
    expect(nearestSymbol(reopened, axisVector(alphaAxis))).toBe('alpha');
    reopened.close();

    // The rebuild was written as the new snapshot; corrupt it.
    writeFileSync(path.join(dir, snapshots(dir)[0]), 'not an index');
    const logs2: string[] = [];
    const again = openStore(dir, logs2);
    expect(logs2.some((l) => l.includes('rebuilding') && l.includes('unreadable'))).toBe(true);
    expect(nearestSymbol(again, axisVector(alphaAxis))).toBe('alpha');
  });

  it('a snapshot written but never recorded (a crash in between) is ignored; dead writers\' temp files are removed', () => {
    const dir = tempDir();
    const { store } = populated(dir);
    store.flushVectorIndex({ force: true });
    const [recorded] = snapshots(dir);
    store.upsertFile(file('c.ts'), [chunk('epsilon()', 'epsilon')]);
    store.putVectors([{ textHash: sha('epsilon()'), vector: axisVector(6) }]);
    store.close();
    writeFileSync(path.join(dir, 'vectors-99-unrecorded.hnsw'), 'half written');
    writeFileSync(path.join(dir, `.vectors-99-x.hnsw.999999999.tmp`), 'a dead writer');

    const logs: string[] = [];
    const reopened = openStore(dir, logs);
    expect(logs.some((l) => l.includes('loaded HNSW index with 5 vectors (1 replayed from the log)'))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(snapshots(dir).sort()).toEqual([recorded, 'vectors-99-unrecorded.hnsw'].sort());
    expect(nearestSymbol(reopened, axisVector(6))).toBe('epsilon');
    // The next snapshot leaves only itself.
    reopened.flushVectorIndex({ force: true });
    expect(snapshots(dir)).toHaveLength(1);
  });

  it('a second process searching the same index follows the writer: its logged vectors, its deletions, its new snapshot', () => {
    const dir = tempDir();
    const { store: writer } = populated(dir);
    writer.flushVectorIndex({ force: true });
    const readerLogs: string[] = [];
    const reader = openStore(dir, readerLogs);
    writer.upsertFile(file('c.ts'), [chunk('epsilon()', 'epsilon')]);
    writer.putVectors([{ textHash: sha('epsilon()'), vector: axisVector(6) }]);
    expect(nearestSymbol(reader, axisVector(6))).toBe('epsilon');
    writer.removeFiles(['c.ts']);
    writer.collectGarbage();
    expect(nearestSymbol(reader, axisVector(6))).not.toBe('epsilon');
    writer.upsertFile(file('d.ts'), [chunk('zeta()', 'zeta')]);
    writer.putVectors([{ textHash: sha('zeta()'), vector: axisVector(7) }]);
    writer.flushVectorIndex({ force: true });
    expect(nearestSymbol(reader, axisVector(7))).toBe('zeta');
    expect(readerLogs.some((l) => l.includes('written by another process'))).toBe(true);
    expect(reader.semanticSearch(axisVector(0), 10)).toHaveLength(5);
  });

  it('a follower does not insert a long log while a search waits: it searches what it has until the writer\'s next snapshot', () => {
    const dir = tempDir();
    const { store: writer } = populated(dir);
    writer.flushVectorIndex({ force: true });
    const readerLogs: string[] = [];
    const reader = openStore(dir, readerLogs);
    const next = seeded(3);
    writer.upsertFile(file('many.ts'), Array.from({ length: 2100 }, (_, i) => chunk(`many${i}()`)));
    writer.putVectors(writer.pendingTexts().map((p) => ({ textHash: p.textHash, vector: Float32Array.from({ length: DIMS }, next) })));
    expect(reader.semanticSearch(axisVector(0), 3000)).toHaveLength(4);
    expect(reader.semanticSearch(axisVector(0), 3000)).toHaveLength(4);
    expect(readerLogs.filter((l) => /inserting|rebuilding/.test(l))).toEqual([]);
    writer.flushVectorIndex();
    expect(reader.semanticSearch(axisVector(0), 3000).length).toBeGreaterThan(2000);
  });

  it('a store without vectors writes no file', () => {
    const dir = tempDir();
    const empty = openStore(dir);
    empty.setModel(MODEL);
    empty.flushVectorIndex({ force: true });
    expect(snapshots(dir)).toEqual([]);
  });

  it('clearVectors removes the snapshot and reopening needs no rebuild', () => {
    const dir = tempDir();
    const { store } = populated(dir);
    store.flushVectorIndex({ force: true });
    store.clearVectors();
    expect(snapshots(dir)).toEqual([]);
    store.close();
    const logs: string[] = [];
    const reopened = openStore(dir, logs);
    expect(logs.some((l) => l.includes('rebuilding'))).toBe(false);
    expect(reopened.counts().vectors).toBe(0);
    expect(reopened.semanticSearch(axisVector(0), 5)).toEqual([]);
  });

  it('grows the HNSW index past its initial capacity', () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.setModel(MODEL);
    const chunks = Array.from({ length: 1500 }, (_, i) => chunk(`fn${i}()`));
    store.upsertFile(file('many.ts'), chunks);
    const next = seeded(1);
    store.putVectors(
      store.pendingTexts().map((p) => ({ textHash: p.textHash, vector: Float32Array.from({ length: DIMS }, next) })),
    );
    expect(store.counts().vectors).toBe(1500);
    expect(store.semanticSearch(axisVector(0), 10)).toHaveLength(10);
  });

  it('4096 dims: each stored vector finds its own chunk first, from the graph, from the log replay and after a rebuild', () => {
    const dims = 4096;
    const dir = tempDir();
    const store = openStore(dir);
    store.setModel({ ...MODEL, dims });
    const n = 200;
    store.upsertFile(file('wide.ts'), Array.from({ length: n }, (_, i) => chunk(`wide${i}()`, `wide${i}`)));
    const next = seeded(12345);
    const vectors = new Map<string, Float32Array>();
    for (const p of store.pendingTexts()) {
      const v = Float32Array.from({ length: dims }, next);
      const norm = Math.hypot(...v);
      vectors.set(p.textHash, v.map((x) => x / norm));
    }
    store.putVectors([...vectors].map(([textHash, vector]) => ({ textHash, vector })));
    const check = (s: IndexStore) => {
      let top1 = 0;
      for (let i = 0; i < n; i += 10) {
        const [hit] = s.semanticSearch(vectors.get(sha(`wide${i}()`)) as Float32Array, 5);
        if (s.getChunks([hit.chunkId])[0].symbol === `wide${i}` && hit.score > 0.999) top1++;
      }
      return top1 / (n / 10);
    };
    expect(check(store)).toBe(1);
    store.close();
    /** Opens the store again, checks that it logged `line` and that every vector still finds its own chunk. */
    const reopen = (line: string) => {
      const logs: string[] = [];
      const reopened = openStore(dir, logs);
      expect(logs.some((l) => l.includes(line))).toBe(true);
      expect(check(reopened)).toBe(1);
      return reopened;
    };
    const replayed = reopen('loaded HNSW index with 200 vectors (200 replayed from the log)');
    replayed.flushVectorIndex({ force: true });
    replayed.close();
    reopen('loaded HNSW index with 200 vectors (0 replayed from the log)').close();
    // A snapshot recorded before the record said what its graph was built with (efConstruction 100): kept,
    // not rebuilt, and recorded again as built with 100 (efForPoints searches it with that rule's ef).
    const stateOf = (db: Database.Database) => JSON.parse(db.prepare("SELECT value FROM meta WHERE key = 'hnsw_state'").pluck().get() as string);
    const legacy = new Database(path.join(dir, INDEX_DB_FILE));
    const legacyRecord = stateOf(legacy);
    expect(legacyRecord.efConstruction).toBe(DEFAULT_HNSW_PARAMS.efConstruction);
    delete legacyRecord.efConstruction;
    legacy.prepare("UPDATE meta SET value = ? WHERE key = 'hnsw_state'").run(JSON.stringify(legacyRecord));
    legacy.close();
    const fromLegacy = reopen('loaded HNSW index with 200 vectors (0 replayed from the log)');
    fromLegacy.flushVectorIndex({ force: true });
    fromLegacy.close();
    const relisted = new Database(path.join(dir, INDEX_DB_FILE), { readonly: true });
    expect(stateOf(relisted).efConstruction).toBe(100);
    relisted.close();
    // A snapshot written before graphs were projected: its record has no graphDims and its graph 4096 dims.
    const before = new Database(path.join(dir, INDEX_DB_FILE));
    const record = stateOf(before);
    expect(record.graphDims).toBe(GRAPH_DIMS);
    const fullDims = new hnswlib.HierarchicalNSW('cosine', dims);
    fullDims.initIndex({ maxElements: n, m: 16, efConstruction: 100 });
    for (const row of before.prepare('SELECT label, vector FROM vectors').all() as { label: number; vector: Buffer }[]) fullDims.addPoint(Array.from(decodeVector(row.vector, dims)), row.label);
    fullDims.writeIndexSync(path.join(dir, record.file));
    delete record.graphDims;
    before.prepare("UPDATE meta SET value = ? WHERE key = 'hnsw_state'").run(JSON.stringify(record));
    before.close();
    reopen(`rebuilding HNSW index from 200 stored vectors (the snapshot's graph holds 4096-dim vectors, this version builds it over ${GRAPH_DIMS})`).close();
    const db = new Database(path.join(dir, INDEX_DB_FILE));
    db.prepare("UPDATE meta SET value = 'garbage' WHERE key = 'hnsw_state'").run();
    db.close();
    reopen('rebuilding HNSW index from 200 stored vectors');
  });
});

describe('upgrading a version 1 index', () => {
  it('keeps every vector (rewritten as float16), loads the old HNSW file without a rebuild and fills the work lists', () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.setModel(MODEL);
    store.upsertFile(file('a.ts'), [chunk('alpha()', 'alpha'), chunk('beta()', 'beta')]);
    store.upsertFile(file('b.ts'), [chunk('gamma()', 'gamma')]);
    const given = embedAllPending(store);
    store.flushVectorIndex({ force: true });
    // What version 1 left behind: a file removed without garbage collection, a text never embedded.
    store.removeFiles(['b.ts']);
    store.upsertFile(file('c.ts'), [chunk('delta()', 'delta')]);
    store.close();
    const [snapshot] = readdirSync(dir).filter((f) => f.endsWith('.hnsw'));
    renameSync(path.join(dir, snapshot), path.join(dir, HNSW_FILE));
    const db = new Database(path.join(dir, INDEX_DB_FILE));
    for (const row of db.prepare('SELECT label, vector FROM vectors').all() as { label: number; vector: Buffer }[]) {
      db.prepare('UPDATE vectors SET vector = ? WHERE label = ?').run(encodeVectorFloat32(decodeVector(row.vector, DIMS)), row.label);
    }
    const state = JSON.parse((db.prepare("SELECT value FROM meta WHERE key = 'hnsw_state'").get() as { value: string }).value);
    const gen = Number((db.prepare("SELECT value FROM meta WHERE key = 'vectors_gen'").get() as { value: string }).value);
    const maxLabel = (db.prepare('SELECT max(label) AS m FROM vectors').get() as { m: number }).m;
    db.prepare("UPDATE meta SET value = ? WHERE key = 'hnsw_state'").run(JSON.stringify({ gen, vectors: 3, maxLabel, points: state.points, dims: DIMS }));
    db.exec("DROP TABLE hnsw_log; DROP TABLE gc_candidates; DROP TABLE unembedded; DELETE FROM meta WHERE key = 'vector_format'; UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    db.close();

    const logs: string[] = [];
    const upgraded = openStore(dir, logs);
    expect(upgraded.getMeta('schema_version')).toBe(String(SCHEMA_VERSION));
    expect(logs.some((l) => l.includes('stored 3 vectors as float16'))).toBe(true);
    expect(logs.some((l) => l.includes('loaded HNSW index with 3 vectors (0 replayed from the log)'))).toBe(true);
    expect(logs.some((l) => l.includes('rebuilding'))).toBe(false);
    const check = new Database(path.join(dir, INDEX_DB_FILE), { readonly: true });
    expect(check.prepare('SELECT DISTINCT length(vector) AS n FROM vectors').all()).toEqual([{ n: DIMS * 2 }]);
    check.close();
    expect(upgraded.pendingTexts().map((p) => p.textHash)).toEqual([sha('delta()')]);
    expect(upgraded.counts()).toEqual({ files: 2, chunks: 3, chunksWithVectors: 2, texts: 3, vectors: 3 });
    expect(upgraded.collectGarbage()).toBe(1);
    expect(upgraded.counts()).toEqual({ files: 2, chunks: 3, chunksWithVectors: 2, texts: 3, vectors: 2 });
    const betaAxis = [...given.keys()].indexOf(sha('beta()'));
    const [hit] = upgraded.semanticSearch(axisVector(betaAxis), 1);
    expect(upgraded.getChunks([hit.chunkId])[0].symbol).toBe('beta');
    // The version 1 file is replaced by the first snapshot.
    upgraded.flushVectorIndex({ force: true });
    expect(existsSync(path.join(dir, HNSW_FILE))).toBe(false);
  });

  it('keeps an embedding text that is a header before the code as the header only, and gives back the whole text', () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.setModel(MODEL);
    store.upsertFile(file('a.ts'), [chunk('alpha()', 'alpha'), chunk('beta()', 'beta', { embedText: 'not ending with the code' })]);
    const want = new Map([
      [sha('alpha()'), 'alpha\nalpha()'],
      [sha('beta()'), 'not ending with the code'],
    ]);
    const pending = () => new Map(store.pendingTexts().map((p) => [p.textHash, p.embedText]));
    expect(pending()).toEqual(want);
    store.close();
    const db = new Database(path.join(dir, INDEX_DB_FILE));
    expect(db.prepare('SELECT hash, embed_text AS e, embed_prefix AS p FROM texts ORDER BY e').all()).toEqual([
      { hash: sha('alpha()'), e: '', p: 'alpha\n' },
      { hash: sha('beta()'), e: 'not ending with the code', p: null },
    ]);
    // What version 3 stored: every embedding text whole, no embed_prefix column.
    db.exec("UPDATE texts SET embed_text = coalesce(embed_prefix || text, embed_text); ALTER TABLE texts DROP COLUMN embed_prefix; UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    db.close();
    const upgraded = openStore(dir);
    expect(new Map(upgraded.pendingTexts().map((p) => [p.textHash, p.embedText]))).toEqual(want);
    const check = new Database(path.join(dir, INDEX_DB_FILE), { readonly: true });
    expect(check.prepare("SELECT count(*) AS n FROM texts WHERE embed_text = '' AND embed_prefix = 'alpha\n'").get()).toEqual({ n: 1 });
    check.close();
  });

  it('a database of a newer version is refused with what to do', () => {
    const dir = tempDir();
    openStore(dir).close();
    const db = new Database(path.join(dir, INDEX_DB_FILE));
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    db.close();
    expect(() => openIndexStore(dir)).toThrow(/schema version 99.*delete the project data directory/);
  });
});

/** A seeded generator of numbers in [-1, 1). */
function seeded(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 48271) % 2147483647) / 2147483647) * 2 - 1;
}
