import { z } from 'zod';
import type { EmbedPurpose } from './embedder.js';
import { HttpEmbedder, tuningOf, type HttpTuning, type RawVectors } from './http-embedder.js';
import { HTTP_EMBEDDER_DEFAULTS } from './http-embedder-defaults.js';
import { loadMistralTokenizer } from './hf-tokenizer.js';
import type { TextTokenizer } from './tokenizer.js';
import { InvalidEmbeddingResponseError } from './errors/embedding-errors.js';
import { preview } from './dgx-embedder.js';

/** Time and retry settings (HttpTuning) and the sizes below default to HTTP_EMBEDDER_DEFAULTS, shared with DgxEmbedder. */
export interface OpenAIEmbedderOptions extends HttpTuning {
  /** Server root, with or without a trailing `/v1` (e.g. https://api.openai.com/v1, http://dgx:8080). */
  baseUrl: string;
  /** Model name sent in every request and recorded as `openai:<model>`. */
  model: string;
  /** Bearer key; the caller reads it from the env var named by `api_key_env`. */
  apiKey?: string;
  /** Most texts per request, 1..512. */
  batchSize?: number;
  /** Padded tokens per request the planner aims for. */
  tokenBudget?: number;
  maxParallelCalls?: number;
  fetch?: typeof fetch;
  dims?: number;
  /**
   * Task instruction for queries, written as `Instruct: {task}\nQuery: ` before each query. Default:
   * none (OpenAI's own models take no instruction).
   */
  instruction?: string;
  /** Counts tokens for planning (default: Mistral-7B's tokenizer, an approximation for other models). */
  tokenizer?: TextTokenizer;
  /** Longest text in tokens; longer texts are cut (default 8191, OpenAI's limit). */
  maxInputTokens?: number;
  log?: (message: string) => void;
}

const openAIResponseSchema = z.object({
  data: z.array(z.object({ index: z.number().int(), embedding: z.unknown() })),
});

/** Joins a base URL (with or without `/v1`, with or without a trailing slash) to `/v1/embeddings`. */
export function openAIEmbeddingsUrl(baseUrl: string): string {
  const trimmed = baseUrl.trim().replace(/\/+$/, '');
  return /\/v1$/.test(trimmed) ? `${trimmed}/embeddings` : `${trimmed}/v1/embeddings`;
}

/** Any OpenAI-compatible `/v1/embeddings` endpoint. */
export class OpenAIEmbedder extends HttpEmbedder {
  readonly provider = 'openai' as const;
  readonly modelId: string;
  readonly model: string;
  readonly instruction: string | undefined;

  constructor(options: OpenAIEmbedderOptions) {
    super({
      ...tuningOf(options),
      endpoint: openAIEmbeddingsUrl(options.baseUrl),
      batchSize: options.batchSize ?? HTTP_EMBEDDER_DEFAULTS.batchSize,
      tokenBudget: options.tokenBudget ?? HTTP_EMBEDDER_DEFAULTS.tokenBudget,
      maxParallelCalls: options.maxParallelCalls ?? HTTP_EMBEDDER_DEFAULTS.maxParallelCalls,
      maxInputTokens: options.maxInputTokens ?? 8191,
      fetch: options.fetch,
      apiKey: options.apiKey,
      dims: options.dims,
      tokenizer: options.tokenizer,
      log: options.log,
    });
    this.model = options.model;
    this.modelId = `openai:${options.model}`;
    this.instruction = options.instruction || undefined;
  }

  protected override prepareText(text: string, purpose: EmbedPurpose): string {
    return purpose === 'query' && this.instruction ? `Instruct: ${this.instruction}\nQuery: ${text}` : text;
  }

  protected requestBody(texts: string[]): unknown {
    return { input: texts, model: this.model };
  }

  protected readVectors(json: unknown, count: number): RawVectors {
    const parsed = openAIResponseSchema.safeParse(json);
    if (!parsed.success) {
      throw new InvalidEmbeddingResponseError(
        `Embedding endpoint ${this.endpoint} answered ${count} texts without a "data" list of {index, embedding}: ${preview(json)}.`,
        { endpoint: this.endpoint, cause: parsed.error },
      );
    }
    const data = parsed.data.data;
    if (data.length !== count) return data.map((item) => item.embedding); // the count check names the mismatch
    const ordered = new Array<unknown>(count);
    const seen = new Set<number>();
    for (const item of data) {
      if (item.index < 0 || item.index >= count || seen.has(item.index)) {
        throw new InvalidEmbeddingResponseError(
          `Embedding endpoint ${this.endpoint} returned ${item.index < 0 || item.index >= count ? 'out-of-range' : 'duplicate'} index ${item.index} for ${count} texts.`,
          { endpoint: this.endpoint },
        );
      }
      seen.add(item.index);
      ordered[item.index] = item.embedding;
    }
    return ordered;
  }

  protected unreachableHint(): string {
    return 'Check the base URL (`base_url` of set_project, `--base-url` on the command line) and that the server is up.';
  }

  protected defaultTokenizer(): TextTokenizer {
    return loadMistralTokenizer();
  }
}
