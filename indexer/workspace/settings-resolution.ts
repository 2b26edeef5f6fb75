/**
 * A project's effective settings: the call's arguments over its saved settings over the server's
 * defaults (mergeSettings), then checked: each provider's required fields and the server's
 * CredentialPolicy, saved fields included (a saved key variable is judged like a new one).
 */
import type { CredentialPolicy } from '../../models/credential-policy.js';
import { InvalidInputError } from '../../models/errors/codecarto-error.js';
import type { NextSteps } from './next-steps.js';
import { mergeSettings, type ProjectSettings, type SettingsInput } from './project-settings.js';

export interface SettingsSources {
  saved: ProjectSettings | null;
  input: SettingsInput;
  /** The server's own settings (flags, CODECARTO_* variables), default provider included. */
  defaults: SettingsInput;
}

export interface ResolvedSettings {
  settings: ProjectSettings;
  /** Why the settings cannot run (lenient mode only); null when they can. */
  problem: string | null;
}

/**
 * Merges and checks. Settings that cannot run throw an InvalidInputError that says what to pass, or with
 * `lenient` come back with that sentence as `problem` (the server's start project must never stop it).
 */
export function resolveSettings(
  sources: SettingsSources,
  policy: { steps: NextSteps; credentials: CredentialPolicy; lenient: boolean },
): ResolvedSettings {
  const settings = mergeSettings(sources.saved, sources.input, sources.defaults);
  try {
    requiredSettings(settings, policy.steps);
    policy.credentials.check(settings);
  } catch (error) {
    if (!policy.lenient || !(error instanceof InvalidInputError)) throw error;
    return { settings, problem: error.message };
  }
  return { settings, problem: null };
}

function requiredSettings(settings: ProjectSettings, steps: NextSteps): void {
  switch (settings.provider) {
    case 'dgx':
      if (!settings.dgx_endpoint) {
        throw new InvalidInputError(`provider "dgx" needs ${steps.option('dgx_endpoint')}, the full URL of the embedding endpoint, e.g. "http://192.168.1.159:8080/embed".`);
      }
      return;
    case 'onnx':
      if (!settings.model) {
        throw new InvalidInputError(
          `provider "onnx" needs ${steps.option('model')}: the name of a pulled model (see \`codecarto models list\`; get one with \`codecarto models pull bge-small-en-v1.5\`) or a model directory holding model.onnx, tokenizer.json and codecarto.json.`,
        );
      }
      return;
    case 'openai':
      if (!settings.base_url || !settings.model) {
        throw new InvalidInputError(
          `provider "openai" needs ${steps.option('base_url')} (e.g. "http://localhost:8080") and ${steps.option('model')} (the served model name); ${steps.option('api_key_env')} names the environment variable holding the key, if one is needed.`,
        );
      }
      return;
    case 'none':
      return;
  }
}
