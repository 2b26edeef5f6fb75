import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelManifestInput } from '../models/model-manifest.js';
import { OnnxEmbedder } from '../models/onnx-embedder.js';
import { readOnnxSignature } from '../models/onnx-signature.js';
import { makeShapeModel, meanOf, normalized, referenceHidden, writeShapeModelDir, type ShapeModelOptions } from './helpers/shape-models.js';
import { tempDir } from './helpers/stdio-client.js';

const CLS = 2;
const SEP = 3;
const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

const embedders: OnnxEmbedder[] = [];
afterAll(async () => {
  for (const e of embedders) await e.close();
});

/** Writes a shape model with `manifest` and loads it on the CPU; returns the embedder and the weights. */
async function load(options: ShapeModelOptions, manifest: Partial<ModelManifestInput>) {
  const files = makeShapeModel(options);
  const dir = join(tempDir('shape'), 'model');
  writeShapeModelDir(dir, files, {
    dims: 16,
    max_tokens: 64,
    inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask' },
    output: 'last_hidden_state',
    ...manifest,
  } as ModelManifestInput);
  const embedder = await OnnxEmbedder.create({ modelDir: dir, device: 'cpu' });
  embedders.push(embedder);
  return { embedder, weights: files.weights, dir };
}

const TEXTS = ['parse the json config file', 'retry with backoff', 'hello', 'export async function handler(request) { return response; }'];

describe('onnx embedder over the output shapes of common ONNX exports', () => {
  it('pooled [batch, dims] output: read as is, then normalized', async () => {
    const { embedder, weights, dir } = await load(
      { output: 'pooled', tokenTypeIds: true },
      { output: 'sentence_embedding', pooling: 'none', add_bos: true, add_eos: true, bos_token_id: CLS, eos_token_id: SEP },
    );
    // The graph has both a per-token and a pooled output; the signature reader sees both shapes.
    expect(readOnnxSignature(join(dir, 'model.onnx')).outputs.map((o) => [o.name, o.dims.length])).toEqual([['token_embeddings', 3], ['sentence_embedding', 2]]);
    const { embeddings } = await embedder.embed({ texts: TEXTS, purpose: 'passage' });
    embeddings.forEach((vector, i) => {
      const ids = [CLS, ...embedder.tokenizer.encode(TEXTS[i]), SEP];
      expect(maxAbsDiff(vector, normalized(meanOf(referenceHidden(weights, ids))))).toBeLessThan(1e-5);
      expect(norm(vector)).toBeCloseTo(1, 5);
    });
  });

  it('last_hidden_state with token_type_ids (fed zeros, undeclared), mean pooling over real tokens only', async () => {
    const { embedder, weights } = await load(
      { output: 'tokens', tokenTypeIds: true },
      { pooling: 'mean', add_bos: true, add_eos: true, bos_token_id: CLS, eos_token_id: SEP, query_instruction: 'search query: ', passage_prefix: 'search document: ' },
    );
    const batch = await embedder.embed({ texts: TEXTS, purpose: 'passage' });
    for (let i = 0; i < TEXTS.length; i++) {
      const alone = await embedder.embed({ texts: [TEXTS[i]], purpose: 'passage' });
      expect(maxAbsDiff(batch.embeddings[i], alone.embeddings[0])).toBeLessThan(1e-5); // padding ignored
    }
    expect(norm(batch.embeddings[0])).toBeCloseTo(1, 5);
    const [query] = (await embedder.embed({ texts: [TEXTS[0]], purpose: 'query' })).embeddings;
    const ids = embedder.tokenizer.encode(`search query: ${TEXTS[0]}`);
    expect(maxAbsDiff(query, normalized(meanOf(referenceHidden(weights, [CLS, ...ids, SEP]))))).toBeLessThan(1e-5);
    // The passage prefix was applied too: the passage vector is not the query vector.
    expect(maxAbsDiff(query, batch.embeddings[0])).toBeGreaterThan(1e-3);
  });

  it('last_hidden_state without token_type_ids, CLS pooling picks the first token', async () => {
    const { embedder, weights } = await load(
      { output: 'tokens' },
      { pooling: 'cls', add_bos: true, add_eos: true, bos_token_id: CLS, eos_token_id: SEP, query_instruction: 'query: ' },
    );
    const { embeddings } = await embedder.embed({ texts: TEXTS, purpose: 'passage' });
    embeddings.forEach((vector, i) => {
      const hidden = referenceHidden(weights, [CLS, ...embedder.tokenizer.encode(TEXTS[i]), SEP]);
      expect(maxAbsDiff(vector, normalized(hidden[0]))).toBeLessThan(1e-5);
    });
    const [query] = (await embedder.embed({ texts: [TEXTS[1]], purpose: 'query' })).embeddings;
    const hidden = referenceHidden(weights, [CLS, ...embedder.tokenizer.encode(`query: ${TEXTS[1]}`), SEP]);
    expect(maxAbsDiff(query, normalized(hidden[0]))).toBeLessThan(1e-5);
  });

  it('last-token pooling with position_ids reads the last real token of each right-padded row', async () => {
    const { embedder, weights } = await load(
      { output: 'tokens', positionIds: true, postProcessor: 'eos' },
      { pooling: 'last', add_eos: true, eos_token_id: SEP, query_instruction: 'instruct: {task} query:', default_task: 'retrieve code' },
    );
    const { embeddings } = await embedder.embed({ texts: TEXTS, purpose: 'passage' });
    embeddings.forEach((vector, i) => {
      const hidden = referenceHidden(weights, [...embedder.tokenizer.encode(TEXTS[i]), SEP]);
      expect(maxAbsDiff(vector, normalized(hidden[hidden.length - 1]))).toBeLessThan(1e-5);
    });
    const [query] = (await embedder.embed({ texts: ['parse json'], purpose: 'query' })).embeddings;
    const hidden = referenceHidden(weights, [...embedder.tokenizer.encode('instruct: retrieve code query:parse json'), SEP]);
    expect(maxAbsDiff(query, normalized(hidden[hidden.length - 1]))).toBeLessThan(1e-5);
  });

  it('mean pooling with include_prompt false leaves the prefix out of the mean', async () => {
    const { embedder, weights } = await load(
      { output: 'tokens' },
      { pooling: 'mean', include_prompt: false, bos_token_id: CLS, eos_token_id: SEP, add_bos: true, add_eos: true, query_instruction: 'search query: ' },
    );
    const [query] = (await embedder.embed({ texts: ['read file'], purpose: 'query' })).embeddings;
    const prefix = embedder.tokenizer.encode('search query: ');
    const hidden = referenceHidden(weights, [CLS, ...prefix, ...embedder.tokenizer.encode('read file'), SEP]);
    // Like the pool mask: BOS and the prefix are left out, the text and EOS are pooled.
    expect(maxAbsDiff(query, normalized(meanOf(hidden.slice(1 + prefix.length))))).toBeLessThan(1e-5);
  });

  it('says which manifest field to fix when per-token output meets pooling "none"', async () => {
    const { embedder } = await load({ output: 'tokens' }, { pooling: 'none', bos_token_id: CLS, eos_token_id: SEP });
    await expect(embedder.embed({ texts: ['hello'], purpose: 'passage' })).rejects.toThrow(/pooling "none".*"mean", "cls" or "last"/);
  });
});
