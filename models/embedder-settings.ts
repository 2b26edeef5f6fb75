import { z } from 'zod';
import { PROVIDERS } from './embedder.js';
import { HTTP_EMBEDDER_DEFAULTS } from './http-embedder-defaults.js';

export const DEVICES = ['cuda', 'cpu', 'auto'] as const;

/** The onnx provider's texts per run when batch_size is not set (its token budget usually binds first). */
export const ONNX_DEFAULT_BATCH_SIZE = 128;

/**
 * How a project embeds, declared once: each rule, message and description here is what set_project publishes
 * and checks, what project.json holds, and what `--dgx-endpoint` / CODECARTO_DGX_ENDPOINT accept
 * (indexer/workspace/project-settings.ts re-exports it for tools/ and src/). Add a setting here and it is
 * all three at once.
 */
export const embedderSettingsSchema = z.object({
  provider: z
    .enum(PROVIDERS, { error: `provider must be one of: ${PROVIDERS.join(', ')}` })
    .describe('Embedding provider: "dgx" (HTTP endpoint on a DGX Spark), "onnx" (in process), "openai" (OpenAI-compatible server), "none" (lexical only). Default: the last one used for this project.'),
  dgx_endpoint: z
    .url({ protocol: /^https?$/, error: 'dgx_endpoint must be an http(s) URL such as "http://192.168.1.159:8080/embed"' })
    .max(2048)
    .optional()
    .describe('Full URL of the DGX embedding endpoint, e.g. "http://192.168.1.159:8080/embed".'),
  batch_size: z
    .number({ error: 'batch_size must be a whole number from 1 to 512' })
    .int()
    .min(1)
    .max(512)
    .optional()
    .describe(
      `Most texts per embedding request (1-512; default ${HTTP_EMBEDDER_DEFAULTS.batchSize} for dgx and openai, ${ONNX_DEFAULT_BATCH_SIZE} per run for onnx). An upper bound: codecarto sends fewer when a token budget or out-of-memory errors call for it.`,
    ),
  model: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe('onnx: the name of a pulled model (`codecarto models pull bge-small-en-v1.5`) or a model directory (model.onnx + tokenizer.json + codecarto.json). openai: the served model name.'),
  base_url: z
    .url({ protocol: /^https?$/, error: 'base_url must be an http(s) URL such as "http://localhost:8080"' })
    .max(2048)
    .optional()
    .describe('openai: server base URL; requests go to {base_url}/v1/embeddings.'),
  api_key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'api_key_env must be an environment variable name such as OPENAI_API_KEY')
    .max(128)
    .optional()
    .describe(
      "openai/dgx: name of the environment variable holding the API key (the key itself is never passed as an argument). Only a variable and an endpoint that the server's owner allowed are accepted (default: CODECARTO_* variables, to the server's own endpoint); leave it out for an endpoint that needs no key.",
    ),
  device: z.enum(DEVICES).optional().describe('onnx: "cuda", "cpu" or "auto" (cuda if it loads, else cpu).'),
});

/** What createEmbedder builds from: a project's settings once merged (the provider is always known). */
export type EmbedderSettings = z.infer<typeof embedderSettingsSchema>;
