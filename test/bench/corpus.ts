/**
 * The benchmark's default corpus: real third-party code that `npm ci` installs, copied into a temp dir
 * (so the re-index edit never touches node_modules, and directories named `dist` inside packages are
 * not skipped by the walker's default excludes). The list mixes TypeScript sources, declaration files,
 * compiled JavaScript, C++ and Markdown, like a real repository, and gives about 11,000 chunks: enough
 * for the 10,000-chunk measures, few enough that the one build (10,000+ HNSW inserts at 4096 dims, the
 * slowest part) stays within minutes.
 */
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CorpusPart {
  /** Directory name inside the copy. */
  name: string;
  /** Path under node_modules. */
  from: string;
  /** Package whose version is recorded. */
  pkg: string;
}

/** The part also indexed with the ONNX test model (a second build of the whole corpus would double the run). */
export const ONNX_PART = 'mcp-sdk-esm';

export const DEFAULT_CORPUS: readonly CorpusPart[] = [
  { name: 'zod-src', from: 'zod/src', pkg: 'zod' },
  { name: 'mcp-sdk-esm', from: '@modelcontextprotocol/sdk/dist/esm', pkg: '@modelcontextprotocol/sdk' },
  { name: 'types-node', from: '@types/node', pkg: '@types/node' },
  { name: 'ajv-lib', from: 'ajv/lib', pkg: 'ajv' },
  { name: 'protobufjs-src', from: 'protobufjs/src', pkg: 'protobufjs' },
  { name: 'onnxruntime-common-lib', from: 'onnxruntime-common/lib', pkg: 'onnxruntime-common' },
  { name: 'better-sqlite3-src', from: 'better-sqlite3/src', pkg: 'better-sqlite3' },
  { name: 'hnswlib-node', from: 'hnswlib-node', pkg: 'hnswlib-node' },
];

/** Directories never worth copying: the walker skips them anyway. */
const SKIP_COPY = new Set(['node_modules', '.git']);

/** Copies the default corpus from `nodeModules` into `dest`; returns "pkg@version" per part. */
export function copyDefaultCorpus(nodeModules: string, dest: string): string[] {
  const versions: string[] = [];
  for (const part of DEFAULT_CORPUS) {
    const from = join(nodeModules, part.from);
    if (!existsSync(from)) throw new Error(`bench: ${from} is missing; run npm ci first (or pass --corpus <dir>).`);
    cpSync(from, join(dest, part.name), { recursive: true, filter: (src) => !SKIP_COPY.has(baseName(src)) });
    versions.push(`${part.pkg}@${packageVersion(join(nodeModules, part.pkg))}`);
  }
  return versions;
}

/** Copies any directory (minus .git and node_modules) so the bench may edit it. */
export function copyCorpus(from: string, dest: string): void {
  cpSync(from, dest, { recursive: true, filter: (src) => src === from || !SKIP_COPY.has(baseName(src)) });
}

function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return p.slice(i + 1);
}

function packageVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}
