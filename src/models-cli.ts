import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import type { DownloadProgress } from '../models/hub-client.js';
import type { ModelManifestInput } from '../models/model-manifest.js';
import { pullModel } from '../models/model-pull.js';
import { KNOWN_MODELS } from '../models/model-registry.js';
import { listInstalledModels, modelsDirOf } from '../models/model-store.js';
import { loadConfig } from './config.js';

export const MODELS_USAGE = `  codecarto models pull <name|owner/repo> [--revision R] [--file onnx/x.onnx] [--name N] [--manifest '{json}'|file] [--force]
                                          download an ONNX embedding model (HF_ENDPOINT, HF_TOKEN honoured)
  codecarto models list [--json]          installed and known models`;

/** `codecarto models pull`: progress on stderr (a bar on a terminal), the result on stdout. */
export async function modelsPullCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      revision: { type: 'string' },
      file: { type: 'string' },
      name: { type: 'string' },
      manifest: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  const spec = positionals[0];
  if (!spec) throw new CodecartoError('Usage: codecarto models pull <name|owner/repo> [--revision R]. `codecarto models list` shows the known names.');
  const modelsDir = modelsDirOf(loadConfig(env).home);
  const bar = process.stderr.isTTY ? downloadBar() : undefined;
  const controller = new AbortController();
  const cancel = () => controller.abort();
  process.once('SIGINT', cancel);
  try {
    const result = await pullModel({
      spec,
      modelsDir,
      revision: values.revision,
      file: values.file,
      name: values.name,
      manifest: values.manifest === undefined ? undefined : readManifestOption(values.manifest),
      force: values.force,
      endpoint: env.HF_ENDPOINT || undefined,
      token: env.HF_TOKEN || undefined,
      signal: controller.signal,
      onProgress: bar,
      log: (message) => {
        if (bar) process.stderr.write('\r\x1b[K');
        process.stderr.write(`${message}\n`);
      },
    });
    const m = result.manifest;
    const how = `set_project(path: "/path/to/project", provider: "onnx", model: "${result.name}")`;
    process.stdout.write(
      (result.alreadyInstalled
        ? `${result.name} is already installed in ${result.dir} (--force pulls it again).\n`
        : `Installed ${result.name} in ${result.dir}: ${m.dims} dims, pooling ${m.pooling}, max ${m.max_tokens} tokens, from ${result.repo}@${result.commit ?? result.revision}.\n`) +
        `Use it: codecarto index /path/to/project --provider onnx --model ${result.name}\n   or, from an agent: ${how}\n`,
    );
    return 0;
  } finally {
    process.off('SIGINT', cancel);
  }
}

/** `codecarto models list`: what is installed under $CODECARTO_HOME/models and what `pull` knows. */
export function modelsListCommand(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const modelsDir = modelsDirOf(loadConfig(env).home);
  const installed = listInstalledModels(modelsDir);
  const known = KNOWN_MODELS.map((k) => ({
    name: k.name,
    repo: k.repo,
    dims: k.facts.dims,
    download_mb: k.downloadMb ?? null,
    summary: k.summary,
    pullable: k.notPullable === undefined,
    installed: installed.some((i) => i.name === k.name),
  }));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ models_dir: modelsDir, installed, known })}\n`);
    return 0;
  }
  const lines = [`Installed (${modelsDir}):`];
  if (installed.length === 0) lines.push('  none yet: `codecarto models pull all-minilm-l6-v2` gets a small one');
  for (const m of installed) lines.push(`  ${m.name.padEnd(30)} ${String(m.dims ?? '?').padStart(5)} dims  ${m.repo ?? m.id ?? ''}`);
  lines.push('', 'Known (codecarto models pull <name>):');
  for (const k of known) {
    const size = k.download_mb === null ? '' : `~${k.download_mb} MB`;
    const mark = k.installed ? ' [installed]' : k.pullable ? '' : ' [not pullable]';
    lines.push(`  ${k.name.padEnd(30)} ${String(k.dims).padStart(5)} dims  ${size.padEnd(9)} ${k.summary}${mark}`);
  }
  lines.push('', 'Any other hub repository with an ONNX export works too: codecarto models pull owner/name');
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** --manifest takes JSON inline or a path to a JSON file. */
function readManifestOption(value: string): Partial<ModelManifestInput> {
  const text = value.trim().startsWith('{') ? value : existsSync(value) ? readFileSync(value, 'utf8') : undefined;
  if (text === undefined) throw new CodecartoError(`--manifest takes JSON like '{"pooling":"mean"}' or a path to a JSON file; ${value} is neither.`);
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Partial<ModelManifestInput>;
  } catch (err) {
    throw new CodecartoError(`--manifest is not a JSON object (${(err as Error).message}).`);
  }
}

function downloadBar(): (p: DownloadProgress) => void {
  let last = 0;
  let started = Date.now();
  let file = '';
  let startBytes = 0;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return (p) => {
    const now = Date.now();
    if (p.file !== file) {
      file = p.file;
      started = now;
      startBytes = p.received;
    } else if (now - last < 100 && p.received !== p.total) return;
    last = now;
    const width = 30;
    const fraction = p.total ? Math.min(1, p.received / p.total) : 0;
    const filled = Math.round(fraction * width);
    const rate = (p.received - startBytes) / Math.max(0.001, (now - started) / 1000);
    process.stderr.write(
      `\r\x1b[K${p.file} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${mb(p.received)}/${p.total ? mb(p.total) : '?'} MB ${mb(rate)} MB/s`,
    );
  };
}
