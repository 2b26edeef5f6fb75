import type { z } from 'zod';
import { embedderSettingsSchema } from '../../models/embedder-settings.js';

/**
 * How a project embeds; persisted in the project's data directory (project.json) so the next session reuses
 * it. The one settings schema lives in models/ (createEmbedder reads it there); tools/ and src/ take it from here.
 */
export const projectSettingsSchema = embedderSettingsSchema;
export type ProjectSettings = z.infer<typeof projectSettingsSchema>;

/** The settings a set_project call, a flag or a variable may give: each one optional, each with its own rule. */
export const settingsInputSchema = projectSettingsSchema.partial();
export type SettingsInput = z.infer<typeof settingsInputSchema>;

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
