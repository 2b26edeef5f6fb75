import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { PROVIDERS } from '../models/embedder.js';
import { DEFAULT_MAX_FILES, MAX_FILES_CEILING } from '../indexer/walk/file-limit.js';
import type { Workspace } from '../indexer/workspace/workspace.js';
import { formatProjectState, projectStateShape } from './project-state-format.js';

export const setProjectInput = {
  path: z
    .string()
    .min(1)
    .max(4096)
    .describe('Absolute (or ~/-relative) path of the repository to search, e.g. "/home/me/src/app".'),
  provider: z
    .enum(PROVIDERS, { error: `provider must be one of: ${PROVIDERS.join(', ')}` })
    .optional()
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
    .describe('Most texts per embedding request (1-512, default 32). An upper bound: codecarto sends fewer when a token budget or out-of-memory errors call for it.'),
  model: z.string().min(1).max(4096).optional().describe('onnx: the name of a pulled model (`codecarto models pull bge-small-en-v1.5`) or a model directory (model.onnx + tokenizer.json + codecarto.json). openai: the served model name.'),
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
  device: z.enum(['cuda', 'cpu', 'auto']).optional().describe('onnx: "cuda", "cpu" or "auto" (cuda if it loads, else cpu).'),
  watch: z
    .boolean({ error: 'watch must be true or false' })
    .optional()
    .describe('Re-index changed files in the background once the project has been indexed (default true, remembered per project). false: search reports stale files instead.'),
  max_files: z
    .number({ error: `max_files must be a whole number from 1 to ${MAX_FILES_CEILING}` })
    .int()
    .min(1)
    .max(MAX_FILES_CEILING)
    .optional()
    .describe(`Most files the project may hold (default ${DEFAULT_MAX_FILES}, or the server's CODECARTO_MAX_FILES; remembered per project). A bigger tree is refused: raise it only for one repository that really is that big.`),
};

export function registerSetProjectTool(server: McpServer, workspace: Workspace): void {
  server.registerTool(
    'set_project',
    {
      title: 'Set project',
      description:
        'Choose the repository to search and how to embed it. Call this first, once per repository (the choice is remembered across restarts), ' +
        'then call `index`. Returns the project state: provider, model, dims, files, chunks, last index time and stale files.',
      inputSchema: setProjectInput,
      outputSchema: projectStateShape,
      annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ path, watch, max_files, ...settings }) => {
      const state = await workspace.setProject(path, settings, { watch, maxFiles: max_files });
      return { content: [{ type: 'text', text: formatProjectState(state) }], structuredContent: { ...state } };
    },
  );
}
