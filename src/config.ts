import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { WATCH_SETTINGS, type WatchSetting } from '../indexer/project-watcher.js';
import { isEndpointPrefix, isKeyEnvPattern } from '../models/credential-policy.js';
import { PROVIDERS, type ProviderName } from '../models/embedder.js';

/** Everything codecarto reads from the environment, parsed once at the edge. */
export interface Config {
  /** Root of all per-project data directories. */
  home: string;
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
}

// Accepted spellings of CODECARTO_WATCH; "poll", "directories" and "recursive" force one watching method.
const WATCH_WORDS: Record<string, WatchSetting> = { '0': 'off', false: 'off', off: 'off', no: 'off', '1': 'auto', true: 'auto', on: 'auto', yes: 'auto' };

// "A, B" -> ["A", "B"]; an empty value is an empty list (nothing allowed beyond the server's own settings).
const commaList = z.string().transform((v) => v.split(',').map((item) => item.trim()).filter((item) => item !== ''));

const envSchema = z.object({
  CODECARTO_HOME: z.string().min(1).optional(),
  CODECARTO_PROVIDER: z.enum(PROVIDERS, { error: `CODECARTO_PROVIDER must be one of: ${PROVIDERS.join(', ')}` }).optional(),
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
  CODECARTO_ALLOWED_KEY_ENVS: commaList
    .refine((names) => names.every(isKeyEnvPattern), { error: 'CODECARTO_ALLOWED_KEY_ENVS must be a comma list of variable names or NAME_* prefixes, e.g. "CODECARTO_*,OPENAI_API_KEY"' })
    .optional(),
  CODECARTO_ALLOWED_ENDPOINTS: commaList
    .refine((urls) => urls.every(isEndpointPrefix), { error: 'CODECARTO_ALLOWED_ENDPOINTS must be a comma list of http(s)://host[:port][/path] prefixes, e.g. "https://api.openai.com,http://192.168.1.159:8080/embed"' })
    .optional(),
  XDG_DATA_HOME: z.string().min(1).optional(),
  // Read by the embedder factory; validated here so a typo fails at start, not at the first query.
  CODECARTO_INSTRUCTION_MODE: z.enum(['field', 'prefix'], { error: 'CODECARTO_INSTRUCTION_MODE must be "field" or "prefix"' }).optional(),
  CODECARTO_QUERY_INSTRUCTION: z.string().min(1).max(1000).optional(),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
  const e = parsed.data;
  const dataHome = e.XDG_DATA_HOME ?? join(homedir(), '.local', 'share');
  return {
    home: overrides.home ?? e.CODECARTO_HOME ?? join(dataHome, 'codecarto'),
    defaultProvider: overrides.defaultProvider ?? e.CODECARTO_PROVIDER,
    project: overrides.project ?? e.CODECARTO_PROJECT,
    watch: overrides.watch ?? e.CODECARTO_WATCH ?? 'auto',
    indexWorkers: overrides.indexWorkers ?? e.CODECARTO_INDEX_WORKERS,
    allowedKeyEnvs: overrides.allowedKeyEnvs ?? e.CODECARTO_ALLOWED_KEY_ENVS,
    allowedEndpoints: overrides.allowedEndpoints ?? e.CODECARTO_ALLOWED_ENDPOINTS,
  };
}
