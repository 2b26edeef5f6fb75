import { z } from 'zod';
import { PROVIDERS } from '../../models/embedder.js';

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
 * New arguments override saved ones field by field, and saved ones override `defaults` (the server's own
 * settings: `codecarto mcp` flags and CODECARTO_* variables). The provider is the call's, else the last one
 * used for this project, else the default's, else "none".
 */
export function mergeSettings(saved: ProjectSettings | null, input: SettingsInput, defaults: SettingsInput = {}): ProjectSettings {
  const provider = input.provider ?? saved?.provider ?? defaults.provider ?? 'none';
  // Provider-specific fields of another provider do not carry over (a dgx endpoint means nothing to onnx);
  // defaults that name no provider (only a batch size, say) apply to any.
  const fromDefaults = !defaults.provider || defaults.provider === provider ? defaults : {};
  const fromSaved = saved && saved.provider === provider ? saved : {};
  const merged: Record<string, unknown> = { provider };
  // In the schema's key order, so equal settings compare equal as JSON however they were given.
  for (const key of Object.keys(projectSettingsSchema.shape) as (keyof ProjectSettings)[]) {
    const value = input[key] ?? (fromSaved as SettingsInput)[key] ?? (fromDefaults as SettingsInput)[key];
    if (key !== 'provider' && value !== undefined) merged[key] = value;
  }
  return merged as ProjectSettings;
}
