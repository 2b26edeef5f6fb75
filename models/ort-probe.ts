import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { MODEL_FILE } from './model-manifest.js';
import { missingProviderLibraries, PROVIDER_LIBRARIES } from './ort-package.js';
import { makeTestModel } from './test-model.js';

export type ProbedProvider = 'cpu' | 'cuda' | 'tensorrt';

export interface ExecutionProviderStatus {
  name: ProbedProvider;
  available: boolean;
  /** What happened, in a sentence, and what to do when it failed. */
  reason: string;
  /** Listed by ort.listSupportedBackends(): compiled into the binding's list, not proof that it loads. */
  listed: boolean;
}

export interface ProbeOptions {
  /** Where onnxruntime-node loads its libraries from (to say which are missing). */
  binDir: string;
  providers?: ProbedProvider[];
  platform?: string;
  arch?: string;
}

/**
 * Really tries each execution provider: creates a session on a tiny generated model with NV-Embed-v2's
 * interface and runs it. A provider that cannot load rejects (onnxruntime never falls back silently at
 * session level), so `available` is proof, not a compile-time flag.
 */
export async function probeExecutionProviders(options: ProbeOptions): Promise<ExecutionProviderStatus[]> {
  const providers = options.providers ?? ['cpu', 'cuda', 'tensorrt'];
  const listed = new Set(ort.listSupportedBackends().map((b) => b.name));
  const dir = mkdtempSync(join(tmpdir(), 'codecarto-probe-'));
  try {
    // Small on purpose (16 dims): the probe tests loading and running, not speed.
    await makeTestModel(dir, { hidden: 8, dims: 16 });
    const modelPath = join(dir, MODEL_FILE);
    const results: ExecutionProviderStatus[] = [];
    for (const name of providers) {
      // One at a time: two sessions starting CUDA at once only muddle the errors.
      results.push({ name, listed: listed.has(name), ...(await tryProvider(name, modelPath, options)) });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function tryProvider(name: ProbedProvider, modelPath: string, options: ProbeOptions): Promise<{ available: boolean; reason: string }> {
  const started = performance.now();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, { executionProviders: [name] });
  } catch (err) {
    return { available: false, reason: explainFailure(name, errorText(err), options) };
  }
  try {
    const ids = new ort.Tensor('int64', BigInt64Array.from([1n, 415n, 2n]), [1, 3]);
    const ones = new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n]), [1, 3]);
    const out = await session.run({ input_ids: ids, attention_mask: ones, pool_mask: ones });
    const data = out.embedding?.data as Float32Array | undefined;
    if (!data || data.length !== 16 || !data.every(Number.isFinite)) {
      return { available: false, reason: `${name}: the session ran but returned no finite [1, 16] output; the provider is broken.` };
    }
    const ms = Math.round(performance.now() - started);
    return { available: true, reason: `created a session and ran a test model on ${name} in ${ms} ms` };
  } catch (err) {
    return { available: false, reason: `${name}: the session was created but running it failed: ${errorText(err)}` };
  } finally {
    await session.release().catch(() => {});
  }
}

function explainFailure(name: ProbedProvider, message: string, options: ProbeOptions): string {
  if (name === 'cpu') return `${message}. The onnxruntime-node install is broken: reinstall it (npm ci).`;
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const missing = missingProviderLibraries(name, options.binDir);
  if (missing.length > 0) {
    return `${message}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in ${options.binDir}. ${packageHint(name, platform, arch)}`;
  }
  const provider = PROVIDER_LIBRARIES[name]!.at(-1)!;
  const unresolved = unresolvedLibraries(join(options.binDir, provider));
  if (unresolved.length > 0) {
    return `${message}: ${provider} is present but needs ${unresolved.join(', ')}, which the dynamic linker cannot find. ` +
      'Install the CUDA runtime and cuDNN it was built against, or add their directories to LD_LIBRARY_PATH.';
  }
  return `${message}. The provider libraries are present and resolve, so the GPU itself is the likely problem: see the GPU line (driver loaded? device visible in the container?).`;
}

function packageHint(name: ProbedProvider, platform: string, arch: string): string {
  if (name === 'tensorrt') return 'codecarto does not need TensorRT; the cuda provider is the one to fix.';
  if (platform === 'linux' && arch === 'arm64') {
    return "onnxruntime-node's published linux/arm64 binaries are CPU-only. On a DGX Spark (GB10), build onnxruntime with CUDA " +
      '(scripts/build-ort-cuda-aarch64.sh) and run `codecarto install-ort <build dir>`; see docs/gb10.md.';
  }
  if (platform === 'linux' && arch === 'x64') {
    return 'onnxruntime-node fetches its CUDA 12 provider on linux/x64 only when installed with ONNXRUNTIME_NODE_INSTALL=cuda12 ' +
      '(this project skips that download): run `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` on a machine with CUDA 12. ' +
      'For the DGX Spark see docs/gb10.md.';
  }
  return `onnxruntime-node has no CUDA provider for ${platform}/${arch}; embed on the cpu or through a DGX endpoint.`;
}

/** Libraries `ldd` reports as "not found" for `file`; empty when ldd is absent or all resolve. */
function unresolvedLibraries(file: string): string[] {
  if (!existsSync(file)) return [];
  const run = spawnSync('ldd', [file], { encoding: 'utf8', timeout: 5_000 });
  if (run.status !== 0 || typeof run.stdout !== 'string') return [];
  return [...run.stdout.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1]);
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
}
