import { CODE_SEARCH_TASK } from './query-instruction.js';
import { z } from 'zod';
import type { EmbedPurpose } from './embedder.js';
import { HttpEmbedder, tuningOf, type HttpTuning, type RawVectors } from './http-embedder.js';
import { HTTP_EMBEDDER_DEFAULTS } from './http-embedder-defaults.js';
import { loadMistralTokenizer } from './hf-tokenizer.js';
import type { TextTokenizer } from './tokenizer.js';
import { InvalidEmbeddingResponseError } from './errors/embedding-errors.js';

/** NV-Embed-v2's retrieval instruction, adapted to code search. */
/** The default query task (NV-Embed-v2's instruction style, for code search). */
export const DEFAULT_CODE_SEARCH_INSTRUCTION = CODE_SEARCH_TASK;

/** Time and retry settings (HttpTuning) and the sizes below default to HTTP_EMBEDDER_DEFAULTS, shared with OpenAIEmbedder. */
export interface DgxEmbedderOptions extends HttpTuning {
  /** Full URL of the seed-protocol endpoint, e.g. http://192.168.1.159:8080/embed. */
  endpoint: string;
  /** Most texts per request, 1..512. An upper bound: it shrinks after out-of-memory failures. */
  batchSize?: number;
  /** Padded tokens (texts x longest) per request the planner aims for. */
  tokenBudget?: number;
  /** `embed` calls the indexer may keep in flight. */
  maxParallelCalls?: number;
  fetch?: typeof fetch;
  /** Model name for the model id (default nvidia/NV-Embed-v2). */
  model?: string;
  /** Known vector size; otherwise the first answer fixes it. */
  dims?: number;
  /** Task instruction for queries (default: DEFAULT_CODE_SEARCH_INSTRUCTION). */
  instruction?: string;
  /**
   * 'field' (default) sends `"instruction"` beside the query texts, as the seed protocol does;
   * 'prefix' writes `Instruct: {task}\nQuery: ` before each query instead, for servers that ignore the field.
   */
  instructionMode?: 'field' | 'prefix';
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Counts tokens as the model does (default: Mistral-7B's tokenizer, which NV-Embed-v2 uses). */
  tokenizer?: TextTokenizer;
  /** Longest text in tokens; longer texts are cut (default 4096, NV-Embed-v2's encode() default). */
  maxInputTokens?: number;
  log?: (message: string) => void;
}

const dgxResponseSchema = z.object({ embeddings: z.array(z.unknown()) });

/** The DGX's embedding server: `POST {"texts": [...], "instruction"?}` -> `{"embeddings": [[...], ...]}`. */
export class DgxEmbedder extends HttpEmbedder {
  readonly provider = 'dgx' as const;
  readonly modelId: string;
  readonly instruction: string;
  readonly instructionMode: 'field' | 'prefix';

  constructor(options: DgxEmbedderOptions) {
    super({
      ...tuningOf(options),
      endpoint: options.endpoint,
      batchSize: options.batchSize ?? HTTP_EMBEDDER_DEFAULTS.batchSize,
      tokenBudget: options.tokenBudget ?? HTTP_EMBEDDER_DEFAULTS.tokenBudget,
      maxParallelCalls: options.maxParallelCalls ?? HTTP_EMBEDDER_DEFAULTS.maxParallelCalls,
      maxInputTokens: options.maxInputTokens ?? 4096,
      fetch: options.fetch,
      apiKey: options.apiKey,
      dims: options.dims,
      tokenizer: options.tokenizer,
      log: options.log,
    });
    this.modelId = `dgx:${options.model ?? 'nvidia/NV-Embed-v2'}`;
    this.instruction = options.instruction ?? DEFAULT_CODE_SEARCH_INSTRUCTION;
    this.instructionMode = options.instructionMode ?? 'field';
  }

  protected override prepareText(text: string, purpose: EmbedPurpose): string {
    return purpose === 'query' && this.instructionMode === 'prefix' ? `Instruct: ${this.instruction}\nQuery: ${text}` : text;
  }

  protected requestBody(texts: string[], purpose: EmbedPurpose): unknown {
    return purpose === 'query' && this.instructionMode === 'field' ? { texts, instruction: this.instruction } : { texts };
  }

  protected readVectors(json: unknown, count: number): RawVectors {
    const parsed = dgxResponseSchema.safeParse(json);
    if (!parsed.success) {
      throw new InvalidEmbeddingResponseError(
        `Embedding endpoint ${this.endpoint} answered ${count} texts without an "embeddings" list: ${preview(json)}. ` +
          'Expected {"embeddings": [[float, ...], ...]}.',
        { endpoint: this.endpoint, cause: parsed.error },
      );
    }
    return parsed.data.embeddings;
  }

  protected unreachableHint(): string {
    return 'Start the embedding server on the DGX (`codecarto embed-server --model <dir> --host 0.0.0.0 --port 8080`, or the old FastAPI one) or fix the endpoint URL (`dgx_endpoint` of set_project, `--dgx-endpoint` on the command line); `codecarto doctor --dgx-endpoint <url>` checks it.';
  }

  protected defaultTokenizer(): TextTokenizer {
    return loadMistralTokenizer();
  }
}

export function preview(json: unknown): string {
  const text = JSON.stringify(json) ?? String(json);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
