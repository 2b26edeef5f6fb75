import type { Embedder, EmbedderHealth, EmbedOutput } from './embedder.js';
import { CodecartoError } from './errors/codecarto-error.js';
import { loadMistralTokenizer } from './hf-tokenizer.js';
import type { TextTokenizer } from './tokenizer.js';

/**
 * Provider "none": no vectors, lexical search only. It still has a tokenizer (Mistral-7B's, the one
 * NV-Embed-v2 uses) so chunks are sized the same way as with the default model, and switching to a
 * real provider later does not re-chunk.
 */
export class NoneEmbedder implements Embedder {
  readonly provider = 'none' as const;
  readonly modelId = 'none';
  readonly dimensions = null;
  readonly maxBatchSize = 512;
  readonly maxInputTokens = 4096;
  readonly tokenBudget = 32768;
  readonly maxParallelCalls = 1;
  readonly tokenizer: TextTokenizer;

  constructor(options: { tokenizer?: TextTokenizer } = {}) {
    this.tokenizer = options.tokenizer ?? loadMistralTokenizer();
  }

  async embed(): Promise<EmbedOutput> {
    throw new CodecartoError('provider none does lexical search only; call set_project with provider dgx, onnx or openai to embed');
  }

  async health(): Promise<EmbedderHealth> {
    return { ok: true, detail: 'lexical search only (no embedding provider)' };
  }

  async close(): Promise<void> {}
}
