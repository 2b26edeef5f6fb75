import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { SettingsInput } from '../indexer/workspace/project-settings.js';
import { MAX_FILES_CEILING } from '../indexer/walk/file-limit.js';
import { WATCH_SETTINGS, type WatchSetting } from '../indexer/watch/project-watcher.js';
import { DEFAULT_ALLOWED_KEY_ENVS, isEndpointPrefix, isKeyEnvPattern } from '../models/credential-policy.js';
import type { ProviderName } from '../models/embedder.js';
import { absoluteProjectPath, PROVIDER_OPTIONS, settingsFromEnv, settingsFromFlagValues, SETTING_KEYS, settingEnv, settingFlag } from './provider-options.js';

/** Everything codecarto reads from the environment, parsed once at the edge. */
export interface Config {
  /** Root of all per-project data directories. */
  home: string;
  /** The provider of `settings` (CODECARTO_PROVIDER or --provider), kept for callers that only need it. */
  defaultProvider: ProviderName | undefined;
  /** Project to open at start (`codecarto mcp --project` or CODECARTO_PROJECT). */
  project: string | undefined;
  /** CODECARTO_WATCH: "off" turns file watching off for every project; absent means "auto". */
  watch?: WatchSetting;
  /** CODECARTO_INDEX_WORKERS: file-preparation threads per index run (0: main thread only); absent: one per spare core, at most 4. */
  indexWorkers?: number;
  /** CODECARTO_ALLOWED_KEY_ENVS / --allow-key-env: variables (or NAME_* prefixes) set_project's api_key_env may name; absent: CODECARTO_*. */
  allowedKeyEnvs?: string[];
  /** CODECARTO_ALLOWED_ENDPOINTS / --allow-endpoint: URL prefixes an API key may be sent to, beyond the server's own endpoint. */
  allowedEndpoints?: string[];
  /** CODECARTO_MAX_FILES: most files a project may hold unless its set_project max_files says otherwise; absent: 200,000. */
  maxFiles?: number;
  /**
   * The server's project settings (CODECARTO_DGX_ENDPOINT, ...; `codecarto mcp --dgx-endpoint` wins over
   * the variable): what a project uses where neither the set_project call nor its saved settings say.
   */
  settings?: SettingsInput;
  /** Settings given as `codecarto mcp` flags: the start project takes them as if passed to set_project. */
  startSettings?: SettingsInput;
  /** Where `project` came from, for messages: "--project" or "CODECARTO_PROJECT". */
  projectSource?: string;
  /** What is wrong with the configuration, one sentence each saying how to fix it; the server runs and reports them. */
  problems?: string[];
}

// Accepted spellings of CODECARTO_WATCH; "poll", "directories" and "recursive" force one watching method.
const WATCH_WORDS: Record<string, WatchSetting> = { '0': 'off', false: 'off', off: 'off', no: 'off', '1': 'auto', true: 'auto', on: 'auto', yes: 'auto' };

// The project settings' variables (CODECARTO_PROVIDER, CODECARTO_DGX_ENDPOINT, ...) are read by provider-options.ts.
// "A, B" -> ["A", "B"]; an empty value is an empty list (nothing allowed beyond the server's own settings).
const commaList = z.string().transform((v) => v.split(',').map((item) => item.trim()).filter((item) => item !== ''));

const envSchema = z.object({
  CODECARTO_HOME: z.string().min(1).optional(),
  CODECARTO_PROJECT: z.string().min(1).optional(),
  CODECARTO_WATCH: z
    .string()
    .transform((v) => v.trim().toLowerCase())
    .pipe(
      z.union([z.enum(Object.keys(WATCH_WORDS) as [string, ...string[]]).transform((v) => WATCH_WORDS[v]!), z.enum(WATCH_SETTINGS)], {
        error: `CODECARTO_WATCH must be 0/false/off to turn watching off, 1/true/on (the default), or one of: ${WATCH_SETTINGS.join(', ')}`,
      }),
    )
    .optional(),
  CODECARTO_INDEX_WORKERS: z.coerce
    .number({ error: 'CODECARTO_INDEX_WORKERS must be a whole number from 0 to 16' })
    .int({ error: 'CODECARTO_INDEX_WORKERS must be a whole number from 0 to 16' })
    .min(0, { error: 'CODECARTO_INDEX_WORKERS must be a whole number from 0 to 16' })
    .max(16, { error: 'CODECARTO_INDEX_WORKERS must be a whole number from 0 to 16' })
    .optional(),
  // Read by the embedder factory; checked here so a typo is reported at start, not at the first request.
  CODECARTO_EMBED_TIMEOUT_MS: z.coerce
    .number({ error: 'CODECARTO_EMBED_TIMEOUT_MS must be a whole number of milliseconds from 1000 to 3600000' })
    .int({ error: 'CODECARTO_EMBED_TIMEOUT_MS must be a whole number of milliseconds from 1000 to 3600000' })
    .min(1000, { error: 'CODECARTO_EMBED_TIMEOUT_MS must be a whole number of milliseconds from 1000 to 3600000' })
    .max(3_600_000, { error: 'CODECARTO_EMBED_TIMEOUT_MS must be a whole number of milliseconds from 1000 to 3600000' })
    .optional(),
  CODECARTO_QUERY_TIMEOUT_MS: z.coerce
    .number({ error: 'CODECARTO_QUERY_TIMEOUT_MS must be a whole number of milliseconds from 100 to 60000' })
    .int({ error: 'CODECARTO_QUERY_TIMEOUT_MS must be a whole number of milliseconds from 100 to 60000' })
    .min(100, { error: 'CODECARTO_QUERY_TIMEOUT_MS must be a whole number of milliseconds from 100 to 60000' })
    .max(60_000, { error: 'CODECARTO_QUERY_TIMEOUT_MS must be a whole number of milliseconds from 100 to 60000' })
    .optional(),
  CODECARTO_ALLOWED_KEY_ENVS: commaList
    .refine((names) => names.every(isKeyEnvPattern), { error: 'CODECARTO_ALLOWED_KEY_ENVS must be a comma list of variable names or NAME_* prefixes, e.g. "CODECARTO_*,OPENAI_API_KEY"' })
    .optional(),
  CODECARTO_ALLOWED_ENDPOINTS: commaList
    .refine((urls) => urls.every(isEndpointPrefix), { error: 'CODECARTO_ALLOWED_ENDPOINTS must be a comma list of http(s)://host[:port][/path] prefixes, e.g. "https://api.openai.com,http://192.168.1.159:8080/embed"' })
    .optional(),
  CODECARTO_MAX_FILES: z.coerce
    .number({ error: `CODECARTO_MAX_FILES must be a whole number from 1 to ${MAX_FILES_CEILING}` })
    .int({ error: `CODECARTO_MAX_FILES must be a whole number from 1 to ${MAX_FILES_CEILING}` })
    .min(1, { error: `CODECARTO_MAX_FILES must be a whole number from 1 to ${MAX_FILES_CEILING}` })
    .max(MAX_FILES_CEILING, { error: `CODECARTO_MAX_FILES must be a whole number from 1 to ${MAX_FILES_CEILING}` })
    .optional(),
  XDG_DATA_HOME: z.string().min(1).optional(),
  // Read by the embedder factory; validated here so a typo fails at start, not at the first query.
  CODECARTO_INSTRUCTION_MODE: z.enum(['field', 'prefix'], { error: 'CODECARTO_INSTRUCTION_MODE must be "field" or "prefix"' }).optional(),
  CODECARTO_QUERY_INSTRUCTION: z.string().min(1).max(1000).optional(),
});
type Env = z.infer<typeof envSchema>;

/** The configuration of a one-shot command: any bad value stops it with every problem in one message. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const config = readConfig(env, overrides);
  if (config.problems?.length) throw new Error(config.problems.join('; '));
  return config;
}

/** Like loadConfig, but a bad value is left out and described in `problems` instead of thrown. */
export function readConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const { values, problems } = parseEnv(env);
  const fromEnv = settingsFromEnv(env);
  const settings = { ...fromEnv.settings, ...overrides.settings };
  const dataHome = values.XDG_DATA_HOME ?? join(homedir(), '.local', 'share');
  return {
    home: overrides.home ?? values.CODECARTO_HOME ?? join(dataHome, 'codecarto'),
    defaultProvider: overrides.defaultProvider ?? settings.provider,
    project: overrides.project ?? values.CODECARTO_PROJECT,
    projectSource: overrides.projectSource ?? (values.CODECARTO_PROJECT ? 'CODECARTO_PROJECT' : undefined),
    watch: overrides.watch ?? values.CODECARTO_WATCH ?? 'auto',
    indexWorkers: overrides.indexWorkers ?? values.CODECARTO_INDEX_WORKERS,
    allowedKeyEnvs: overrides.allowedKeyEnvs ?? values.CODECARTO_ALLOWED_KEY_ENVS,
    allowedEndpoints: overrides.allowedEndpoints ?? values.CODECARTO_ALLOWED_ENDPOINTS,
    maxFiles: overrides.maxFiles ?? values.CODECARTO_MAX_FILES,
    settings,
    ...(overrides.startSettings ? { startSettings: overrides.startSettings } : {}),
    problems: [...problems, ...fromEnv.problems],
  };
}

/** Every variable that is valid, and one sentence per variable that is not (that one is left unset). */
function parseEnv(env: NodeJS.ProcessEnv): { values: Env; problems: string[] } {
  const parsed = envSchema.safeParse(env);
  if (parsed.success) return { values: parsed.data, problems: [] };
  const bad = new Set(parsed.error.issues.map((issue) => String(issue.path[0])));
  const rest = Object.fromEntries(Object.entries(env).filter(([name]) => !bad.has(name)));
  const problems = parsed.error.issues.map((issue) => `${String(issue.path[0])}=${JSON.stringify(env[String(issue.path[0])])} is not valid: ${issue.message}.`);
  return { values: envSchema.parse(rest), problems };
}

/** `codecarto mcp`'s flags: --project and every set_project setting. */
export const MCP_OPTIONS = {
  project: { type: 'string' },
  ...PROVIDER_OPTIONS,
  // What the server's owner allows an agent: see ownerFlags.
  'allow-key-env': { type: 'string', multiple: true },
  'allow-endpoint': { type: 'string', multiple: true },
  'max-files': { type: 'string' },
} as const;

/**
 * The MCP server's configuration from its arguments and environment. Nothing here throws: a client that
 * starts a server it cannot talk to shows the user nothing, so every problem goes into `problems`,
 * which the server logs and repeats in every tool answer.
 */
export function mcpConfig(args: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const { values, tokens } = parseArgs({ args, options: MCP_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const fixArgs = `The server runs without it; fix its arguments ("args" in its MCP client entry) and restart it.`;
  for (const token of tokens) {
    if (token.kind === 'option' && !(token.name in MCP_OPTIONS)) {
      problems.push(`Unknown option ${token.rawName} is ignored: \`codecarto mcp\` takes ${Object.keys(MCP_OPTIONS).map((f) => `--${f}`).join(', ')}. ${fixArgs}`);
    } else if (token.kind === 'positional') {
      problems.push(`Unexpected argument ${JSON.stringify(token.value)} is ignored: give the project as --project <path>. ${fixArgs}`);
    }
  }
  const flags = settingsFromFlagValues(values as Record<string, string | boolean | undefined>);
  problems.push(...flags.problems.map((p) => `${p} ${fixArgs}`));
  let project: string | undefined;
  if (values.project === true) problems.push(`--project needs a value, e.g. --project /home/me/src/app. ${fixArgs}`);
  else if (typeof values.project === 'string') project = values.project;
  const owner = ownerFlags(values, problems, fixArgs);
  const config = readConfig(env, { settings: flags.settings, startSettings: flags.settings, ...owner });
  const fixEnv = `The server runs without it; fix or remove it in the server's environment ("env" in its MCP client entry) and restart it.`;
  const chosen = project ?? config.project;
  return {
    ...config,
    problems: [...(config.problems ?? []).map((p) => `${p} ${fixEnv}`), ...problems],
    project: chosen === undefined ? undefined : absoluteProjectPath(chosen),
    projectSource: project !== undefined ? '--project' : config.projectSource,
  };
}

/**
 * --allow-key-env and --allow-endpoint (repeatable, or comma lists) and --max-files: the flag forms of
 * CODECARTO_ALLOWED_KEY_ENVS, CODECARTO_ALLOWED_ENDPOINTS and CODECARTO_MAX_FILES, which they replace.
 * A bad entry is left out and reported; the rest apply.
 */
function ownerFlags(values: Record<string, unknown>, problems: string[], fix: string): Pick<Config, 'allowedKeyEnvs' | 'allowedEndpoints' | 'maxFiles'> {
  const list = (flag: string, valid: (entry: string) => boolean, example: string): string[] | undefined => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    const entries = (Array.isArray(raw) ? raw : [raw]).flatMap((v: unknown) => (typeof v === 'string' ? v.split(',').map((e) => e.trim()).filter((e) => e !== '') : ['']));
    const bad = entries.filter((e) => !valid(e));
    if (bad.length > 0) problems.push(`--${flag} takes ${example}; ${bad.map((b) => (b ? JSON.stringify(b) : 'an empty value')).join(', ')} is left out. ${fix}`);
    return entries.filter(valid);
  };
  const owner: Pick<Config, 'allowedKeyEnvs' | 'allowedEndpoints' | 'maxFiles'> = {
    allowedKeyEnvs: list('allow-key-env', isKeyEnvPattern, 'a variable name or a NAME_* prefix, e.g. --allow-key-env OPENAI_API_KEY'),
    allowedEndpoints: list('allow-endpoint', isEndpointPrefix, 'an http(s)://host[:port][/path] prefix, e.g. --allow-endpoint https://api.openai.com'),
  };
  const maxFiles = values['max-files'];
  if (maxFiles !== undefined) {
    const n = typeof maxFiles === 'string' ? Number(maxFiles) : NaN;
    if (Number.isInteger(n) && n >= 1 && n <= MAX_FILES_CEILING) owner.maxFiles = n;
    else problems.push(`--max-files must be a whole number from 1 to ${MAX_FILES_CEILING}. ${fix}`);
  }
  for (const key of Object.keys(owner) as (keyof typeof owner)[]) if (owner[key] === undefined) delete owner[key];
  return owner;
}

/**
 * A one-shot command's flags come from the person at the shell, who configures codecarto: the key
 * variable and the endpoints they name are allowed for that run, as a server's own flags are. Only
 * these: a saved endpoint (which an agent may have set) never receives a key the flags name.
 */
export function trustingFlags(config: Config, flags: SettingsInput): Config {
  const endpoints = [flags.dgx_endpoint, flags.base_url].filter((url): url is string => url !== undefined && isEndpointPrefix(url));
  return {
    ...config,
    allowedKeyEnvs: flags.api_key_env ? [...(config.allowedKeyEnvs ?? DEFAULT_ALLOWED_KEY_ENVS), flags.api_key_env] : config.allowedKeyEnvs,
    allowedEndpoints: endpoints.length > 0 ? [...(config.allowedEndpoints ?? []), ...endpoints] : config.allowedEndpoints,
  };
}

/** Where a setting can be given to the server: "--dgx-endpoint (args) or CODECARTO_DGX_ENDPOINT (env)". */
export function serverSettingNames(name: string): string | undefined {
  const key = SETTING_KEYS.find((k) => k === name);
  return key ? `--${settingFlag(key)} in its args or ${settingEnv(key)} in its env` : undefined;
}
