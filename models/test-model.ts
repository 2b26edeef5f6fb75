import { CODE_SEARCH_TASK, NV_EMBED_QUERY_INSTRUCTION } from './query-instruction.js';
import { seededRandom } from './seeded-random.js';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { mistralTokenizerFiles } from './hf-tokenizer.js';
import {
  MANIFEST_FILE,
  MODEL_FILE,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  type ModelManifestInput,
} from './model-manifest.js';

const { onnx } = onnxProto;

/** <unk>, <s>, </s> in Mistral's vocabulary. */
const SPECIAL_TOKEN_ROWS = 3;

export interface TestModelOptions {
  /** Output vector size; 4096 like NV-Embed-v2. */
  dims?: number;
  /** Embedding-table width. 256 keeps unrelated texts near-orthogonal (cosine noise ~0.06) in an ~18.5 MB file. */
  hidden?: number;
  /** PRNG seed; the same options give byte-identical files. */
  seed?: number;
  /** Give the graph NV-Embed-v2's `pool_mask` input (default true); false pools over attention_mask only. */
  poolMask?: boolean;
}

/** NV-Embed-v2's query instruction format and its retrieval task for code. */
export { CODE_SEARCH_TASK, NV_EMBED_QUERY_INSTRUCTION };

/**
 * Writes a small, deterministic ONNX embedding model with NV-Embed-v2's interface into `dir`:
 * model.onnx, Mistral-7B's tokenizer.json + tokenizer_config.json, and codecarto.json.
 *
 * The graph: int64 `input_ids`, `attention_mask`, `pool_mask` [batch, sequence] ->
 * Gather over a [32000, hidden] random float16 table -> mean over tokens where attention_mask AND pool_mask ->
 * MatMul by a fixed random [hidden, dims] projection (float16 weights, float32 math) -> L2 normalization -> float32 `embedding` [batch, dims].
 * So it is a bag of tokens: texts sharing tokens get similar vectors, unrelated texts near-orthogonal ones,
 * and padding (attention_mask 0) and masked instruction tokens (pool_mask 0) change nothing.
 */
export async function makeTestModel(dir: string, options: TestModelOptions = {}): Promise<void> {
  const dims = options.dims ?? 4096;
  const hidden = options.hidden ?? 256;
  const seed = options.seed ?? 42;
  const withPoolMask = options.poolMask ?? true;
  if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`dims must be a positive integer, got ${dims}`);
  if (!Number.isInteger(hidden) || hidden < 1) throw new RangeError(`hidden must be a positive integer, got ${hidden}`);

  // The table must cover every id the tokenizer can produce, or Gather fails at run time.
  const files = mistralTokenizerFiles();
  const vocabSize = tokenizerVocabSize(files.tokenizerJson);
  const random = gaussian(seed);
  // Weights are stored as float16 (half the file) and cast to float32 in the graph.
  const table = new Uint16Array(vocabSize * hidden);
  for (let row = 0; row < vocabSize; row++) {
    // Special tokens (<unk>, BOS, EOS) weigh less, so the BOS/EOS every text shares adds little common signal.
    const weight = row < SPECIAL_TOKEN_ROWS ? 0.25 : 1;
    for (let i = row * hidden; i < (row + 1) * hidden; i++) table[i] = toHalf(random() * weight);
  }
  const projection = new Uint16Array(hidden * dims);
  const scale = 1 / Math.sqrt(hidden);
  for (let i = 0; i < projection.length; i++) projection[i] = toHalf(random() * scale);

  const model = buildGraph({ vocabSize, hidden, dims, table, projection, withPoolMask });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MODEL_FILE), onnx.ModelProto.encode(model).finish());

  copyFileSync(files.tokenizerJson, join(dir, TOKENIZER_FILE));
  copyFileSync(files.tokenizerConfig, join(dir, TOKENIZER_CONFIG_FILE));

  const manifest: ModelManifestInput = {
    id: `codecarto-test-model-v2/h${hidden}-d${dims}-s${seed}${withPoolMask ? '' : '-nopool'}`,
    dims,
    max_tokens: 4096,
    query_instruction: NV_EMBED_QUERY_INSTRUCTION,
    default_task: CODE_SEARCH_TASK,
    passage_prefix: '',
    inputs: {
      input_ids: 'input_ids',
      attention_mask: 'attention_mask',
      ...(withPoolMask ? { pool_mask: 'pool_mask' } : {}),
    },
    output: 'embedding',
    add_bos: true,
    add_eos: true,
    pooling: 'none',
    normalize: true,
  };
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

interface GraphSpec {
  vocabSize: number;
  hidden: number;
  dims: number;
  table: Uint16Array;
  projection: Uint16Array;
  withPoolMask: boolean;
}

function buildGraph(spec: GraphSpec): OnnxTypes.IModelProto {
  const { DataType } = onnx.TensorProto;
  const { AttributeType } = onnx.AttributeProto;
  const tokenInput = (name: string): OnnxTypes.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: DataType.INT64, shape: { dim: [{ dimParam: 'batch' }, { dimParam: 'sequence' }] } } },
  });
  // rawData is little-endian, as typed arrays are on every platform Node runs on.
  const tensor = (name: string, dims: number[], dataType: number, data: Float32Array | Uint16Array): OnnxTypes.ITensorProto => ({
    name,
    dims,
    dataType,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
  const int64s = (name: string, values: number[]): OnnxTypes.ITensorProto => ({
    name,
    dims: [values.length],
    dataType: DataType.INT64,
    int64Data: values,
  });
  const node = (opType: string, input: string[], output: string[], attribute: OnnxTypes.IAttributeProto[] = []): OnnxTypes.INodeProto => ({
    opType,
    input,
    output,
    name: output[0],
    attribute,
  });

  const inputs = [tokenInput('input_ids'), tokenInput('attention_mask')];
  if (spec.withPoolMask) inputs.push(tokenInput('pool_mask'));
  const nodes: OnnxTypes.INodeProto[] = [
    node('Gather', ['embed_tokens', 'input_ids'], ['token_vectors_f16'], [{ name: 'axis', type: AttributeType.INT, i: 0 }]),
    node('Cast', ['token_vectors_f16'], ['token_vectors'], [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }]),
    node('Cast', ['projection_f16'], ['projection'], [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }]),
    // NV-Embed-v2 pools over pool_mask, which is attention_mask with the instruction zeroed: AND them.
    ...(spec.withPoolMask ? [node('Mul', ['attention_mask', 'pool_mask'], ['pooled_mask_i64'])] : []),
    node('Cast', [spec.withPoolMask ? 'pooled_mask_i64' : 'attention_mask'], ['pooled_mask'], [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }]),
    node('Unsqueeze', ['pooled_mask', 'axes_last'], ['pooled_mask_3d']),
    node('Mul', ['token_vectors', 'pooled_mask_3d'], ['masked_vectors']),
    node('ReduceSum', ['masked_vectors', 'axes_sequence'], ['vector_sum'], [{ name: 'keepdims', type: AttributeType.INT, i: 0 }]),
    node('ReduceSum', ['pooled_mask_3d', 'axes_sequence'], ['token_count'], [{ name: 'keepdims', type: AttributeType.INT, i: 0 }]),
    node('Max', ['token_count', 'epsilon'], ['token_count_safe']),
    node('Div', ['vector_sum', 'token_count_safe'], ['mean_vector']),
    node('MatMul', ['mean_vector', 'projection'], ['projected']),
    node('LpNormalization', ['projected'], ['embedding'], [
      { name: 'axis', type: AttributeType.INT, i: -1 },
      { name: 'p', type: AttributeType.INT, i: 2 },
    ]),
  ];
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'codecarto make-test-model',
    producerVersion: '1',
    graph: {
      name: 'codecarto_test_embedder',
      input: inputs,
      output: [
        {
          name: 'embedding',
          type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: spec.dims }] } } },
        },
      ],
      initializer: [
        tensor('embed_tokens', [spec.vocabSize, spec.hidden], DataType.FLOAT16, spec.table),
        tensor('projection_f16', [spec.hidden, spec.dims], DataType.FLOAT16, spec.projection),
        tensor('epsilon', [], DataType.FLOAT, new Float32Array([1e-9])),
        int64s('axes_last', [-1]),
        int64s('axes_sequence', [1]),
      ],
      node: nodes,
    },
  };
}

/** Max token id + 1 of a tokenizer.json (model vocabulary and added tokens), read without building the tokenizer. */
function tokenizerVocabSize(path: string): number {
  const json = JSON.parse(readFileSync(path, 'utf8')) as { model?: { vocab?: Record<string, number> }; added_tokens?: { id: number }[] };
  let max = -1;
  for (const id of Object.values(json.model?.vocab ?? {})) if (id > max) max = id;
  for (const token of json.added_tokens ?? []) if (token.id > max) max = token.id;
  return max + 1;
}

/** float32 -> IEEE float16 bits, round to nearest even (Float16Array is not in Node 20). */
function toHalf(value: number): number {
  halfScratch[0] = value;
  const bits = halfBits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (exponent >= 0x1f) return sign | 0x7c00; // overflow -> infinity (never reached by these weights)
  if (exponent <= 0) {
    if (exponent < -10) return sign; // underflow -> signed zero
    mantissa |= 0x800000; // subnormal: restore the implicit bit and shift
    const shift = 14 - exponent;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (rest > halfway || (rest === halfway && (half & 1) === 1) ? half + 1 : half);
  }
  const half = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent.
  return sign | (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? half + 1 : half);
}
const halfScratch = new Float32Array(1);
const halfBits = new Uint32Array(halfScratch.buffer);

/** Standard normal deviates from a seeded mulberry32 stream (Box-Muller), deterministic across platforms. */
function gaussian(seed: number): () => number {
  const uniform = seededRandom(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const u = 1 - uniform(); // (0, 1]: log stays finite
    const v = uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}
