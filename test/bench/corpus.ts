/**
 * The benchmark's default corpus: real third-party code that `npm ci` installs, copied into a temp dir
 * (so the re-index edit never touches node_modules, and directories named `dist` inside packages are
 * not skipped by the walker's default excludes). The list mixes TypeScript sources, declaration files,
 * compiled JavaScript, C++ and Markdown, like a real repository, and gives about 11,000 chunks: enough
 * for the 10,000-chunk measures, few enough that the one build (10,000+ HNSW inserts at 4096 dims, the
 * slowest part) stays within minutes.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

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

/** A directory of real code the scaled corpus copies, once verbatim and then as renamed copies. */
export interface SourceDir {
  name: string;
  dir: string;
}

/**
 * The sources of `--sizes` runs: the default corpus's parts, then every repository under `extraRoot`
 * (the public repositories fetched beside the checkout, ../corpora/*), when it exists.
 */
export function scaledSources(nodeModules: string, extraRoot: string | null): SourceDir[] {
  const sources: SourceDir[] = DEFAULT_CORPUS.map((p) => ({ name: p.name, dir: join(nodeModules, p.from) }));
  if (extraRoot && existsSync(extraRoot)) {
    for (const entry of readdirSync(extraRoot, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory()) sources.push({ name: entry.name, dir: join(extraRoot, entry.name) });
    }
  }
  for (const s of sources) if (!existsSync(s.dir)) throw new Error(`bench: ${s.dir} is missing; run npm ci first.`);
  return sources;
}

/** Files bigger than this are copied as they are (the walker skips files over 1 MB anyway). */
const RENAME_MAX_BYTES = 1_000_000;
/** camelCase or snake_case identifiers: never a keyword of any language the chunker knows, so renaming them keeps the syntax. */
const COMPOUND_IDENTIFIER = /\b[A-Za-z][A-Za-z0-9]*(?:[a-z0-9][A-Z]|_[A-Za-z0-9])[A-Za-z0-9_]*\b/g;
const LETTERS = 'bcdfghjklmnpqrstvwxz';

/**
 * Copies `source` to `dest`. Copy 0 is verbatim. Copy k > 0 is the same code with every camelCase and
 * snake_case identifier given a suffix that depends on k and the identifier (`parseValue` -> `parseValueQz`,
 * `read_file` -> `read_file_qz`), consistently across files: same structure, sizes and languages as real
 * code, but other words, so its chunks are new texts with vectors of their own rather than near-duplicates
 * of copy 0's (which would make HNSW recall at scale a measure of duplicate clusters). Returns the bytes copied.
 */
export function copyRenamed(source: string, dest: string, copy: number): number {
  if (copy === 0) {
    copyCorpus(source, dest);
    return dirSize(dest);
  }
  let bytes = 0;
  const walk = (from: string, to: string) => {
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      if (SKIP_COPY.has(entry.name)) continue;
      const src = join(from, entry.name);
      const dst = join(to, entry.name);
      if (entry.isDirectory()) walk(src, dst);
      else if (entry.isFile()) {
        const data = readFileSync(src);
        const text = data.length <= RENAME_MAX_BYTES && !data.subarray(0, 8192).includes(0) ? renameIdentifiers(data.toString('utf8'), copy) : null;
        writeFileSync(dst, text ?? data);
        bytes += data.length;
      }
    }
  };
  walk(source, dest);
  return bytes;
}

export function renameIdentifiers(text: string, copy: number): string {
  return text.replace(COMPOUND_IDENTIFIER, (id) => {
    let h = (0x811c9dc5 ^ copy) >>> 0;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
    const suffix = LETTERS[h % 20] + LETTERS[(h >>> 8) % 20];
    return id.includes('_') && id === id.toLowerCase() ? `${id}_${suffix}` : `${id}${suffix[0].toUpperCase()}${suffix[1]}`;
  });
}

function dirSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? dirSize(p) : entry.isFile() ? statSync(p).size : 0;
  }
  return total;
}

/** The directory name of copy `copy` of a source inside the scaled corpus. */
export function copyName(source: SourceDir, copy: number): string {
  return copy === 0 ? basename(source.name) : `${source.name}-copy${copy}`;
}
