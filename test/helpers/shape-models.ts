import { seededRandom } from '../../models/seeded-random.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { ModelManifestInput } from '../../models/model-manifest.js';

const { onnx } = onnxProto;

/**
 * Tiny embedding models of the output shapes real ONNX exports have, generated with onnx-proto (no
 * binaries committed), plus a tiny BERT-style WordPiece tokenizer. Each token's hidden state is
 *   h[t] = E[id_t] (+ T[type_t]) (+ P[t]) + ctx,   ctx = mean of E[id] (+T, +P) over attended tokens,
 * so CLS, last-token and mean pooling give different vectors, padding changes nothing, and a
 * reference can be computed in plain JS from the returned weights.
 */

export const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'] as const;
const WORDS = [
  'the', 'a', 'parse', 'json', 'config', 'file', 'read', 'write', 'hello', 'world', 'function', 'return', 'value',
  'query', 'passage', 'search', 'document', 'retrieve', 'code', 'retry', 'backoff', 'request', 'handler', 'token',
  'export', 'const', 'async', 'await', 'for', 'if', 'of', 'to', 'in', 'with', 'attempt', 'sleep', 'response',
  ':', '_', '.', ',', '(', ')', '{', '}', ';', '=', '!', '?', '+', '*', '/', '<', '>', "'", '"', '-',
  '##s', '##ing', '##ed', '##er',
];
export const VOCAB: readonly string[] = [...SPECIALS, ...WORDS];
export const MAX_POSITIONS = 128;

export interface ShapeModelOptions {
  /** 'tokens': `last_hidden_state` [batch, tokens, dims]; 'pooled': `sentence_embedding` [batch, dims] (plus per-token `token_embeddings`). */
  output: 'tokens' | 'pooled';
  tokenTypeIds?: boolean;
  positionIds?: boolean;
  dims?: number;
  seed?: number;
  /** 'bert': [CLS] text [SEP] (BertProcessing); 'eos': text [SEP] (TemplateProcessing), like decoder models. */
  postProcessor?: 'bert' | 'eos';
}

export interface ShapeModelWeights {
  dims: number;
  /** [vocab, dims], [2, dims], [MAX_POSITIONS, dims], row-major. */
  tokenTable: Float32Array;
  typeTable: Float32Array | undefined;
  positionTable: Float32Array | undefined;
}

export interface ShapeModelFiles {
  onnx: Buffer;
  tokenizerJson: string;
  tokenizerConfigJson: string;
  weights: ShapeModelWeights;
}

export function makeShapeModel(options: ShapeModelOptions): ShapeModelFiles {
  const dims = options.dims ?? 16;
  const random = seededRandom(options.seed ?? 7);
  const table = (rows: number) => Float32Array.from({ length: rows * dims }, () => random() * 2 - 1);
  const weights: ShapeModelWeights = {
    dims,
    tokenTable: table(VOCAB.length),
    typeTable: options.tokenTypeIds ? table(2) : undefined,
    positionTable: options.positionIds ? table(MAX_POSITIONS) : undefined,
  };
  return {
    onnx: Buffer.from(onnx.ModelProto.encode(buildGraph(options, weights)).finish()),
    tokenizerJson: JSON.stringify(tokenizerJson(options.postProcessor ?? 'bert')),
    tokenizerConfigJson: JSON.stringify({ cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', model_max_length: 512 }),
    weights,
  };
}

/** Writes a model directory (model.onnx, tokenizer.json, tokenizer_config.json, codecarto.json). */
export function writeShapeModelDir(dir: string, files: ShapeModelFiles, manifest: ModelManifestInput): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), files.onnx);
  writeFileSync(join(dir, 'tokenizer.json'), files.tokenizerJson);
  writeFileSync(join(dir, 'tokenizer_config.json'), files.tokenizerConfigJson);
  writeFileSync(join(dir, 'codecarto.json'), JSON.stringify(manifest));
}

/** Hidden states the graph computes for one unpadded sequence (token type 0, positions 0..n-1). */
export function referenceHidden(weights: ShapeModelWeights, ids: number[]): Float32Array[] {
  const { dims } = weights;
  const row = (t: Float32Array, r: number) => t.subarray(r * dims, (r + 1) * dims);
  const tokens = ids.map((id, position) => {
    const v = Float32Array.from(row(weights.tokenTable, id));
    if (weights.typeTable) row(weights.typeTable, 0).forEach((x, i) => (v[i] += x));
    if (weights.positionTable) row(weights.positionTable, position).forEach((x, i) => (v[i] += x));
    return v;
  });
  const ctx = meanOf(tokens);
  return tokens.map((v) => v.map((x, i) => x + ctx[i]));
}

export function meanOf(vectors: Float32Array[]): Float32Array {
  const out = new Float32Array(vectors[0].length);
  for (const v of vectors) v.forEach((x, i) => (out[i] += x / vectors.length));
  return out;
}

export function normalized(v: Float32Array): Float32Array {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
}

function tokenizerJson(post: 'bert' | 'eos'): Record<string, unknown> {
  const added = SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const postProcessor =
    post === 'bert'
      ? { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] }
      : {
          type: 'TemplateProcessing',
          single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
          pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
          special_tokens: { '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
        };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: postProcessor,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(VOCAB.map((w, i) => [w, i])),
    },
  };
}

function buildGraph(options: ShapeModelOptions, weights: ShapeModelWeights): OnnxTypes.IModelProto {
  const { DataType } = onnx.TensorProto;
  const { AttributeType } = onnx.AttributeProto;
  const { dims } = weights;
  const tokenInput = (name: string): OnnxTypes.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: DataType.INT64, shape: { dim: [{ dimParam: 'batch' }, { dimParam: 'sequence' }] } } },
  });
  const floatOutput = (name: string, shape: OnnxTypes.TensorShapeProto.IDimension[]): OnnxTypes.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: shape } } },
  });
  const floats = (name: string, shape: number[], data: Float32Array): OnnxTypes.ITensorProto => ({
    name,
    dims: shape,
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
  const int64s = (name: string, values: number[]): OnnxTypes.ITensorProto => ({ name, dims: [values.length], dataType: DataType.INT64, int64Data: values });
  const node = (opType: string, input: string[], output: string, attribute: OnnxTypes.IAttributeProto[] = []): OnnxTypes.INodeProto => ({
    opType,
    input,
    output: [output],
    name: output,
    attribute,
  });
  const keepdims = (value: number): OnnxTypes.IAttributeProto => ({ name: 'keepdims', type: AttributeType.INT, i: value });

  const inputs = [tokenInput('input_ids'), tokenInput('attention_mask')];
  const initializers = [floats('token_table', [VOCAB.length, dims], weights.tokenTable), floats('epsilon', [], new Float32Array([1e-9])), int64s('axes_last', [-1]), int64s('axes_sequence', [1])];
  const nodes: OnnxTypes.INodeProto[] = [node('Gather', ['token_table', 'input_ids'], 'tok0', [{ name: 'axis', type: AttributeType.INT, i: 0 }])];
  let tok = 'tok0';
  if (weights.typeTable) {
    inputs.push(tokenInput('token_type_ids'));
    initializers.push(floats('type_table', [2, dims], weights.typeTable));
    nodes.push(node('Gather', ['type_table', 'token_type_ids'], 'type_vectors'), node('Add', [tok, 'type_vectors'], 'tok1'));
    tok = 'tok1';
  }
  if (weights.positionTable) {
    inputs.push(tokenInput('position_ids'));
    initializers.push(floats('position_table', [MAX_POSITIONS, dims], weights.positionTable));
    nodes.push(node('Gather', ['position_table', 'position_ids'], 'position_vectors'), node('Add', [tok, 'position_vectors'], 'tok2'));
    tok = 'tok2';
  }
  nodes.push(
    node('Cast', ['attention_mask'], 'mask', [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }]),
    node('Unsqueeze', ['mask', 'axes_last'], 'mask3'),
    node('Mul', [tok, 'mask3'], 'masked'),
    node('ReduceSum', ['masked', 'axes_sequence'], 'sum', [keepdims(1)]),
    node('ReduceSum', ['mask3', 'axes_sequence'], 'count', [keepdims(1)]),
    node('Max', ['count', 'epsilon'], 'count_safe'),
    node('Div', ['sum', 'count_safe'], 'ctx'),
    node('Add', [tok, 'ctx'], options.output === 'tokens' ? 'last_hidden_state' : 'token_embeddings'),
  );
  const tokensShape = [{ dimParam: 'batch' }, { dimParam: 'sequence' }, { dimValue: dims }];
  const outputs = [floatOutput(options.output === 'tokens' ? 'last_hidden_state' : 'token_embeddings', tokensShape)];
  if (options.output === 'pooled') {
    // sentence_embedding = the masked mean of token_embeddings, unnormalized (the manifest normalizes).
    nodes.push(
      node('Mul', ['token_embeddings', 'mask3'], 'masked_out'),
      node('ReduceSum', ['masked_out', 'axes_sequence'], 'sum_out', [keepdims(0)]),
      node('ReduceSum', ['mask3', 'axes_sequence'], 'count_out', [keepdims(0)]),
      node('Max', ['count_out', 'epsilon'], 'count_out_safe'),
      node('Div', ['sum_out', 'count_out_safe'], 'sentence_embedding'),
    );
    outputs.push(floatOutput('sentence_embedding', [{ dimParam: 'batch' }, { dimValue: dims }]));
  }
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'codecarto test shape-models',
    graph: { name: 'shape_model', input: inputs, output: outputs, initializer: initializers, node: nodes },
  };
}

