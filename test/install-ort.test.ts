import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { arch as osArch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { installOrt } from '../models/ort-install.js';
import { CUDA_RUNTIME_FILES, elfArch } from '../models/ort-package.js';

/** A file that starts like a 64-bit little-endian ELF library for `arch`, then carries `tag`. */
function fakeElf(arch: 'arm64' | 'x64', tag: string): Buffer {
  const header = Buffer.alloc(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  header.writeUInt16LE(3, 16); // ET_DYN
  header.writeUInt16LE(arch === 'arm64' ? 183 : 62, 18);
  return Buffer.concat([header, Buffer.from(tag)]);
}

/**
 * Lays out files the way an onnxruntime checkout looks after build.sh --use_cuda --build_nodejs: the core and
 * provider libraries in build/Linux/Release, the binding (with a copy of the core library) in js/node/bin.
 */
function fakeBuild(root: string, options: { version?: string; arch?: 'arm64' | 'x64'; omit?: string[] } = {}): string {
  const arch = options.arch ?? 'arm64';
  const release = join(root, 'build', 'Linux', 'Release');
  const napi = join(root, 'js', 'node', 'bin', 'napi-v6', 'linux', 'arm64');
  mkdirSync(release, { recursive: true });
  mkdirSync(napi, { recursive: true });
  if (options.version) writeFileSync(join(root, 'VERSION_NUMBER'), `${options.version}\n`);
  for (const dir of [release, napi]) {
    writeFileSync(join(dir, 'libonnxruntime.so.1.30.0'), fakeElf(arch, `${dir}/core`));
    symlinkSync('libonnxruntime.so.1.30.0', join(dir, 'libonnxruntime.so.1'));
  }
  for (const name of ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']) {
    if (!options.omit?.includes(name)) writeFileSync(join(release, name), fakeElf(arch, `${release}/${name}`));
  }
  writeFileSync(join(napi, 'onnxruntime_binding.node'), fakeElf(arch, `${napi}/onnxruntime_binding.node`));
  return root;
}

describe('installOrt (codecarto install-ort)', () => {
  let root: string;
  let target: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'codecarto-install-ort-'));
    // A temp copy of onnxruntime-node's linux/arm64 directory as published: CPU-only binding and core library.
    target = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'arm64');
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, 'onnxruntime_binding.node'), fakeElf('arm64', 'published cpu binding'));
    writeFileSync(join(target, 'libonnxruntime.so.1'), fakeElf('arm64', 'published cpu core'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('copies the binding and the three libraries of one build, and keeps the originals', () => {
    const build = fakeBuild(join(root, 'onnxruntime'), { version: '1.30.0' });
    const result = installOrt({ buildDir: join(build, 'build', 'Linux', 'Release'), targetDir: target, expectedVersion: '1.30.0', arch: 'arm64' });
    expect(result.buildVersion).toBe('1.30.0');
    expect(result.copied.map((c) => c.file)).toEqual([...CUDA_RUNTIME_FILES]);
    // Given the build directory, it still finds the binding, which only the Node package's bin holds.
    expect(readFileSync(join(target, 'onnxruntime_binding.node'), 'latin1')).toContain('js/node/bin/napi-v6/linux/arm64/onnxruntime_binding.node');
    expect(readFileSync(join(target, 'libonnxruntime_providers_cuda.so'), 'latin1')).toContain('Release/libonnxruntime_providers_cuda.so');
    // libonnxruntime.so.1 is a link in the build; the copy is the library itself.
    expect(readFileSync(join(target, 'libonnxruntime.so.1'), 'latin1')).toMatch(/\/core$/);
    expect(result.backupDir).toBe(`${target}.orig`);
    expect(readFileSync(join(`${target}.orig`, 'onnxruntime_binding.node'), 'latin1')).toContain('published cpu binding');
    expect(readFileSync(join(`${target}.orig`, 'libonnxruntime.so.1'), 'latin1')).toContain('published cpu core');
  });

  it('finds all four when given the whole checkout, and keeps the first backup on a second install', () => {
    const build = fakeBuild(join(root, 'onnxruntime'), { version: '1.30.0' });
    const result = installOrt({ buildDir: build, targetDir: target, expectedVersion: '1.30.0', arch: 'arm64' });
    const from = Object.fromEntries(result.copied.map((c) => [c.file, c.from]));
    expect(from['onnxruntime_binding.node']).toContain(join('js', 'node', 'bin'));
    expect(from['libonnxruntime_providers_cuda.so']).toContain(join('build', 'Linux', 'Release'));
    const again = installOrt({ buildDir: build, targetDir: target, expectedVersion: '1.30.0', arch: 'arm64' });
    expect(again.backupDir).toBeUndefined();
    expect(readFileSync(join(`${target}.orig`, 'onnxruntime_binding.node'), 'latin1')).toContain('published cpu binding');
  });

  it('refuses a build of another version, saying which and what to do', () => {
    const build = fakeBuild(join(root, 'onnxruntime'), { version: '1.22.0' });
    expect(() => installOrt({ buildDir: build, targetDir: target, expectedVersion: '1.30.0', arch: 'arm64' })).toThrow(
      /holds onnxruntime 1\.22\.0, but codecarto uses onnxruntime-node 1\.30\.0.*v1\.30\.0/,
    );
    expect(readFileSync(join(target, 'onnxruntime_binding.node'), 'latin1')).toContain('published cpu binding');
  });

  it('takes the version from libonnxruntime.so.<version> when there is no VERSION_NUMBER, and needs --force when neither exists', () => {
    const build = fakeBuild(join(root, 'onnxruntime'));
    expect(installOrt({ buildDir: build, targetDir: target, expectedVersion: '1.30.0', arch: 'arm64' }).buildVersion).toBe('1.30.0');
    const bare = join(root, 'bare');
    mkdirSync(bare);
    for (const name of CUDA_RUNTIME_FILES) writeFileSync(join(bare, name), fakeElf('arm64', name));
    expect(() => installOrt({ buildDir: bare, targetDir: target, expectedVersion: '1.30.0', arch: 'arm64' })).toThrow(/Cannot tell which onnxruntime version/);
    expect(installOrt({ buildDir: bare, targetDir: target, expectedVersion: '1.30.0', arch: 'arm64', force: true }).copied).toHaveLength(4);
  });

  it('explains why the core library alone is not enough when the CUDA files are missing', () => {
    const build = join(root, 'core-only');
    mkdirSync(build);
    writeFileSync(join(build, 'VERSION_NUMBER'), '1.30.0\n');
    writeFileSync(join(build, 'libonnxruntime.so.1'), fakeElf('arm64', 'core'));
    let error: unknown;
    try {
      installOrt({ buildDir: build, targetDir: target, expectedVersion: '1.30.0', arch: 'arm64' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CodecartoError);
    const message = (error as Error).message;
    expect(message).toMatch(/holds no onnxruntime_binding\.node, libonnxruntime_providers_shared\.so, libonnxruntime_providers_cuda\.so/);
    expect(message).toMatch(/rejects the cuda execution provider unless it was itself compiled with CUDA/);
    expect(message).toMatch(/swapping only the core library/);
    expect(message).toMatch(/--use_cuda --build_nodejs/);
    expect(existsSync(`${target}.orig`)).toBe(false);
  });

  it('refuses libraries built for another architecture', () => {
    const build = fakeBuild(join(root, 'onnxruntime'), { version: '1.30.0', arch: 'x64' });
    expect(() => installOrt({ buildDir: build, targetDir: target, expectedVersion: '1.30.0', arch: 'arm64' })).toThrow(/built for x64, but this machine is arm64/);
    expect(elfArch(fakeElf('arm64', ''))).toBe('arm64');
    expect(elfArch(Buffer.from('not an elf file at all'))).toBeUndefined();
  });

  it('refuses a path that is not a directory', () => {
    expect(() => installOrt({ buildDir: join(root, 'missing'), targetDir: target, expectedVersion: '1.30.0' })).toThrow(/is not a directory/);
  });
});

describe('scripts/build-ort-cuda-aarch64.sh', () => {
  const script = 'scripts/build-ort-cuda-aarch64.sh';

  it('parses (bash -n) and prints its help, naming the build flags', () => {
    expect(spawnSync('bash', ['-n', script], { encoding: 'utf8' }).status).toBe(0);
    const help = spawnSync('bash', [script, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const flag of ['--use_cuda', '--build_nodejs', 'CMAKE_CUDA_ARCHITECTURES=121', 'node_modules/onnxruntime-node']) expect(help.stdout).toContain(flag);
  });

  it.runIf(osArch() !== 'arm64')('stops at the first preflight check on a machine that is not aarch64', () => {
    const run = spawnSync('bash', [script], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/this machine is \S+; the script builds for linux\/aarch64/);
  });
});
