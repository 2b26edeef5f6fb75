import { describe, expect, it } from 'vitest';
import { calibrateFusion, HELD_OUT_NEWEST } from '../indexer/history/fusion-calibration.js';
import { semanticWeightFor, storedFusion } from '../indexer/search/fusion-weights.js';
import { IndexJob } from '../indexer/run/index-job.js';
import { reciprocalRankFusion, search } from '../indexer/search/search.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import type { IndexStore } from '../indexer/store/store-types.js';
import type { EmbedCall, Embedder, EmbedOutput } from '../models/embedder.js';
import { loadMistralTokenizer } from '../models/hf-tokenizer.js';
import { seededRandom } from '../models/seeded-random.js';
import { HistoryRepo } from './helpers/history-repo.js';
import { tempDir } from './helpers/stdio-client.js';

const DIMS = 256;
const MODULES = 250;

/**
 * Made-up lower-case words, distinct per index and free of digits (identifier splitting would otherwise
 * let "17" match "17"): code names start "qz", their synonyms "vw", and share no other token.
 */
function word(i: number, prefix: string): string {
  const c = 'bdfgklmnprstvz';
  const v = 'aeiou';
  let out = prefix;
  for (let n = i + 1; n > 0; n = Math.floor(n / (c.length * v.length))) out += c[n % c.length] + v[Math.floor(n / c.length) % v.length];
  return out;
}
const codeName = (i: number) => word(i, 'qz');
const synonym = (i: number) => word(i, 'vw');

/**
 * A history of MODULES commits, each adding one module whose function carries a code name; the commit
 * subject names it by its code name (words lexical search can match) or by a synonym (words only a model
 * that knows the synonyms can match).
 */
function buildHistory(subjects: 'code names' | 'synonyms'): HistoryRepo {
  const repo = new HistoryRepo();
  for (let i = 0; i < MODULES; i++) {
    const name = codeName(i);
    repo.commit({
      subject: `Handle the ${subjects === 'synonyms' ? synonym(i) : name} engine edge cases`,
      write: { [`src/area${i}.ts`]: `export function ${name}Engine(input: string): string {\n  return input.trim() + '${name}';\n}\n` },
    });
  }
  return repo;
}

/**
 * An embedder for tests: 'knows synonyms' maps each synonym to its code name's direction (a model that
 * understands the codebase's language); 'blind' gives every text an unrelated random direction (a model
 * that understands nothing, like the generated test model at its worst).
 */
class ConceptEmbedder implements Embedder {
  readonly provider = 'onnx' as const;
  readonly modelId: string;
  readonly dimensions = DIMS;
  readonly maxBatchSize = 16;
  readonly maxInputTokens = 512;
  readonly tokenBudget = 16 * 512;
  readonly maxParallelCalls = 1;
  readonly tokenizer = loadMistralTokenizer();
  private readonly synonyms = new Map<string, string>();

  constructor(private readonly kind: 'knows synonyms' | 'blind') {
    this.modelId = `test-concepts-${kind.replace(' ', '-')}`;
    for (let i = 0; i < MODULES; i++) this.synonyms.set(synonym(i), codeName(i));
  }

  async embed(call: EmbedCall): Promise<EmbedOutput> {
    return { embeddings: call.texts.map((t) => this.vector(t)) };
  }

  private vector(text: string): Float32Array {
    const v = new Float32Array(DIMS);
    const words = this.kind === 'blind' ? [text] : (text.match(/(?:qz|vw)[a-z]+/g) ?? []).map((w) => this.synonyms.get(w) ?? w);
    for (const w of words) {
      const random = seededRandom([...w].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7));
      for (let d = 0; d < DIMS; d++) v[d] += random() - 0.5;
    }
    if (words.length === 0) v[0] = 1;
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  }

  async health() {
    return { ok: true, detail: 'test concepts' };
  }

  async close(): Promise<void> {}
}

async function indexed(repo: HistoryRepo, embedder: Embedder): Promise<IndexStore> {
  const store = openIndexStore(tempDir('fusion-data'));
  const job = new IndexJob({ root: repo.dir, store, embedder, full: false, log: () => {} });
  expect((await job.done).state).toBe('done');
  return store;
}

describe('weighted reciprocal rank fusion', () => {
  const lexical = [1, 2, 3].map((chunkId) => ({ chunkId, score: 1 }));
  const semantic = [3, 4, 1].map((chunkId) => ({ chunkId, score: 1 }));
  it('is plain RRF at weight 1 and the lexical order, semantic-only ids last, at weight 0', () => {
    expect(reciprocalRankFusion([lexical, semantic]).map((h) => h.chunkId)).toEqual([1, 3, 2, 4]);
    expect(reciprocalRankFusion([lexical, semantic], 60, [1, 0]).map((h) => h.chunkId)).toEqual([1, 2, 3, 4]);
    expect(reciprocalRankFusion([lexical, semantic], 60, [1, 0])[3].score).toBe(0);
  });
});

describe('fusion calibrated on the repository history after the first index', () => {
  it('turns a blind model down to where hybrid ranks no worse than lexical', async () => {
    const repo = buildHistory('code names');
    const embedder = new ConceptEmbedder('blind');
    const store = await indexed(repo, embedder);
    const fusion = storedFusion(store, embedder.modelId)!;
    expect(fusion).toMatchObject({ method: 'calibrated', queries: MODULES - HELD_OUT_NEWEST, held_out_newest: HELD_OUT_NEWEST, head: repo.git('rev-parse', 'HEAD') });
    const mrr = fusion.mrr_at_10!;
    expect(mrr.lexical).toBeGreaterThan(0.9);
    expect(mrr.semantic).toBeLessThan(0.3);
    expect(fusion.semantic_weight).toBeLessThan(1);
    expect(mrr.hybrid[String(fusion.semantic_weight)]).toBeGreaterThanOrEqual(mrr.lexical);
    expect(mrr.hybrid['1']).toBeLessThan(mrr.lexical);
    // A held-out query (the newest commit) finds its module first in hybrid search.
    const { results } = await search(store, embedder, { query: `Handle the ${codeName(MODULES - 1)} engine edge cases`, k: 5, mode: 'hybrid' });
    expect(results[0].path).toBe(`src/area${MODULES - 1}.ts`);
    store.close();
  }, 120_000);

  it('keeps or raises the weight of a model that knows what lexical search cannot', async () => {
    const repo = buildHistory('synonyms');
    const embedder = new ConceptEmbedder('knows synonyms');
    const store = await indexed(repo, embedder);
    const fusion = storedFusion(store, embedder.modelId)!;
    expect(fusion.method).toBe('calibrated');
    expect(fusion.mrr_at_10!.semantic).toBeGreaterThan(0.9);
    expect(fusion.mrr_at_10!.lexical).toBeLessThan(0.3);
    expect(fusion.semantic_weight).toBeGreaterThanOrEqual(1);
    // Another model's vectors are not judged by this calibration.
    expect(semanticWeightFor(store, 'another-model')).toBe(1);
    store.close();
  }, 120_000);

  it('runs after the files are stored: search results are no longer partial while it calibrates', async () => {
    const repo = buildHistory('code names');
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let queriesAsked = 0;
    const embedder = new (class extends ConceptEmbedder {
      override async embed(call: EmbedCall): Promise<EmbedOutput> {
        if (call.purpose === 'query') {
          queriesAsked++;
          await gate;
        }
        return super.embed(call);
      }
    })('blind');
    const store = openIndexStore(tempDir('fusion-gate'));
    const job = new IndexJob({ root: repo.dir, store, embedder, full: false, log: () => {} });
    const deadline = Date.now() + 60_000;
    while (queriesAsked === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(queriesAsked).toBeGreaterThan(0);
    expect(job.indexing).toBe(false);
    expect(job.running).toBe(true);
    expect(job.summary.state).toBe('done');
    expect(storedFusion(store, embedder.modelId)).toBeNull();
    release();
    expect((await job.done).state).toBe('done');
    expect(job.running).toBe(false);
    expect(storedFusion(store, embedder.modelId)?.method).toBe('calibrated');
    store.close();
  }, 120_000);

  it('stays at plain fusion, and says why, without enough history', async () => {
    const repo = new HistoryRepo();
    for (let i = 0; i < 5; i++) repo.commit({ subject: `Add the ${codeName(i)} engine module`, write: { [`src/m${i}.ts`]: `export const ${codeName(i)} = ${i};\n` } });
    const embedder = new ConceptEmbedder('blind');
    const store = await indexed(repo, embedder);
    expect(storedFusion(store, embedder.modelId)).toMatchObject({ method: 'default', semantic_weight: 1, queries: 0 });
    expect(storedFusion(store, embedder.modelId)!.reason).toMatch(/0 history queries beyond the newest 200 \(5 in 5 commits\); 40 needed/);

    const plain = openIndexStore(tempDir('fusion-nogit'));
    const noGit = await calibrateFusion({ root: tempDir('not-a-repo'), store: plain, embedder });
    expect(noGit).toMatchObject({ method: 'default', semantic_weight: 1 });
    expect(noGit.reason).toMatch(/^no git history to calibrate on/);
    store.close();
    plain.close();
  }, 120_000);
});
