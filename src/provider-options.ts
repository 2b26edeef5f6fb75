import { resolve } from 'node:path';
import type { SettingsInput } from '../indexer/project-settings.js';
import { PROVIDERS, type ProviderName } from '../models/embedder.js';
import { CodecartoError } from '../models/errors.js';

/** The set_project arguments as command-line flags, shared by the commands that open a project. */
export const PROVIDER_OPTIONS = {
  provider: { type: 'string' },
  'dgx-endpoint': { type: 'string' },
  'batch-size': { type: 'string' },
  model: { type: 'string' },
  'base-url': { type: 'string' },
  'api-key-env': { type: 'string' },
  device: { type: 'string' },
} as const;

type ProviderFlags = { [K in keyof typeof PROVIDER_OPTIONS]?: string };

/** Checks the flags and turns them into set_project settings; bad values say what is accepted. */
export function settingsFromFlags(values: ProviderFlags): SettingsInput {
  if (values.provider && !PROVIDERS.includes(values.provider as ProviderName)) {
    throw new CodecartoError(`Unknown provider "${values.provider}": use one of ${PROVIDERS.join(', ')}.`);
  }
  if (values.device && !['cuda', 'cpu', 'auto'].includes(values.device)) {
    throw new CodecartoError(`Unknown device "${values.device}": use cuda, cpu or auto.`);
  }
  const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 512)) {
    throw new CodecartoError('--batch-size must be a whole number from 1 to 512.');
  }
  return {
    provider: values.provider as ProviderName | undefined,
    dgx_endpoint: values['dgx-endpoint'],
    batch_size: batchSize,
    model: values.model,
    base_url: values['base-url'],
    api_key_env: values['api-key-env'],
    device: values.device as 'cuda' | 'cpu' | 'auto' | undefined,
  };
}

/** People type relative paths; the MCP tool needs absolute ones because the server's cwd means nothing to an agent. */
export function absoluteProjectPath(path: string): string {
  return path.startsWith('~') ? path : resolve(path);
}
