import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Embedder, EmbedCall, EmbedderHealth, EmbedOutput, EmbedPurpose } from './embedder.js';
import { ONNX_DEFAULT_BATCH_SIZE, type DEVICES } from './embedder-settings.js';
import { CodecartoError } from './errors/codecarto-error.js';
import { throwIfAborted } from './errors/abort-error.js';
import { TooManyValuesForCallError } from './errors/embedding-errors.js';
import { ModelLoadError } from './errors/model-load-error.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { formatQueryInstruction, loadModelDir, type ModelDir, type ModelManifest } from './model-manifest.js';

/** The settings' `device` values (embedder-settings.ts), declared there once. */
export type OnnxDevice = (typeof DEVICES)[number];

export interface OnnxEmbedderOptions {
  /** Directory with model.onnx, tokenizer.json (+ tokenizer_config.json) and codecarto.json. */
  modelDir: string;
  /** 'auto' = cuda if its execution provider loads, else cpu (and health() says why). */
  device: OnnxDevice;
  /** Most texts per embed call; default 128. */
  maxBatchSize?: number;
  /** Tokens per call (padding included) the batch planner aims for; default 32768 on cuda, 8192 on cpu. */
  tokenBudget?: number;
  /** Query task put into the manifest's query_instruction; default: the manifest's default_task. */
  queryTask?: string;
  log?: (message: string) => void;
}

/** One padded batch, as the graph receives it. Row-major [batch, length]. */
export interface PreparedBatch {
  batch: number;
  length: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** attention mask with the query instruction (and BOS before it) zeroed. */
  poolMask: BigInt64Array;
  /** Tokens per text, special tokens included, padding excluded. */
  tokenCounts: number[];
  /** Per text: true when it was cut to the manifest's max_tokens. */
  truncated: boolean[];
}

const DEFAULT_MAX_BATCH_SIZE = ONNX_DEFAULT_BATCH_SIZE;

/**
 * Embeds in process with onnxruntime-node. Runs one session.run at a time (maxParallelCalls 1): a second
 * concurrent run would only compete for the same cores or GPU and double peak memory.
 */
export class OnnxEmbedder implements Embedder {
  readonly provider = 'onnx' as const;
  readonly modelId: string;
  readonly dimensions: number;
  readonly maxBatchSize: number;
  readonly maxInputTokens: number;
  readonly tokenBudget: number;
  readonly maxParallelCalls = 1;
  readonly tokenizer: HfTokenizer;
  /** Execution provider actually in use. */
  readonly executionProvider: 'cuda' | 'cpu';
  readonly manifest: ModelManifest;
  /** True when the graph takes a pool mask, so the query instruction is left out of pooling. */
  readonly usesPoolMask: boolean;
  /** Instruction text put before every query. */
  readonly queryInstruction: string;

  private session: ort.InferenceSession | undefined;
  private readonly modelDir: ModelDir;
  private readonly bosId: number | undefined;
  private readonly eosId: number | undefined;
  private readonly padId: number;
  /** Graph input fed with zeros, when the graph has one. */
  private readonly tokenTypeIdsInput: string | undefined;
  /** Graph input fed with 0..length-1, when the graph has one. */
  private readonly positionIdsInput: string | undefined;
  private readonly cudaFallbackReason: string | undefined;
  private readonly prefixIds = new Map<string, number[]>();
  /** Tail of the chain of runs: each run starts after the previous one settles. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(init: {
    modelDir: ModelDir;
    session: ort.InferenceSession;
    tokenizer: HfTokenizer;
    executionProvider: 'cuda' | 'cpu';
    cudaFallbackReason: string | undefined;
    modelId: string;
    options: OnnxEmbedderOptions;
  }) {
    const { manifest } = init.modelDir;
    this.modelDir = init.modelDir;
    this.manifest = manifest;
    this.session = init.session;
    this.tokenizer = init.tokenizer;
    this.executionProvider = init.executionProvider;
    this.cudaFallbackReason = init.cudaFallbackReason;
    this.modelId = init.modelId;
    this.dimensions = manifest.dims;
    this.maxInputTokens = manifest.max_tokens;
    this.maxBatchSize = init.options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    this.tokenBudget = init.options.tokenBudget ?? (init.executionProvider === 'cuda' ? 32768 : 8192);
    this.queryInstruction = formatQueryInstruction(manifest, init.options.queryTask ?? manifest.default_task);
    this.bosId = manifest.add_bos ? (manifest.bos_token_id ?? init.tokenizer.bosTokenId) : undefined;
    this.eosId = manifest.add_eos ? (manifest.eos_token_id ?? init.tokenizer.eosTokenId) : undefined;
    this.padId = manifest.pad_token_id ?? init.tokenizer.padTokenId ?? init.tokenizer.eosTokenId ?? 0;
    const graphInputs = new Set(init.session.inputNames);
    this.usesPoolMask = manifest.inputs.pool_mask !== undefined && graphInputs.has(manifest.inputs.pool_mask);
    this.tokenTypeIdsInput = optionalInput(manifest.inputs.token_type_ids, 'token_type_ids', graphInputs);
    this.positionIdsInput = optionalInput(manifest.inputs.position_ids, 'position_ids', graphInputs);
  }

  static async create(options: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
    const log = options.log ?? (() => {});
    if (options.maxBatchSize !== undefined && !(Number.isInteger(options.maxBatchSize) && options.maxBatchSize >= 1)) {
      throw new ModelLoadError(`maxBatchSize must be a positive integer, got ${options.maxBatchSize}.`);
    }
    if (options.tokenBudget !== undefined && !(Number.isInteger(options.tokenBudget) && options.tokenBudget >= 1)) {
      throw new ModelLoadError(`tokenBudget must be a positive integer, got ${options.tokenBudget}.`);
    }
    const modelDir = loadModelDir(options.modelDir);
    const { manifest } = modelDir;
    const tokenizer = HfTokenizer.fromFiles(modelDir.tokenizerPath, modelDir.tokenizerConfigPath);
    if (manifest.add_bos && (manifest.bos_token_id ?? tokenizer.bosTokenId) === undefined) {
      throw new ModelLoadError(`${modelDir.manifestPath} sets add_bos, but the tokenizer names no BOS token. Set bos_token_id in the manifest or add tokenizer_config.json.`);
    }
    if (manifest.add_eos && (manifest.eos_token_id ?? tokenizer.eosTokenId) === undefined) {
      throw new ModelLoadError(`${modelDir.manifestPath} sets add_eos, but the tokenizer names no EOS token. Set eos_token_id in the manifest or add tokenizer_config.json.`);
    }

    let session: ort.InferenceSession;
    let executionProvider: 'cuda' | 'cpu';
    let cudaFallbackReason: string | undefined;
    if (options.device === 'cpu') {
      session = await createSession(modelDir.modelPath, 'cpu');
      executionProvider = 'cpu';
    } else {
      try {
        session = await createSession(modelDir.modelPath, 'cuda');
        executionProvider = 'cuda';
      } catch (err) {
        const reason = errorText(err);
        if (options.device === 'cuda') {
          throw new ModelLoadError(cudaHelp(reason, modelDir.modelPath), { cause: err });
        }
        cudaFallbackReason = reason;
        log(`onnx: cuda unavailable (${reason}), using cpu`);
        session = await createSession(modelDir.modelPath, 'cpu');
        executionProvider = 'cpu';
      }
    }

    try {
      checkGraph(session, modelDir);
    } catch (err) {
      await session.release().catch(() => {});
      throw err;
    }
    const modelId = manifest.id ?? derivedModelId(modelDir, tokenizer);
    const embedder = new OnnxEmbedder({ modelDir, session, tokenizer, executionProvider, cudaFallbackReason, modelId, options });
    log(
      `onnx: loaded ${modelId} (${manifest.dims} dims, max ${manifest.max_tokens} tokens) on ${executionProvider}` +
        (embedder.usesPoolMask ? ', query instruction masked out of pooling' : ''),
    );
    return embedder;
  }

  /**
   * Tokenizes and right-pads `texts` the way the model expects: [BOS] prefix+text [EOS], truncated to
   * max_tokens (the EOS is kept). For queries the prefix is the query instruction; the pool mask zeroes
   * BOS and the instruction's tokens, so only the text (and EOS) is pooled, like NV-Embed-v2's encode()
   * (which zeroes the first len(tokenize(instruction)) positions: the same count for an instruction ending
   * in a space, whose trailing "▁" merges into the text's first token).
   */
  prepareBatch(texts: string[], purpose: EmbedPurpose, task?: string): PreparedBatch {
    // `task` lets a caller (the embedding server) use the task a client sent instead of the configured one.
    const queryInstruction = task === undefined ? this.queryInstruction : formatQueryInstruction(this.manifest, task);
    const prefix = purpose === 'query' ? queryInstruction : this.manifest.passage_prefix;
    const prefixIds = prefix === '' ? [] : this.encodePrefix(prefix);
    const lead = this.bosId === undefined ? [] : [this.bosId];
    const tail = this.eosId === undefined ? [] : [this.eosId];
    const room = Math.max(1, this.manifest.max_tokens - lead.length - tail.length);
    const sequences: number[][] = [];
    const poolStarts: number[] = [];
    const truncated: boolean[] = [];
    for (const text of texts) {
      let ids = this.tokenizer.encode(prefix + text);
      const prefixTokens = commonPrefixLength(prefixIds, ids);
      truncated.push(ids.length > room);
      if (ids.length > room) ids = ids.slice(0, room);
      const sequence = [...lead, ...ids, ...tail];
      // Like NV-Embed-v2: with no prefix nothing is masked (BOS is pooled); with one, BOS and the prefix are.
      let poolStart = prefixTokens > 0 ? lead.length + Math.min(prefixTokens, ids.length) : 0;
      // Nothing left to pool (e.g. an empty text with no EOS): pool everything rather than divide by zero.
      if (poolStart >= sequence.length) poolStart = 0;
      sequences.push(sequence);
      poolStarts.push(poolStart);
    }
    const batch = texts.length;
    const length = Math.max(1, ...sequences.map((s) => s.length));
    const inputIds = new BigInt64Array(batch * length).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(batch * length);
    const poolMask = new BigInt64Array(batch * length);
    sequences.forEach((sequence, row) => {
      const offset = row * length;
      for (let i = 0; i < sequence.length; i++) {
        inputIds[offset + i] = BigInt(sequence[i]);
        attentionMask[offset + i] = 1n;
        if (i >= poolStarts[row]) poolMask[offset + i] = 1n;
      }
    });
    return { batch, length, inputIds, attentionMask, poolMask, tokenCounts: sequences.map((s) => s.length), truncated };
  }

  /** Id that fills padding positions; callers that join prepared batches pad with it. */
  get padTokenId(): number {
    return this.padId;
  }

  /**
   * Runs a batch made by `prepareBatch` (or joined from several), one run at a time like `embed`.
   * The embedding server uses it to tokenize each request once and batch texts across requests.
   */
  async runPrepared(prepared: PreparedBatch, signal?: AbortSignal): Promise<Float32Array[]> {
    throwIfAborted(signal);
    if (prepared.batch === 0) return [];
    return this.serialized(async () => {
      throwIfAborted(signal);
      const session = this.session;
      if (session === undefined) throw new CodecartoError('The ONNX embedder was closed; create a new one to embed.');
      return this.run(session, prepared);
    });
  }

  async embed(call: EmbedCall): Promise<EmbedOutput> {
    const { texts, purpose, signal } = call;
    if (texts.length > this.maxBatchSize) throw new TooManyValuesForCallError({ maxBatchSize: this.maxBatchSize, count: texts.length });
    throwIfAborted(signal);
    if (texts.length === 0) return { embeddings: [] };
    const prepared = this.prepareBatch(texts, purpose);
    return this.serialized(async () => {
      throwIfAborted(signal); // a cancelled call that waited for its turn does not run
      const session = this.session;
      if (session === undefined) throw new CodecartoError('The ONNX embedder was closed; create a new one (set_project again) to embed.');
      return { embeddings: await this.run(session, prepared) };
    });
  }

  async health(): Promise<EmbedderHealth> {
    const ep = this.executionProvider;
    if (this.session === undefined) {
      return { ok: false, detail: 'onnx embedder closed', executionProvider: ep };
    }
    const detail = this.cudaFallbackReason !== undefined
      ? `cuda unavailable (${this.cudaFallbackReason}), using cpu`
      : `onnxruntime ${ep} execution provider`;
    return { ok: true, detail: `${detail}; model ${this.modelId} (${this.dimensions} dims)`, executionProvider: ep };
  }

  async close(): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    this.session = undefined;
    await this.queue.catch(() => {}); // let a run in progress finish before freeing its session
    await session.release();
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task, task);
    this.queue = result.catch(() => {});
    return result;
  }

  private encodePrefix(prefix: string): number[] {
    let ids = this.prefixIds.get(prefix);
    if (ids === undefined) {
      ids = this.tokenizer.encode(prefix);
      this.prefixIds.set(prefix, ids);
    }
    return ids;
  }

  private async run(session: ort.InferenceSession, prepared: PreparedBatch): Promise<Float32Array[]> {
    const { inputs, output } = this.manifest;
    const shape = [prepared.batch, prepared.length];
    const feeds: Record<string, ort.Tensor> = {
      [inputs.input_ids]: new ort.Tensor('int64', prepared.inputIds, shape),
      [inputs.attention_mask]: new ort.Tensor('int64', prepared.attentionMask, shape),
    };
    if (this.usesPoolMask) feeds[inputs.pool_mask!] = new ort.Tensor('int64', prepared.poolMask, shape);
    if (this.tokenTypeIdsInput !== undefined) {
      feeds[this.tokenTypeIdsInput] = new ort.Tensor('int64', new BigInt64Array(prepared.batch * prepared.length), shape);
    }
    if (this.positionIdsInput !== undefined) {
      // Right padding: real tokens sit at 0..n-1 in every row; what padding gets is masked anyway.
      const positions = new BigInt64Array(prepared.batch * prepared.length);
      for (let i = 0; i < positions.length; i++) positions[i] = BigInt(i % prepared.length);
      feeds[this.positionIdsInput] = new ort.Tensor('int64', positions, shape);
    }
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await session.run(feeds);
    } catch (err) {
      const text = errorText(err);
      const outOfMemory = /out of memory|failed to allocate|bad_alloc|BFCArena/i.test(text);
      throw new CodecartoError(
        `onnxruntime failed on a batch of ${prepared.batch} x ${prepared.length} tokens: ${text}. ` +
          (outOfMemory ? 'Use smaller batches or a smaller token budget.' : 'Check that the model matches its codecarto.json.'),
        { cause: err, isRetryable: outOfMemory },
      );
    }
    const tensor = results[output] as ort.Tensor | undefined;
    if (tensor === undefined || tensor.type !== 'float32') {
      throw new CodecartoError(`The model gave no float32 output named "${output}"; fix "output" in ${this.modelDir.manifestPath}.`);
    }
    const vectors = this.readVectors(tensor, prepared);
    for (const vector of vectors) {
      for (let i = 0; i < vector.length; i++) {
        if (!Number.isFinite(vector[i])) {
          throw new CodecartoError(`The model produced a non-finite value in "${output}"; the model or its inputs are broken (check codecarto.json's inputs).`);
        }
      }
      if (this.manifest.normalize) normalizeInPlace(vector);
    }
    return vectors;
  }

  private readVectors(tensor: ort.Tensor, prepared: PreparedBatch): Float32Array[] {
    const data = tensor.data as Float32Array;
    const dims = tensor.dims;
    const { batch, length } = prepared;
    const width = dims[dims.length - 1];
    if (width !== this.dimensions) {
      throw new CodecartoError(`The model's output has ${width} dims but ${this.modelDir.manifestPath} says ${this.dimensions}; fix "dims" in the manifest.`);
    }
    if (dims.length === 2 && dims[0] === batch) {
      return Array.from({ length: batch }, (_, row) => data.slice(row * width, (row + 1) * width));
    }
    if (dims.length === 3 && dims[0] === batch && dims[1] === length) {
      const pooling = this.manifest.pooling;
      if (pooling === 'none') {
        throw new CodecartoError(`The model outputs per-token vectors [batch, tokens, dims] but ${this.modelDir.manifestPath} sets pooling "none"; set pooling to "mean", "cls" or "last".`);
      }
      return Array.from({ length: batch }, (_, row) => {
        const vector = new Float32Array(width);
        const rowBase = row * length;
        if (pooling === 'cls') {
          vector.set(data.subarray(rowBase * width, (rowBase + 1) * width));
        } else if (pooling === 'last') {
          // Right padding: the last real token (EOS when the manifest adds one) of this row.
          const last = prepared.tokenCounts[row] - 1;
          vector.set(data.subarray((rowBase + last) * width, (rowBase + last + 1) * width));
        } else {
          // Mean over real tokens only, so padding never changes a vector; the prompt counts unless include_prompt is false.
          const mask = this.manifest.include_prompt ? prepared.attentionMask : prepared.poolMask;
          let pooled = 0;
          for (let t = 0; t < length; t++) {
            if (mask[rowBase + t] === 0n) continue;
            pooled++;
            const offset = (rowBase + t) * width;
            for (let i = 0; i < width; i++) vector[i] += data[offset + i];
          }
          for (let i = 0; i < width; i++) vector[i] /= Math.max(1, pooled);
        }
        return vector;
      });
    }
    throw new CodecartoError(
      `The model's output "${this.manifest.output}" has shape [${dims.join(', ')}] for a batch of ${batch} x ${length}; expected [batch, dims] or [batch, tokens, dims]. Check codecarto.json.`,
    );
  }
}

async function createSession(modelPath: string, ep: 'cpu' | 'cuda'): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(modelPath, {
      executionProviders: [ep],
      graphOptimizationLevel: 'all',
      // Fatal only: a cuda provider that fails to load is reported through the rejection, not stderr noise.
      logSeverityLevel: ep === 'cuda' ? 4 : 3,
    });
  } catch (err) {
    if (ep === 'cuda') throw err;
    throw new ModelLoadError(`onnxruntime cannot load ${modelPath} on cpu: ${errorText(err)}. Re-export the model (opset 17 or older is safest) or check the file is complete.`, { cause: err });
  }
}

function cudaHelp(reason: string, modelPath: string): string {
  const where = `${platform()}/${arch()}`;
  const build =
    arch() === 'arm64'
      ? "onnxruntime-node's prebuilt linux/arm64 binaries are CPU-only: build onnxruntime with CUDA (--use_cuda --build_nodejs, CMAKE_CUDA_ARCHITECTURES=121 for the DGX Spark's GB10) and copy its binding and libraries into node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/ (see the GB10 guide, docs/gb10.md)"
      : 'install the CUDA provider with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (needs CUDA 12 and cuDNN 9), or on the DGX Spark build onnxruntime with CUDA (see the GB10 guide, docs/gb10.md)';
  return (
    `The CUDA execution provider could not load ${modelPath} on ${where} (${reason}). ` +
    `To use the GPU, ${build}. Or set device "cpu" (or "auto" to fall back to cpu when cuda is unavailable).`
  );
}

function checkGraph(session: ort.InferenceSession, modelDir: ModelDir): void {
  const { manifest, manifestPath } = modelDir;
  const graphInputs = session.inputNames;
  const declared = new Map<string, string | undefined>([
    ['input_ids', manifest.inputs.input_ids],
    ['attention_mask', manifest.inputs.attention_mask],
    ['pool_mask', manifest.inputs.pool_mask],
    ['token_type_ids', manifest.inputs.token_type_ids],
    ['position_ids', manifest.inputs.position_ids],
  ]);
  const problems: string[] = [];
  for (const role of ['input_ids', 'attention_mask', 'pool_mask'] as const) {
    const name = declared.get(role);
    if (name !== undefined && !graphInputs.includes(name)) problems.push(`inputs.${role} is "${name}", which the graph does not take`);
  }
  const fed = new Set([...declared.values()].filter((n): n is string => n !== undefined));
  // Fed automatically when the graph has them under their usual names.
  fed.add('token_type_ids');
  fed.add('position_ids');
  const unfed = graphInputs.filter((name) => !fed.has(name));
  if (unfed.length > 0) problems.push(`the graph takes inputs that the manifest does not map: ${unfed.join(', ')}`);
  if (!session.outputNames.includes(manifest.output)) problems.push(`output is "${manifest.output}", which the graph does not produce`);
  if (problems.length > 0) {
    throw new ModelLoadError(
      `${manifestPath} does not match model.onnx: ${problems.join('; ')}. The graph's inputs are ${graphInputs.join(', ')} and its outputs ${session.outputNames.join(', ')}; fix the manifest.`,
    );
  }
}

/** "<dir name>@<12 hex>" from the tokenizer and the model file's size, head and tail (hashing a 14 GB model would take minutes). */
function derivedModelId(modelDir: ModelDir, tokenizer: HfTokenizer): string {
  const hash = createHash('sha256').update(tokenizer.id);
  const fd = openSync(modelDir.modelPath, 'r');
  try {
    const size = fstatSync(fd).size;
    hash.update(String(size));
    const chunk = Buffer.alloc(Math.min(size, 1 << 20));
    readSync(fd, chunk, 0, chunk.length, 0);
    hash.update(chunk);
    readSync(fd, chunk, 0, chunk.length, Math.max(0, size - chunk.length));
    hash.update(chunk);
  } finally {
    closeSync(fd);
  }
  return `${basename(modelDir.dir)}@${hash.digest('hex').slice(0, 12)}`;
}

/** The declared name, else the conventional one, when the graph has that input. */
function optionalInput(declared: string | undefined, conventional: string, graphInputs: Set<string>): string | undefined {
  const name = declared ?? conventional;
  return graphInputs.has(name) ? name : undefined;
}

function commonPrefixLength(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function normalizeInPlace(vector: Float32Array): void {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  const norm = Math.sqrt(sum);
  if (norm === 0) return;
  for (let i = 0; i < vector.length; i++) vector[i] /= norm;
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // onnxruntime appends multi-line native logs with ANSI colours; keep the first line.
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').split('\n')[0].trim();
}
