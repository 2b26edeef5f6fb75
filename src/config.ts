import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { PROVIDERS, type ProviderName } from '../models/embedder.js';

/** Everything codecarto reads from the environment, parsed once at the edge. */
export interface Config {
  /** Root of all per-project data directories. */
  home: string;
  defaultProvider: ProviderName | undefined;
  /** Project to open at start (`codecarto mcp --project` or CODECARTO_PROJECT). */
  project: string | undefined;
}

const envSchema = z.object({
  CODECARTO_HOME: z.string().min(1).optional(),
  CODECARTO_PROVIDER: z.enum(PROVIDERS, { error: `CODECARTO_PROVIDER must be one of: ${PROVIDERS.join(', ')}` }).optional(),
  CODECARTO_PROJECT: z.string().min(1).optional(),
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
  };
}
