/**
 * What the embedding server computes, apart from HTTP: one OnnxEmbedder, texts tokenized once when their
 * request arrives, and an EmbeddingBatcher that packs the texts of all waiting requests into shared runs.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { EmbeddingBatcher } from './embedding-batcher.js';
import type { EmbedPurpose } from '../../models/embedder.js';
import { CodecartoError } from '../../models/errors/codecarto-error.js';
import { throwIfAborted } from '../../models/errors/abort-error.js';
import { joinPreparedBatches } from '../../models/join-prepared-batches.js';
import { OnnxEmbedder, type OnnxDevice, type PreparedBatch } from '../../models/onnx-embedder.js';
import { EmbedMetrics } from './embed-metrics.js';

export interface EmbedServiceOptions {
  modelDir: string;
  device: OnnxDevice;
  /** Padded tokens per model run; default: the embedder's (32768 on cuda, 8192 on cpu). */
  tokenBudget?: number;
  /** Texts per model run; default 128. */
  maxBatch?: number;
  /** Requests being answered, for the in-flight gauge. */
  inFlightRequests?: () => number;
  /** Bytes of request bodies held, for the in-flight bytes gauge. */
  inFlightBodyBytes?: () => number;
  log?: (message: string) => void;
}

export interface EmbedTextsCall {
  texts: string[];
  /**
   * The seed protocol's task instruction: the texts are queries and get the model's query instruction
   * with this task. Without it, a text that starts with the model's own instruction format (as clients
   * that write `Instruct: {task}\nQuery: ` themselves send) is read as a query with that task.
   */
  instruction?: string;
  signal?: AbortSignal;
}

export interface EmbedTextsResult {
  vectors: Float32Array[];
  /** Real tokens over all texts (special tokens and instructions included). */
  tokens: number;
  /** Indices of the texts cut to the model's maximum. */
  truncated: number[];
}

interface PreparedText {
  tokens: number;
  row: PreparedBatch;
}

/** Longest token of Mistral-style vocabularies, in UTF-16 units (16 spaces): any text has >= length / 16 tokens. */
const MAX_CHARS_PER_TOKEN = 16;
/** Code averages ~3 characters per token; a first cut at 4 per token seldom needs a second try. */
const FIRST_CUT_CHARS_PER_TOKEN = 4;
/** Tokenizing blocks the event loop; give other requests (and /health) a turn this often. */
const YIELD_EVERY_MS = 10;

export class EmbedService {
  readonly embedder: OnnxEmbedder;
  readonly metrics: EmbedMetrics;
  readonly maxBatch: number;
  readonly tokenBudget: number;
  private readonly batcher: EmbeddingBatcher<PreparedText, Float32Array>;
  private readonly instructionPattern: { before: string; after: string } | undefined;

  private constructor(embedder: OnnxEmbedder, options: EmbedServiceOptions) {
    this.embedder = embedder;
    this.maxBatch = embedder.maxBatchSize;
    this.tokenBudget = embedder.tokenBudget;
    const [before, after] = embedder.manifest.query_instruction.split('{task}');
    // Only a template with text on both sides of {task} can be recognized inside a text reliably.
    this.instructionPattern = before && after ? { before, after } : undefined;
    this.batcher = new EmbeddingBatcher<PreparedText, Float32Array>({
      maxTexts: this.maxBatch,
      tokenBudget: this.tokenBudget,
      run: (items) => embedder.runPrepared(joinPreparedBatches(items.map((item) => item.row), embedder.padTokenId)),
      isBatchTooLarge: (error) => error instanceof CodecartoError && error.isRetryable,
      onRun: (stats) => {
        this.metrics.runs.inc();
        this.metrics.paddedTokens.inc(stats.paddedTokens);
        this.metrics.batchTexts.observe(stats.texts);
        this.metrics.batchRequests.observe(stats.requests);
        this.metrics.batchPaddedTokens.observe(stats.paddedTokens);
        this.metrics.runSeconds.observe(stats.seconds);
      },
      log: options.log,
    });
    this.metrics = new EmbedMetrics({
      queuedTexts: () => this.batcher.queuedItems,
      queuedRequests: () => this.batcher.queuedCallers,
      inFlightRequests: options.inFlightRequests ?? (() => 0),
      inFlightBodyBytes: options.inFlightBodyBytes,
    });
  }

  static async create(options: EmbedServiceOptions): Promise<EmbedService> {
    const embedder = await OnnxEmbedder.create({
      modelDir: options.modelDir,
      device: options.device,
      maxBatchSize: options.maxBatch,
      tokenBudget: options.tokenBudget,
      log: options.log,
    });
    return new EmbedService(embedder, options);
  }

  /** Vectors for `texts`, in order, computed in runs shared with other concurrent calls. */
  async embed(call: EmbedTextsCall): Promise<EmbedTextsResult> {
    const { texts, signal } = call;
    const prepared: PreparedText[] = [];
    const truncated: number[] = [];
    let tokens = 0;
    let lastYield = performance.now();
    for (let i = 0; i < texts.length; i++) {
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
        throwIfAborted(signal);
      }
      const { purpose, task, text } = this.readPurpose(texts[i], call.instruction);
      const { row, wasTruncated } = this.prepareText(text, purpose, task);
      if (wasTruncated) truncated.push(i);
      tokens += row.tokenCounts[0];
      prepared.push({ tokens: row.tokenCounts[0], row });
    }
    const vectors = await this.batcher.submit(prepared, signal);
    this.metrics.texts.inc(texts.length);
    this.metrics.tokens.inc(tokens);
    this.metrics.truncatedTexts.inc(truncated.length);
    return { vectors, tokens, truncated };
  }

  /** Resolves once no text waits or runs. */
  idle(): Promise<void> {
    return this.batcher.idle();
  }

  close(): Promise<void> {
    return this.embedder.close();
  }

  private readPurpose(text: string, instruction: string | undefined): { purpose: EmbedPurpose; task: string | undefined; text: string } {
    const pattern = this.instructionPattern;
    if (instruction !== undefined && instruction !== '') {
      // A client may send the whole formatted instruction rather than the task; take the task out of it.
      if (pattern && instruction.startsWith(pattern.before) && instruction.endsWith(pattern.after)) {
        return { purpose: 'query', task: instruction.slice(pattern.before.length, instruction.length - pattern.after.length), text };
      }
      return { purpose: 'query', task: instruction, text };
    }
    if (pattern && text.startsWith(pattern.before)) {
      const end = text.indexOf(pattern.after, pattern.before.length);
      if (end >= 0) {
        return { purpose: 'query', task: text.slice(pattern.before.length, end), text: text.slice(end + pattern.after.length) };
      }
    }
    return { purpose: 'passage', task: undefined, text };
  }

  /**
   * Tokenizes one text, truncated to the model's maximum. Tokenizing costs more than linear time in the
   * text's length, so a long text is cut first to a length that still holds more than the maximum number
   * of tokens: 4 characters per token, then 8 and 16 (where a Mistral-vocabulary text is always over), and
   * only then the whole text (for vocabularies with longer tokens).
   */
  private prepareText(text: string, purpose: EmbedPurpose, task: string | undefined): { row: PreparedBatch; wasTruncated: boolean } {
    const maxTokens = this.embedder.maxInputTokens;
    let cut = Math.min(text.length, maxTokens * FIRST_CUT_CHARS_PER_TOKEN);
    for (;;) {
      const row = this.embedder.prepareBatch([sliceWhole(text, cut)], purpose, task);
      // A cut text that is still over the maximum keeps the same leading tokens as the whole text.
      if (cut >= text.length || row.truncated[0]) return { row, wasTruncated: row.truncated[0] };
      cut = cut >= maxTokens * MAX_CHARS_PER_TOKEN ? text.length : Math.min(text.length, cut * 2);
    }
  }
}

/** `text.slice(0, end)` without splitting a surrogate pair. */
function sliceWhole(text: string, end: number): string {
  if (end >= text.length) return text;
  const code = text.charCodeAt(end - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? end - 1 : end);
}
