import { resolve } from 'node:path';
import { projectSettingsSchema, settingsInputSchema, type ProjectSettings, type SettingsInput } from '../indexer/workspace/project-settings.js';
import { CodecartoError } from '../models/errors/codecarto-error.js';

/**
 * One settings shape, three spellings: the set_project argument (`dgx_endpoint`), the command-line flag
 * (`--dgx-endpoint`) and the environment variable (`CODECARTO_DGX_ENDPOINT`). The keys come from the saved
 * settings schema and every value is checked by its rule there (the one set_project publishes), so a new setting is a flag
 * and a variable at once and all three accept the same values.
 */
export type SettingKey = keyof ProjectSettings;
type Kebab<S extends string> = S extends `${infer A}_${infer B}` ? `${A}-${Kebab<B>}` : S;
export type SettingFlag = Kebab<SettingKey>;

export const SETTING_KEYS = Object.keys(projectSettingsSchema.shape) as SettingKey[];

export function settingFlag<K extends SettingKey>(key: K): Kebab<K> {
  return key.replaceAll('_', '-') as Kebab<K>;
}

export function settingEnv(key: SettingKey): string {
  return `CODECARTO_${key.toUpperCase()}`;
}

/** The set_project settings as parseArgs options, shared by the commands that open a project. */
export const PROVIDER_OPTIONS = Object.fromEntries(SETTING_KEYS.map((key) => [settingFlag(key), { type: 'string' }])) as {
  [F in SettingFlag]: { type: 'string' };
};

export type ProviderFlags = { [F in SettingFlag]?: string | boolean };

/** Settings read from strings, and a sentence for each value that was refused (the rest still count). */
export interface ReadSettings {
  settings: SettingsInput;
  problems: string[];
}

/** Reads `--dgx-endpoint`-style flag values; `true` is a flag given without its value. */
export function settingsFromFlagValues(values: ProviderFlags): ReadSettings {
  return readSettings((key) => values[settingFlag(key)], (key) => `--${settingFlag(key)}`);
}

/** Reads CODECARTO_DGX_ENDPOINT-style variables; an empty one counts as unset (client configs often template them). */
export function settingsFromEnv(env: NodeJS.ProcessEnv): ReadSettings {
  return readSettings((key) => (env[settingEnv(key)]?.trim() ? env[settingEnv(key)] : undefined), settingEnv);
}

/** Checks the flags of a one-shot command and turns them into set_project settings; bad values say what is accepted. */
export function settingsFromFlags(values: ProviderFlags): SettingsInput {
  const { settings, problems } = settingsFromFlagValues(values);
  if (problems.length > 0) throw new CodecartoError(problems.join(' '));
  return settings;
}

function readSettings(raw: (key: SettingKey) => string | boolean | undefined, name: (key: SettingKey) => string): ReadSettings {
  const settings: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of SETTING_KEYS) {
    const value = raw(key);
    if (value === undefined) continue;
    if (typeof value !== 'string') {
      problems.push(`${name(key)} needs a value, e.g. ${name(key)} ${EXAMPLES[key]}.`);
      continue;
    }
    const rule = settingsInputSchema.shape[key];
    let parsed = rule.safeParse(value);
    // Flags and variables are text; batch_size's rule wants a number.
    if (!parsed.success && value.trim() !== '' && Number.isFinite(Number(value))) parsed = rule.safeParse(Number(value));
    if (parsed.success) settings[key] = parsed.data;
    else problems.push(`${name(key)}=${JSON.stringify(value)} is not valid: ${parsed.error.issues[0]?.message ?? 'rejected'} (e.g. ${EXAMPLES[key]}).`);
  }
  return { settings: settings as SettingsInput, problems };
}

const EXAMPLES: Record<SettingKey, string> = {
  provider: 'dgx, onnx, openai or none',
  dgx_endpoint: 'http://192.168.1.159:8080/embed',
  batch_size: '48',
  model: 'bge-small-en-v1.5',
  base_url: 'http://localhost:8080',
  api_key_env: 'OPENAI_API_KEY',
  device: 'cuda, cpu or auto',
};

/** People type relative paths; the MCP tool needs absolute ones because the server's cwd means nothing to an agent. */
export function absoluteProjectPath(path: string): string {
  return path.startsWith('~') ? path : resolve(path);
}
