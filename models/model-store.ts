import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ModelLoadError } from './errors/model-load-error.js';
import { MANIFEST_FILE } from './model-manifest.js';
import { findKnownModel, KNOWN_MODELS, type KnownModel } from './model-registry.js';

/** Install names: safe as one directory name, no path tricks. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * $CODECARTO_HOME as src/config.ts computes it. Repeated here because models/ must not import from src/;
 * keep the two in step.
 */
export function codecartoHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CODECARTO_HOME) return env.CODECARTO_HOME;
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'codecarto');
}

/** Where pulled models live: one directory per model name. */
export function modelsDirOf(home: string): string {
  return join(home, 'models');
}

export interface InstalledModel {
  name: string;
  dir: string;
  /** From codecarto.json; absent when it cannot be read. */
  id?: string;
  dims?: number;
  repo?: string;
  revision?: string;
}

/** Model directories under `modelsDir` that hold a codecarto.json, by name. Staging folders (dot names) are skipped. */
export function listInstalledModels(modelsDir: string): InstalledModel[] {
  if (!existsSync(modelsDir)) return [];
  const out: InstalledModel[] = [];
  for (const entry of readdirSync(modelsDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = join(modelsDir, entry.name);
    const manifestPath = join(dir, MANIFEST_FILE);
    if (!existsSync(manifestPath)) continue;
    const model: InstalledModel = { name: entry.name, dir };
    try {
      const json = JSON.parse(readFileSync(manifestPath, 'utf8')) as { id?: string; dims?: number; source?: { repo?: string; revision?: string } };
      Object.assign(model, { id: json.id, dims: json.dims, repo: json.source?.repo, revision: json.source?.revision });
    } catch {
      // Listed anyway: loading it later reports what is wrong with the manifest.
    }
    out.push(model);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Turns set_project's `model` into a model directory. A path (absolute, or with a slash, or starting
 * with "." or "~") is a directory, as before. A bare name is a pulled model in `modelsDir`; failing that,
 * a directory of that name in the working directory (so old relative paths keep working).
 */
export function resolveModelDirectory(model: string, modelsDir: string, registry: readonly KnownModel[] = KNOWN_MODELS): string {
  if (model.startsWith('~')) return join(homedir(), model.slice(1));
  if (isAbsolute(model) || model.includes('/') || model.includes('\\') || model.startsWith('.')) return resolve(model);
  const installed = join(modelsDir, model);
  if (MODEL_NAME_PATTERN.test(model) && existsSync(join(installed, MANIFEST_FILE))) return installed;
  const local = resolve(model);
  if (existsSync(local) && statSync(local).isDirectory()) return local;
  throw new ModelLoadError(unknownModelMessage(model, modelsDir, registry));
}

function unknownModelMessage(model: string, modelsDir: string, registry: readonly KnownModel[]): string {
  const installed = listInstalledModels(modelsDir).map((m) => m.name);
  const have = installed.length > 0 ? `Installed: ${installed.join(', ')}.` : `No models are installed in ${modelsDir}.`;
  const known = findKnownModel(model, registry);
  if (known?.notPullable) return `Model "${model}" is not installed in ${modelsDir}. ${have} ${known.notPullable}`;
  const pullName = known?.name ?? model;
  return (
    `No model named "${model}" in ${modelsDir}. ${have} ` +
    `Pull it with \`codecarto models pull ${pullName}\` (\`codecarto models list\` shows the known ones), ` +
    'or pass a model directory (model.onnx + tokenizer.json + codecarto.json).'
  );
}
