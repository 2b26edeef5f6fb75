import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { ModelLoadError } from './errors/model-load-error.js';
import { ChecksumMismatchError, HubClient, HubHttpError, type DownloadProgress, type HubClientOptions } from './hub-client.js';
import { MANIFEST_FILE, MODEL_FILE, parseModelManifest, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, type ModelManifest, type ModelManifestInput } from './model-manifest.js';
import { findKnownModel, KNOWN_MODELS, type KnownModel } from './model-registry.js';
import { MODEL_NAME_PATTERN } from './model-store.js';
import { readOnnxSignature } from './onnx-signature.js';
import { buildPulledManifest, inferFacts, METADATA_FILES, parseShippedManifest, type RepoMetadata, type ShippedManifest } from './pulled-manifest.js';

const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Tried in order when a repository the registry does not know cannot be listed. */
const ONNX_CANDIDATES = ['onnx/model.onnx', 'model.onnx'];

export interface PullOptions extends HubClientOptions {
  /** A known model's name or repository, or any hub repository "owner/name". */
  spec: string;
  /** Where models are installed ($CODECARTO_HOME/models). */
  modelsDir: string;
  /** Branch, tag or commit; default the registry's, else "main". */
  revision?: string;
  /** ONNX file in the repository to use instead of the default. */
  file?: string;
  /** Install name; default the registry name or the repository's name, lowercased. */
  name?: string;
  /** codecarto.json fields that win over the registry's and the inferred ones. */
  manifest?: Partial<ModelManifestInput>;
  /** Replace an installed model of the same name. */
  force?: boolean;
  registry?: readonly KnownModel[];
  onProgress?: (progress: DownloadProgress) => void;
  log?: (message: string) => void;
}

export interface PulledFile {
  /** Path in the repository. */
  repoPath: string;
  /** Name in the model directory. */
  installedAs: string;
  size: number;
  sha256: string;
  verified: string[];
  resumedFrom: number;
}

export interface PullResult {
  name: string;
  dir: string;
  repo: string;
  revision: string;
  commit: string | undefined;
  files: PulledFile[];
  manifest: ModelManifest;
  /** True when the model was already installed and nothing was downloaded. */
  alreadyInstalled: boolean;
}

/**
 * Downloads an ONNX embedding model and its tokenizer into `modelsDir/<name>/` with a codecarto.json.
 * Files land in a hidden staging folder first and the folder is renamed into place only once every
 * file is verified and the manifest written, so an interrupted or refused pull never leaves a half
 * model under the name (an interrupted one leaves resumable .part files in the staging folder).
 */
export async function pullModel(options: PullOptions): Promise<PullResult> {
  const registry = options.registry ?? KNOWN_MODELS;
  const log = options.log ?? (() => {});
  const known = findKnownModel(options.spec, registry);
  if (known?.notPullable) throw new ModelLoadError(known.notPullable);
  if (known === undefined && !REPO_PATTERN.test(options.spec)) {
    throw new ModelLoadError(
      `"${options.spec}" is neither a known model (${registry.filter((m) => !m.notPullable).map((m) => m.name).join(', ')}) ` +
        'nor a Hugging Face repository "owner/name". Run `codecarto models list` to see the known models.',
    );
  }
  const repo = known?.repo ?? options.spec;
  const name = options.name ?? known?.name ?? repo.split('/')[1].toLowerCase();
  if (!MODEL_NAME_PATTERN.test(name)) throw new ModelLoadError(`"${name}" cannot be a model name: use letters, digits, ".", "_" and "-".`);
  const revision = options.revision ?? known?.revision ?? 'main';
  const dir = join(options.modelsDir, name);
  if (existsSync(join(dir, MANIFEST_FILE)) && !options.force) {
    const manifest = parseModelManifest(JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')), join(dir, MANIFEST_FILE));
    return { name, dir, repo, revision, commit: manifest.source?.commit, files: [], manifest, alreadyInstalled: true };
  }

  const hub = new HubClient(options);
  const staging = join(options.modelsDir, `.pull-${name}`);
  mkdirSync(staging, { recursive: true });
  const files: PulledFile[] = [];
  let commit: string | undefined;
  const fetchFile = async (repoPath: string, installedAs: string, sha256?: string): Promise<PulledFile> => {
    const result = await hub.download(repo, commit ?? revision, repoPath, join(staging, installedAs), { sha256, onProgress: options.onProgress });
    // Pin the commit the first answer named, so every file comes from the same snapshot.
    commit ??= result.commit;
    const file = { repoPath, installedAs, size: result.size, sha256: result.sha256, verified: result.verified, resumedFrom: result.resumedFrom };
    files.push(file);
    log(`${repoPath}: ${result.size} bytes${result.resumedFrom > 0 ? `, resumed at ${result.resumedFrom}` : ''}; verified ${result.verified.join(', ') || 'nothing (the server sent no size or checksum)'}`);
    return file;
  };

  try {
    await fetchFile(TOKENIZER_FILE, TOKENIZER_FILE);
    await fetchOptional(() => fetchFile(TOKENIZER_CONFIG_FILE, TOKENIZER_CONFIG_FILE));
    const listing = known !== undefined && options.file === undefined ? undefined : await hub.listFiles(repo, commit ?? revision);
    let facts = known?.facts ?? {};
    if (known === undefined) {
      const metadata = await readRepoMetadata(hub, repo, commit ?? revision, staging);
      facts = inferFacts(metadata);
    }
    const shipped = await fetchShippedManifest(repo, listing, options.manifest, () => fetchFile(MANIFEST_FILE, MANIFEST_FILE), staging);
    const onnxFile = await fetchOnnx(options.file ?? known?.onnxFile, listing, (path) => fetchFile(path, MODEL_FILE, known?.sha256?.[path]));
    const fromRegistry = onnxFile === known?.onnxFile && known?.externalData !== undefined;
    const listed = listing?.filter((f) => dirname(f) === dirname(onnxFile) && isExternalDataOf(onnxFile, basename(f)));
    // Without a listing, the usual external-data name is tried and may be absent.
    const guessed = !fromRegistry && listed === undefined;
    const externalData = fromRegistry ? known!.externalData! : (listed ?? [`${onnxFile}_data`]);
    for (const path of externalData) {
      // Kept under its own name: the graph refers to it by that name, relative to model.onnx.
      const fetch = () => fetchFile(path, posix.basename(path), known?.sha256?.[path]);
      if (guessed) await fetchOptional(fetch);
      else await fetch();
    }

    const tokenizerJson = JSON.parse(readFileSync(join(staging, TOKENIZER_FILE), 'utf8')) as Record<string, unknown>;
    const resolvedRevision = commit ?? revision;
    const manifestInput = buildPulledManifest({
      repo,
      id: `${repo}${onnxFile === (known?.onnxFile ?? ONNX_CANDIDATES[0]) ? '' : `:${onnxFile}`}@${resolvedRevision.slice(0, 12)}`,
      facts,
      signature: readOnnxSignature(join(staging, MODEL_FILE)),
      tokenizerJson,
      source: { repo, revision, commit, files: files.map((f) => f.repoPath) },
      shipped,
      overrides: options.manifest,
    });
    const manifest = parseModelManifest(manifestInput, `the manifest for ${repo}`);
    writeFileSync(join(staging, MANIFEST_FILE), `${JSON.stringify(manifestInput, null, 2)}\n`);
    if (options.force) rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return { name, dir, repo, revision, commit, files, manifest, alreadyInstalled: false };
  } catch (err) {
    // A refused file or an unusable model leaves nothing; a broken transfer keeps its .part to resume.
    if (err instanceof ChecksumMismatchError || err instanceof ModelLoadError || (err instanceof HubHttpError && !err.isRetryable)) {
      rmSync(staging, { recursive: true, force: true });
    }
    throw err;
  }
}

/** The ONNX file: the one asked for, else the first candidate the listing has (or that exists). Returns its repository path. */
async function fetchOnnx(wanted: string | undefined, listing: string[] | undefined, fetch: (path: string) => Promise<PulledFile>): Promise<string> {
  if (wanted !== undefined) {
    await fetch(wanted);
    return wanted;
  }
  const candidates = listing === undefined ? ONNX_CANDIDATES : ONNX_CANDIDATES.filter((c) => listing.includes(c));
  for (const candidate of candidates) {
    if (await fetchOptional(() => fetch(candidate))) return candidate;
  }
  const others = listing?.filter((f) => f.endsWith('.onnx')) ?? [];
  throw new ModelLoadError(
    `The repository has no ${ONNX_CANDIDATES.join(' or ')}. ` +
      (others.length > 0 ? `It has ${others.join(', ')}: choose one with --file.` : 'Choose its ONNX file with --file, or export the model to ONNX first.'),
  );
}

/**
 * The repository's own codecarto.json, when it ships one: fetched when the listing names it, or tried
 * when there is no listing (a 404 means none). It lands in the staging folder, where the merged manifest
 * later replaces it.
 */
async function fetchShippedManifest(
  repo: string,
  listing: string[] | undefined,
  overrides: Partial<ModelManifestInput> | undefined,
  fetch: () => Promise<PulledFile>,
  staging: string,
): Promise<ShippedManifest | undefined> {
  if (listing !== undefined && !listing.includes(MANIFEST_FILE)) return undefined;
  if (!(await fetchOptional(fetch))) return undefined;
  const text = readFileSync(join(staging, MANIFEST_FILE), 'utf8');
  return parseShippedManifest(text, `the ${MANIFEST_FILE} shipped in ${repo}`, Object.keys(overrides ?? {}));
}

async function readRepoMetadata(hub: HubClient, repo: string, revision: string, staging: string): Promise<RepoMetadata> {
  const metadata: RepoMetadata = {};
  for (const [key, path] of Object.entries(METADATA_FILES) as [keyof typeof METADATA_FILES, string][]) {
    const text = await hub.fetchText(repo, revision, path);
    if (text === undefined) continue;
    try {
      (metadata as Record<string, unknown>)[key] = JSON.parse(text);
    } catch {
      // A broken metadata file is the same as none: the manifest error names what is missing.
    }
  }
  const tokenizerConfig = join(staging, TOKENIZER_CONFIG_FILE);
  if (existsSync(tokenizerConfig)) metadata.tokenizerConfig = JSON.parse(readFileSync(tokenizerConfig, 'utf8')) as Record<string, unknown>;
  return metadata;
}

/** Runs `fetch`, turning a 404 into false. */
async function fetchOptional(fetch: () => Promise<unknown>): Promise<boolean> {
  try {
    await fetch();
    return true;
  } catch (err) {
    if (err instanceof HubHttpError && err.status === 404) return false;
    throw err;
  }
}

function isExternalDataOf(onnxPath: string, candidate: string): boolean {
  const base = posix.basename(onnxPath);
  return candidate.startsWith(`${base}_data`) || candidate.startsWith(`${base}.data`);
}
