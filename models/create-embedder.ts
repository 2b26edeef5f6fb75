import type { Embedder } from './embedder.js';
import type { EmbedderSettings } from './embedder-settings.js';
import { InvalidInputError } from './errors/codecarto-error.js';

/** What a project says about its embedder (models/embedder-settings.ts: the schema set_project and project.json share). */
export type { EmbedderSettings } from './embedder-settings.js';

/**
 * Builds the embedder a project's settings describe. Providers load lazily so that `none` and `dgx`
 * never load onnxruntime-node. API keys are read here, at the edge, from the named variable.
 */
export async function createEmbedder(settings: EmbedderSettings, log: (message: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<Embedder> {
  const apiKey = readApiKey(settings, env);
  switch (settings.provider) {
    case 'none': {
      const { NoneEmbedder } = await import('./none-embedder.js');
      return new NoneEmbedder();
    }
    case 'dgx': {
      const { DgxEmbedder } = await import('./dgx-embedder.js');
      return new DgxEmbedder({
        endpoint: settings.dgx_endpoint!,
        batchSize: settings.batch_size,
        apiKey,
        log,
        requestTimeoutMs: requestTimeoutFrom(env),
        queryTimeoutMs: queryTimeoutFrom(env),
        // For servers that ignore the seed protocol's "instruction" field: put it into the query text.
        instruction: env.CODECARTO_QUERY_INSTRUCTION,
        instructionMode: env.CODECARTO_INSTRUCTION_MODE === 'prefix' ? 'prefix' : 'field',
      });
    }
    case 'openai': {
      const { OpenAIEmbedder } = await import('./openai-embedder.js');
      return new OpenAIEmbedder({
        baseUrl: settings.base_url!,
        model: settings.model!,
        batchSize: settings.batch_size,
        apiKey,
        log,
        requestTimeoutMs: requestTimeoutFrom(env),
        queryTimeoutMs: queryTimeoutFrom(env),
        instruction: env.CODECARTO_QUERY_INSTRUCTION,
      });
    }
    case 'onnx': {
      const { OnnxEmbedder } = await import('./onnx-embedder.js');
      const { codecartoHome, modelsDirOf, resolveModelDirectory } = await import('./model-store.js');
      return OnnxEmbedder.create({
        // A directory, or the name of a model pulled into $CODECARTO_HOME/models.
        modelDir: resolveModelDirectory(settings.model!, modelsDirOf(codecartoHome(env))),
        device: settings.device ?? 'auto',
        maxBatchSize: settings.batch_size,
        log,
      });
    }
  }
}

/**
 * The key named by api_key_env, for the providers that send one. The workspace has already checked the
 * name and the endpoint against the server's CredentialPolicy, so saying "not set" here tells the caller
 * nothing about variables it may not name; other providers never read the variable at all.
 */
function readApiKey(settings: EmbedderSettings, env: NodeJS.ProcessEnv): string | undefined {
  if (!settings.api_key_env || (settings.provider !== 'dgx' && settings.provider !== 'openai')) return undefined;
  const key = env[settings.api_key_env];
  if (!key) {
    throw new InvalidInputError(`api_key_env names ${settings.api_key_env}, but that environment variable is not set in the server's environment; set it where the MCP server is started.`);
  }
  return key;
}

/**
 * CODECARTO_EMBED_TIMEOUT_MS: how long an HTTP embedding request waits for a first answer, and at most
 * (default 60 s). The server's owner sets it, never a tool argument: a call waits up to twice this on
 * an endpoint that never answers.
 */
export function requestTimeoutFrom(env: NodeJS.ProcessEnv): number | undefined {
  return millisecondsFrom(env, 'CODECARTO_EMBED_TIMEOUT_MS', 1_000, 3_600_000, 'how long an embedding request waits for an answer');
}

/**
 * CODECARTO_QUERY_TIMEOUT_MS: how long a search waits for its query vector before it answers from the
 * lexical index alone (default 2 s, so that a search answers within 3 s whatever the endpoint does).
 */
export function queryTimeoutFrom(env: NodeJS.ProcessEnv): number | undefined {
  return millisecondsFrom(env, 'CODECARTO_QUERY_TIMEOUT_MS', 100, 60_000, 'how long a search waits for its query vector');
}

/** A whole number of milliseconds from `min` to `max` in variable `name`; undefined when unset. */
function millisecondsFrom(env: NodeJS.ProcessEnv, name: string, min: number, max: number, meaning: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < min || ms > max) {
    throw new InvalidInputError(`${name} must be a whole number of milliseconds from ${min} to ${max} (${meaning}); got ${JSON.stringify(raw)}.`);
  }
  return ms;
}
