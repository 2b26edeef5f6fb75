import { z } from 'zod';
import { PROVIDERS, type ProviderName } from '../models/embedder.js';

/** How a project embeds; persisted in the project's data directory so the next session reuses it. */
export const projectSettingsSchema = z.object({
  provider: z.enum(PROVIDERS),
  dgx_endpoint: z.string().optional(),
  batch_size: z.number().int().min(1).max(512).optional(),
  model: z.string().optional(),
  base_url: z.string().optional(),
  api_key_env: z.string().optional(),
  device: z.enum(['cuda', 'cpu', 'auto']).optional(),
});
export type ProjectSettings = z.infer<typeof projectSettingsSchema>;

export type SettingsInput = Partial<ProjectSettings>;

export const DEFAULT_BATCH_SIZE = 32;

/**
 * New arguments override saved ones field by field; the provider defaults to the last one used for
 * this project, then to `envProvider`, then to "none".
 */
export function mergeSettings(saved: ProjectSettings | null, input: SettingsInput, envProvider: ProviderName | undefined): ProjectSettings {
  const provider = input.provider ?? saved?.provider ?? envProvider ?? 'none';
  // Provider-specific fields of another provider do not carry over (a dgx endpoint means nothing to onnx).
  const base = saved && saved.provider === provider ? saved : { provider };
  const merged: ProjectSettings = { ...base, provider };
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}
