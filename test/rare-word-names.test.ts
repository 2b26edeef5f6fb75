/**
 * Within the first files, the symbol-name match counts each query word by its idf in the index
 * (indexer/search/rare-word-names.ts; docs/quality.md, "Ranking for plain-word questions", step g4): a name
 * holding the question's rare word comes before one holding only a word most chunks share. A real index,
 * searched as the search tool searches it.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { nameWordWeights } from '../indexer/search/rare-word-names.js';
import { search } from '../indexer/search/search.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { ChunkInput, IndexStore } from '../indexer/store/store-types.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import { tempDir } from './helpers/stdio-client.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const stores: IndexStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

function chunk(symbol: string, startLine: number, text: string): ChunkInput {
  return { language: 'python', symbol, kind: 'function', startLine, endLine: startLine + text.split('\n').length - 1, text, textHash: sha(symbol + text), embedText: text };
}

/** A store with `files`, plus `common` other files whose one function says `commonText`. */
function openStore(name: string, files: Record<string, ChunkInput[]>, common: number, commonText: (i: number) => string): IndexStore {
  const store = openIndexStore(tempDir(name));
  stores.push(store);
  for (const [path, chunks] of Object.entries(files)) store.upsertFile({ path, size: 1, mtimeMs: 1, hash: sha(path), language: 'python' }, chunks);
  for (let i = 0; i < common; i++) {
    store.upsertFile({ path: `src/other${i}.py`, size: 1, mtimeMs: 1, hash: `o${i}`, language: 'python' }, [chunk(`helper_${i}`, 1, commonText(i))]);
  }
  return store;
}

describe('the name match within the first files counts words by idf', () => {
  it('shows the method named by the question\'s rare word before the one named by a word every file says', async () => {
    const store = openStore(
      'rare-names',
      {
        'src/emits.py': [
          chunk('render_component_root', 1, 'def render_component_root(component):\n    return flush(component, component.events)'),
          chunk('emit', 10, 'def emit(instance, name, *args):\n    handler = instance.props[name]\n    return handler(*args)'),
        ],
      },
      30,
      (i) => `def helper_${i}(component):\n    return component.value + ${i}`,
    );
    const response = await search(store, new NoneEmbedder(), { query: 'how are component events emitted', k: 5, mode: 'lexical' });
    const order = response.results.filter((hit) => hit.path === 'src/emits.py').map((hit) => hit.symbol);
    // Counted alike, "component" and "emitted" each name one of the two, and the body holding more of the
    // question's words ("events") came first; 30 other files say "component", none "emit".
    expect(order).toEqual(['emit', 'render_component_root']);
  });

  it('weighs a word by how few chunks hold it', () => {
    const store = openStore('rare-weights', { 'src/emits.py': [chunk('emit', 1, 'def emit(event):\n    return event')] }, 10, (i) => `def helper_${i}(component):\n    return component`);
    const weights = nameWordWeights(store, 'component emitted', ['emit']);
    expect(weights.get('emit')!).toBeGreaterThan(3 * weights.get('compon')!);
    // Counted as MATCH reads the word (stemmed), and only up to the bound asked for.
    expect(store.termChunkCounts(['component', 'emitted'], 4)).toEqual({ chunks: 11, counts: [4, 1] });
  });

  it('counts a word again after a write (the counts are remembered between searches, not across writes)', () => {
    const store = openStore('rare-recount', {}, 3, (i) => `def helper_${i}():\n    return ${i}`);
    expect(store.termChunkCounts(['emit'], 100)).toEqual({ chunks: 3, counts: [0] });
    store.upsertFile({ path: 'src/events.py', size: 1, mtimeMs: 1, hash: 'e', language: 'python' }, [chunk('emit', 1, 'def emit(event):\n    pass')]);
    expect(store.termChunkCounts(['emit'], 100)).toEqual({ chunks: 4, counts: [1] });
    store.removeFiles(['src/events.py']);
    expect(store.termChunkCounts(['emit'], 100)).toEqual({ chunks: 3, counts: [0] });
  });

  it('counts a word that meets no chunk and no name for nothing, but keeps one that a name meets by its prefix', () => {
    const store = openStore('rare-unseen', { 'src/adapters.py': [chunk('cert_verify', 1, 'def cert_verify(conn):\n    conn.check()')] }, 5, (i) => `def helper_${i}(app):\n    return app.run()`);
    const weights = nameWordWeights(store, 'skip unguarded app run verification', ['cert_verify', 'helper_1']);
    expect(weights.get('unguard')).toBe(0);
    // No chunk holds "verif" (porter's stem of "verification"), but cert_verify's name meets it.
    expect(weights.get('verif')!).toBeGreaterThan(weights.get('run')!);
  });

  it('counts a word that asks for tests as the query\'s rarest, although every test file holds it', () => {
    const store = openStore(
      'rare-asking',
      { 'examples/js/tests/test_js_example.py': [chunk('test_index', 1, 'def test_index(client):\n    assert client.get("/").status_code == 200')] },
      20,
      (i) => `def test_${i}(client):\n    # a test\n    assert client.fix(${i})`,
    );
    const weights = nameWordWeights(store, 'fix js example test', ['test_index']);
    expect(weights.get('test')).toBe(Math.max(...weights.values()));
    expect(weights.get('test')!).toBeGreaterThan(weights.get('fix')!);
  });
});
