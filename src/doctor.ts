import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { inspectModelDir, type ModelDirReport } from '../models/model-dir-report.js';
import type { OnnxDevice } from '../models/onnx-embedder.js';
import { findOrtPackage } from '../models/ort-package.js';
import { probeExecutionProviders, type ExecutionProviderStatus } from '../models/ort-probe.js';
import { checkAgainstReference, type ReferenceCheck } from '../models/reference-check.js';
import { readProjectFile } from '../indexer/workspace/project-catalog.js';
import type { ProjectSettings } from '../indexer/workspace/project-settings.js';
import { loadConfig } from './config.js';
import { probeEndpoint, type EndpointReport } from './doctor-endpoint.js';
import { detectGpu, type GpuReport } from './doctor-gpu.js';

export interface DoctorOptions {
  /** Model directory to check; default: the current project's onnx model, if any. */
  modelDir?: string;
  /** Seed-protocol endpoint to try; default: the current project's dgx endpoint, if any. */
  dgxEndpoint?: string;
  /** Embed reference.json's texts with the model and compare with PyTorch (loads the whole model). */
  verify?: boolean;
  /** Device for --verify. */
  device?: OnnxDevice;
  endpointTimeoutMs?: number;
  /** Bearer token for the endpoint. */
  apiKey?: string;
  /** CODECARTO_HOME, to read the current project's settings; undefined: do not read them. */
  home?: string;
}

export interface DoctorReport {
  platform: string;
  arch: string;
  node: string;
  onnxruntime: { version: string; binaries: string };
  execution_providers: ExecutionProviderStatus[];
  gpu: GpuReport;
  model: (ModelDirReport & { source: string; verify: ReferenceCheck | { ok: false; detail: string } | null }) | null;
  dgx_endpoint: (EndpointReport & { source: string }) | null;
  /** One plain sentence: can this machine embed on CUDA, and if not, why and what to do. */
  verdict: string;
  /** False when something the user asked about (model, endpoint, --verify) failed. */
  ok: boolean;
}

/** Runs every check. Never throws for a failed check: failures are data in the report. */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const ort = findOrtPackage();
  const providers = await probeExecutionProviders({ binDir: ort.binDir });
  const gpu = detectGpu();
  const project = options.home === undefined ? undefined : currentProjectSettings(options.home);
  const modelSource = options.modelDir !== undefined ? '--model' : project?.settings.model !== undefined && project.settings.provider === 'onnx' ? `project ${project.root}` : undefined;
  const modelDir = options.modelDir ?? (modelSource ? project!.settings.model : undefined);
  const endpointSource = options.dgxEndpoint !== undefined ? '--dgx-endpoint' : project?.settings.dgx_endpoint !== undefined && project.settings.provider === 'dgx' ? `project ${project.root}` : undefined;
  const endpoint = options.dgxEndpoint ?? (endpointSource ? project!.settings.dgx_endpoint : undefined);

  let model: DoctorReport['model'] = null;
  if (modelDir !== undefined) {
    const inspected = inspectModelDir(modelDir);
    let verify: ReferenceCheck | { ok: false; detail: string } | null = null;
    if (options.verify) {
      if (!inspected.ok) verify = { ok: false, detail: 'not run: fix the model directory first' };
      else if (!inspected.reference) verify = { ok: false, detail: 'not run: no reference.json (the export recipe writes it)' };
      else verify = await checkAgainstReference(inspected.dir, options.device ?? 'auto').catch((err: unknown) => ({ ok: false as const, detail: (err as Error).message }));
    }
    model = { ...inspected, source: modelSource!, verify };
  }
  const dgx = endpoint === undefined ? null : { ...(await probeEndpoint(endpoint, { timeoutMs: options.endpointTimeoutMs, apiKey: options.apiKey })), source: endpointSource! };
  const cuda = providers.find((p) => p.name === 'cuda');
  const verdict = cuda?.available
    ? `CUDA is available: onnxruntime-node ran a test model on the cuda execution provider${gpu.visible ? ` (${gpu.detail})` : ''}.`
    : `CUDA is unavailable here (${firstSentence(cuda?.reason ?? 'not probed')}). Embedding runs on the cpu (onnx provider) or through a DGX endpoint; the cuda line above says what to do.`;
  const ok = (model === null || (model.ok && (model.verify === null || model.verify.ok))) && (dgx === null || dgx.ok) && (options.device !== 'cuda' || cuda?.available === true);
  return {
    platform: platform(),
    arch: arch(),
    node: process.version,
    onnxruntime: { version: ort.version, binaries: ort.binDir },
    execution_providers: providers,
    gpu,
    model,
    dgx_endpoint: dgx,
    verdict,
    ok,
  };
}

/** The human-readable report. */
export function formatDoctorReport(r: DoctorReport): string {
  const lines = [
    `codecarto doctor: ${r.platform}/${r.arch}, Node ${r.node}, onnxruntime-node ${r.onnxruntime.version}`,
    `  binaries: ${r.onnxruntime.binaries}`,
    'Execution providers (each tried on a generated test model):',
    ...r.execution_providers.map((p) => `  ${p.name.padEnd(9)}${p.available ? 'available    ' : 'NOT available'}  ${p.reason}`),
    `GPU: ${r.gpu.visible ? r.gpu.detail : `none visible (${r.gpu.detail})`}`,
  ];
  if (r.model === null) lines.push('Model: none configured (pass --model <dir>)');
  else {
    const m = r.model;
    lines.push(`Model: ${m.dir} (from ${m.source}): ${m.ok ? 'ok' : 'PROBLEM'}`);
    if (m.manifest) lines.push(`  ${m.manifest.id ?? '(no id)'}: ${m.manifest.dims} dims, max ${m.manifest.max_tokens} tokens, inputs ${Object.values(m.manifest.inputs).join(', ')} -> ${m.manifest.output}`);
    if (m.tokenizer) lines.push(`  tokenizer: ${m.tokenizer.vocab_size} ids, BOS ${m.tokenizer.bos_token_id ?? '-'}, EOS ${m.tokenizer.eos_token_id ?? '-'}${m.tokenizer.config ? '' : ' (no tokenizer_config.json)'}`);
    if (m.model_bytes !== null) lines.push(`  model.onnx: ${(m.model_bytes / 1e6).toFixed(1)} MB`);
    for (const f of m.external_data) lines.push(`  ${f.file}: ${f.present ? `${((f.bytes ?? 0) / 1e6).toFixed(1)} MB` : 'MISSING'}`);
    for (const p of m.problems) lines.push(`  problem: ${p}`);
    if (m.verify) lines.push(`  verify: ${m.verify.ok ? 'ok' : 'FAILED'}: ${m.verify.detail}`);
  }
  if (r.dgx_endpoint === null) lines.push('DGX endpoint: none configured (pass --dgx-endpoint <url>)');
  else {
    const e = r.dgx_endpoint;
    lines.push(`DGX endpoint: ${e.url} (from ${e.source}): ${e.ok ? 'ok' : 'PROBLEM'}: ${e.detail}`);
    if (e.info) lines.push(`  info: ${JSON.stringify(e.info)}`);
  }
  lines.push(`Verdict: ${r.verdict}`);
  return lines.join('\n');
}

/** `codecarto doctor [--json] [--model <dir>] [--dgx-endpoint <url>] [--api-key-env VAR] [--timeout s] [--verify] [--device auto|cuda|cpu]`. */
export async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      model: { type: 'string' },
      'dgx-endpoint': { type: 'string' },
      verify: { type: 'boolean' },
      device: { type: 'string' },
      timeout: { type: 'string' },
      'api-key-env': { type: 'string' },
    },
  });
  if (values.device !== undefined && !['auto', 'cuda', 'cpu'].includes(values.device)) {
    throw new CodecartoError(`Unknown device "${values.device}": use auto, cuda or cpu.`);
  }
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout) * 1000;
  if (timeout !== undefined && !(timeout > 0)) throw new CodecartoError('--timeout must be a positive number of seconds.');
  // The report carries each provider's error; onnxruntime's own red log lines on stderr would only repeat them.
  ort.env.logLevel = 'fatal';
  const keyVar = values['api-key-env'];
  if (keyVar !== undefined && !process.env[keyVar]) throw new CodecartoError(`--api-key-env names ${keyVar}, but that environment variable is empty or unset.`);
  const report = await runDoctor({
    apiKey: keyVar === undefined ? undefined : process.env[keyVar],
    modelDir: values.model,
    dgxEndpoint: values['dgx-endpoint'],
    verify: values.verify,
    device: values.device as OnnxDevice | undefined,
    endpointTimeoutMs: timeout,
    home: loadConfig().home,
  });
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatDoctorReport(report)}\n`);
  return report.ok ? 0 : 1;
}

function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  return end === -1 ? text : text.slice(0, end);
}

/** The current project's saved settings, read from CODECARTO_HOME without opening its store. */
function currentProjectSettings(home: string): { root: string; settings: ProjectSettings } | undefined {
  try {
    const current = (JSON.parse(readFileSync(join(home, 'state.json'), 'utf8')) as { current?: string }).current;
    const projects = join(home, 'projects');
    if (current === undefined || !existsSync(projects)) return undefined;
    for (const entry of readdirSync(projects)) {
      // Read as the workspace reads it: settings that fail the settings schema count as none.
      const saved = readProjectFile(join(projects, entry));
      if (saved?.root === current && saved.settings) return { root: current, settings: saved.settings };
    }
  } catch {
    // No readable state: nothing configured.
  }
  return undefined;
}
