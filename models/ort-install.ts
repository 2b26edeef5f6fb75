import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CodecartoError } from './errors/codecarto-error.js';
import { CUDA_RUNTIME_FILES, elfArch, findOrtPackage } from './ort-package.js';

export interface InstallOrtOptions {
  /** An onnxruntime build (or source) directory made with --use_cuda --build_nodejs. */
  buildDir: string;
  /** Where the files go; default onnxruntime-node's bin/napi-v6/<platform>/<arch>. Tests pass a temp copy. */
  targetDir?: string;
  /** Default: the installed onnxruntime-node's version. */
  expectedVersion?: string;
  /** Architecture the files must be built for; default process.arch. */
  arch?: string;
  /** Copy even when the build's version cannot be determined. A known, different version still fails. */
  force?: boolean;
}

export interface InstallOrtResult {
  targetDir: string;
  /** Version the build declares (VERSION_NUMBER or libonnxruntime.so.<version>), if found. */
  buildVersion: string | undefined;
  copied: { file: string; from: string; bytes: number }[];
  /** Where the files that were replaced were saved (first install only). */
  backupDir: string | undefined;
}

const WHY_ALL_FOUR =
  'All four must come from one CUDA build: onnxruntime_binding.node rejects the cuda execution provider unless it was itself ' +
  'compiled with CUDA, so swapping only the core library (libonnxruntime.so.1) under the published CPU-only binding still fails; ' +
  'and the CUDA provider itself is libonnxruntime_providers_cuda.so, loaded through libonnxruntime_providers_shared.so. ' +
  'Build with --use_cuda --build_nodejs (scripts/build-ort-cuda-aarch64.sh does) and pass its build directory.';

/** Directories never worth descending into when looking for build outputs. */
const SKIP_DIRS = new Set(['.git', 'node_modules', 'CMakeFiles', '_deps', 'external', 'testdata', 'docs']);
const MAX_DEPTH = 8;

/**
 * Copies the CUDA-enabled binding and libraries of an onnxruntime build into onnxruntime-node's binary
 * directory, after checking that the build's version matches the installed package and that every file is
 * built for this machine's architecture.
 */
export function installOrt(options: InstallOrtOptions): InstallOrtResult {
  const buildDir = resolve(options.buildDir);
  if (!existsSync(buildDir) || !statSync(buildDir).isDirectory()) {
    throw new CodecartoError(`${buildDir} is not a directory: pass the onnxruntime build directory (e.g. ~/onnxruntime/build/Linux/Release).`);
  }
  const pkg = options.targetDir === undefined || options.expectedVersion === undefined ? findOrtPackage() : undefined;
  const targetDir = resolve(options.targetDir ?? pkg!.binDir);
  const expectedVersion = options.expectedVersion ?? pkg!.version;
  const arch = options.arch ?? process.arch;

  // build.py --build_nodejs leaves the binding in <checkout>/js/node/bin/napi-v6/<platform>/<arch> and the
  // provider libraries in the build directory (build/Linux/Release): look in both.
  const checkout = checkoutRoot(buildDir);
  const roots = [buildDir];
  if (checkout !== undefined && !buildDir.startsWith(join(checkout, 'js'))) roots.push(join(checkout, 'js', 'node', 'bin'));
  const found = findFiles(roots);
  const missing = CUDA_RUNTIME_FILES.filter((name) => !found.files.has(name));
  if (missing.length > 0) {
    throw new CodecartoError(`${roots.join(' and ')} ${roots.length > 1 ? 'hold' : 'holds'} no ${missing.join(', ')} (searched ${MAX_DEPTH} levels deep). ${WHY_ALL_FOUR}`);
  }
  const buildVersion = buildVersionOf(buildDir, found);
  if (buildVersion !== undefined && buildVersion !== expectedVersion) {
    throw new CodecartoError(
      `${buildDir} holds onnxruntime ${buildVersion}, but codecarto uses onnxruntime-node ${expectedVersion}: the binding must match the ` +
        `JavaScript API it is loaded by. Rebuild from tag v${expectedVersion} (scripts/build-ort-cuda-aarch64.sh checks it out).`,
    );
  }
  if (buildVersion === undefined && !options.force) {
    throw new CodecartoError(
      `Cannot tell which onnxruntime version ${buildDir} holds (no VERSION_NUMBER in it or above it, no libonnxruntime.so.<version>). ` +
        `Pass the build directory inside the onnxruntime checkout, or --force if you know it is ${expectedVersion}.`,
    );
  }
  const sources = CUDA_RUNTIME_FILES.map((name) => ({ name, from: pickCandidate(found.files.get(name)!, found.files) }));
  for (const { name, from } of sources) {
    const built = elfArch(readHeader(from));
    if (built !== arch) {
      throw new CodecartoError(`${from} is ${built === undefined ? 'not an ELF library' : `built for ${built}`}, but this machine is ${arch}; ${name} must come from a build on (or for) this machine.`);
    }
  }

  mkdirSync(targetDir, { recursive: true });
  const backupDir = backupOriginals(targetDir);
  const copied = sources.map(({ name, from }) => {
    const to = join(targetDir, name);
    const tmp = `${to}.${process.pid}.tmp`;
    copyFileSync(from, tmp); // follows symlinks: libonnxruntime.so.1 is usually a link to libonnxruntime.so.<version>
    chmodSync(tmp, 0o755);
    renameSync(tmp, to); // never a half-written library in place
    return { file: name, from, bytes: statSync(to).size };
  });
  return { targetDir, buildVersion, copied, backupDir };
}

interface FoundFiles {
  /** File name -> paths, for the four runtime files. */
  files: Map<string, string[]>;
  /** Versions named by libonnxruntime.so.<x.y.z> files. */
  soVersions: Set<string>;
  versionFiles: string[];
}

/** The onnxruntime checkout (the directory with VERSION_NUMBER and js/node) at or above `dir`, if any. */
function checkoutRoot(dir: string): string | undefined {
  for (let up = 0, d = dir; up <= 4; up++, d = dirname(d)) {
    if (existsSync(join(d, 'VERSION_NUMBER')) && existsSync(join(d, 'js', 'node'))) return d;
  }
  return undefined;
}

function findFiles(roots: string[]): FoundFiles {
  const wanted = new Set<string>(CUDA_RUNTIME_FILES);
  const found: FoundFiles = { files: new Map(), soVersions: new Set(), versionFiles: [] };
  const walk = (dir: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // unreadable directories are not where builds put their outputs
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth < MAX_DEPTH && !SKIP_DIRS.has(entry.name)) walk(path, depth + 1);
        continue;
      }
      if (wanted.has(entry.name)) found.files.set(entry.name, [...(found.files.get(entry.name) ?? []), path]);
      const so = /^libonnxruntime\.so\.(\d+\.\d+\.\d+)$/.exec(entry.name);
      if (so) found.soVersions.add(so[1]);
      if (entry.name === 'VERSION_NUMBER') found.versionFiles.push(path);
    }
  };
  for (const root of roots) if (existsSync(root)) walk(root, 0);
  return found;
}

/** The build's version: VERSION_NUMBER at or above the build dir (the checkout root), else the .so name. */
function buildVersionOf(buildDir: string, found: FoundFiles): string | undefined {
  let dir = buildDir;
  for (let up = 0; up <= 4; up++) {
    const file = join(dir, 'VERSION_NUMBER');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    dir = dirname(dir);
  }
  if (found.versionFiles.length > 0) return readFileSync(found.versionFiles[0], 'utf8').trim();
  if (found.soVersions.size === 1) return [...found.soVersions][0];
  return undefined;
}

/** Prefers the copy that sits with most of the other runtime files (one build's output), then the shortest path. */
function pickCandidate(paths: string[], all: Map<string, string[]>): string {
  const together = (path: string): number =>
    CUDA_RUNTIME_FILES.filter((name) => (all.get(name) ?? []).some((p) => dirname(p) === dirname(path))).length;
  return [...paths].sort((a, b) => together(b) - together(a) || a.length - b.length)[0];
}

function readHeader(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const header = new Uint8Array(20);
    readSync(fd, header, 0, 20, 0);
    return header;
  } finally {
    closeSync(fd);
  }
}

/** Saves the files about to be replaced into `<target>.orig` once, so the CPU-only originals can be restored. */
function backupOriginals(targetDir: string): string | undefined {
  const backupDir = `${targetDir}.orig`;
  const present = CUDA_RUNTIME_FILES.filter((name) => existsSync(join(targetDir, name)));
  if (present.length === 0 || existsSync(backupDir)) return undefined;
  mkdirSync(backupDir, { recursive: true });
  for (const name of present) copyFileSync(join(targetDir, name), join(backupDir, basename(name)));
  return backupDir;
}
