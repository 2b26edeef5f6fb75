import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ModelLoadError } from './errors/model-load-error.js';

/**
 * What the CUDA execution provider needs beside each other in onnxruntime-node's binary directory.
 * All four come from one CUDA build: the binding refuses 'cuda' unless it was itself compiled with CUDA,
 * so swapping only libonnxruntime.so.1 is not enough.
 */
export const CUDA_RUNTIME_FILES = [
  'onnxruntime_binding.node',
  'libonnxruntime.so.1',
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_cuda.so',
] as const;

/** The provider libraries onnxruntime loads on demand, per execution provider. */
export const PROVIDER_LIBRARIES: Record<string, string[]> = {
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'],
};

export interface OrtPackage {
  /** node_modules/onnxruntime-node */
  root: string;
  version: string;
  /** bin/napi-v6/<platform>/<arch>: where the binding and its libraries are loaded from. */
  binDir: string;
}

/** Locates the installed onnxruntime-node (without loading it) and its binary directory for this platform. */
export function findOrtPackage(platform: string = process.platform, arch: string = process.arch): OrtPackage {
  const require = createRequire(import.meta.url);
  let manifestPath: string;
  try {
    manifestPath = require.resolve('onnxruntime-node/package.json');
  } catch (err) {
    throw new ModelLoadError(`onnxruntime-node is not installed (${(err as Error).message}). Run npm install in codecarto's directory.`, { cause: err });
  }
  const root = dirname(manifestPath);
  const { version } = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: string };
  return { root, version, binDir: join(root, 'bin', 'napi-v6', platform, arch) };
}

/** ELF e_machine values of the architectures Node reports. */
const ELF_MACHINES: Record<string, number> = { x64: 62, arm64: 183 };

/**
 * The architecture an ELF file was built for ('x64', 'arm64', 'other:<n>'), or undefined when the file is
 * not ELF. Reads only the 20-byte header prefix.
 */
export function elfArch(bytes: Uint8Array): string | undefined {
  if (bytes.length < 20 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return undefined;
  const littleEndian = bytes[5] === 1;
  const machine = littleEndian ? bytes[18] | (bytes[19] << 8) : (bytes[18] << 8) | bytes[19];
  const name = Object.entries(ELF_MACHINES).find(([, value]) => value === machine)?.[0];
  return name ?? `other:${machine}`;
}

/** The provider libraries `ep` needs that are missing from `binDir`. */
export function missingProviderLibraries(ep: string, binDir: string): string[] {
  return (PROVIDER_LIBRARIES[ep] ?? []).filter((file) => !existsSync(join(binDir, file)));
}
