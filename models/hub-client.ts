import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { CodecartoError } from './errors/codecarto-error.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

export interface HubClientOptions {
  /** Hub or mirror base URL (HF_ENDPOINT). */
  endpoint?: string;
  /** HF_TOKEN: sent as a Bearer token to the endpoint only, never to the CDN it redirects to. */
  token?: string;
  fetch?: typeof fetch;
  /** Until response headers arrive, per request. Default 30 s. */
  requestTimeoutMs?: number;
  /** Longest wait for the next body bytes. Default 60 s. */
  idleTimeoutMs?: number;
  /** Resumed attempts after a transfer breaks off midway. Default 3. */
  retries?: number;
  signal?: AbortSignal;
}

export interface DownloadProgress {
  file: string;
  received: number;
  total: number | undefined;
}

export interface DownloadOptions {
  /** Pinned values (e.g. from the registry), checked in addition to what the hub says. */
  sha256?: string;
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** What was checked, e.g. "size 1234 (hub)", "sha256 (hub X-Linked-Etag)". */
  verified: string[];
  /** Bytes already on disk from an earlier, interrupted attempt. */
  resumedFrom: number;
  /** The commit the hub resolved the revision to (X-Repo-Commit), when it said. */
  commit: string | undefined;
}

/** What the hub says about a file, from its own responses (not the CDN's). */
interface FileMeta {
  sha256?: string;
  gitBlobSha1?: string;
  size?: number;
  commit?: string;
}

/** The endpoint cannot be reached at all (refused, DNS, timeout). */
export class HubUnreachableError extends CodecartoError {
  readonly endpoint: string;
  constructor(endpoint: string, reason: string, cause: unknown) {
    super(
      `Cannot reach the Hugging Face hub at ${endpoint} (${reason}). Check the network connection; ` +
        'or set HF_ENDPOINT to a reachable mirror; or copy a model directory (model.onnx, tokenizer.json, codecarto.json) ' +
        'by hand and pass its path as model.',
      { cause },
    );
    this.endpoint = endpoint;
  }
}

/** The hub answered with an error status. */
export class HubHttpError extends CodecartoError {
  readonly status: number;
  readonly url: string;
  constructor(message: string, options: { status: number; url: string; isRetryable?: boolean }) {
    super(message, { isRetryable: options.isRetryable });
    this.status = options.status;
    this.url = options.url;
  }
}

/** A transfer broke off; the partial file is kept so the next pull resumes it. */
export class HubTransferError extends CodecartoError {}

/** A downloaded file does not match its size or checksum; it has been deleted. */
export class ChecksumMismatchError extends CodecartoError {
  readonly file: string;
  constructor(file: string, detail: string) {
    super(`${file} failed verification (${detail}), so it was deleted. The download was corrupted or the server sent a different file; pull again, and if it repeats, check HF_ENDPOINT.`);
    this.file = file;
  }
}

const MAX_REDIRECTS = 10;

/**
 * Downloads files in the Hugging Face hub's URL layout, `{endpoint}/{repo}/resolve/{revision}/{file}`.
 * Redirects are followed by hand so that the hub's own headers (X-Linked-Etag, X-Linked-Size,
 * X-Repo-Commit) are read from the hub's answer and the token never goes to another origin.
 */
export class HubClient {
  readonly endpoint: string;
  private readonly origin: string;
  private readonly token: string | undefined;
  private readonly fetch: typeof fetch;
  private readonly requestTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly retries: number;
  private readonly signal: AbortSignal | undefined;

  constructor(options: HubClientOptions = {}) {
    this.endpoint = (options.endpoint ?? DEFAULT_HF_ENDPOINT).replace(/\/+$/, '');
    this.origin = new URL(this.endpoint).origin;
    this.token = options.token || undefined;
    this.fetch = options.fetch ?? fetch;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.retries = options.retries ?? 3;
    this.signal = options.signal;
  }

  fileUrl(repo: string, revision: string, file: string): string {
    const path = file.split('/').map(encodeURIComponent).join('/');
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
  }

  /** A small text file, or undefined when the repository has no such file (404). */
  async fetchText(repo: string, revision: string, file: string): Promise<string | undefined> {
    const url = this.fileUrl(repo, revision, file);
    const { response, abort } = await this.request(url);
    try {
      if (response.status === 404) return undefined;
      if (!response.ok) throw this.statusError(response.status, repo, revision, file, url);
      return await this.within(response.text(), abort);
    } finally {
      abort();
    }
  }

  /** File paths of the repository at `revision` from the hub's API, or undefined when the endpoint has no such API. */
  async listFiles(repo: string, revision: string): Promise<string[] | undefined> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
    const { response, abort } = await this.request(url);
    try {
      if (response.status === 401 || response.status === 403) throw this.statusError(response.status, repo, revision, '', url);
      if (!response.ok) return undefined;
      const body = (await this.within(response.json(), abort)) as { siblings?: { rfilename?: unknown }[] };
      if (!Array.isArray(body.siblings)) return undefined;
      return body.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === 'string');
    } catch (err) {
      if (err instanceof CodecartoError) throw err;
      return undefined; // not JSON: a mirror without the API; the caller falls back to trying paths
    } finally {
      abort();
    }
  }

  /**
   * Downloads `file` to `dest` through `dest.part`, resuming a part left by an earlier attempt with an
   * HTTP Range request. Verifies the size and the checksum before renaming into place; a file that fails
   * is deleted. Throws HubHttpError with status 404 when the repository has no such file.
   */
  async download(repo: string, revision: string, file: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
    const url = this.fileUrl(repo, revision, file);
    const part = `${dest}.part`;
    const identityPath = `${dest}.part.json`;
    let resumedFrom = 0;
    for (let attempt = 0; ; attempt++) {
      const have = existsSync(part) ? statSync(part).size : 0;
      if (attempt === 0) resumedFrom = have;
      const { response, meta, abort } = await this.request(url, have > 0 ? `bytes=${have}-` : undefined);
      try {
        if (response.status === 416 && have > 0) {
          // The part is as long as the file (or longer, from another version): verify it or start over.
          if (meta.size === have) return this.finish(file, dest, part, identityPath, meta, options, resumedFrom);
          discard(part, identityPath);
          continue;
        }
        if (!response.ok) throw this.statusError(response.status, repo, revision, file, url);
        // Which version of the file the part holds: its checksum when the hub gives one (a branch URL and a
        // commit URL name the same bytes), else the URL.
        const identity = JSON.stringify({ version: meta.sha256 ?? meta.gitBlobSha1 ?? url, size: meta.size });
        if (have > 0 && existsSync(identityPath) && readFileSync(identityPath, 'utf8') !== identity) {
          discard(part, identityPath); // the part belongs to another version of the file
          continue;
        }
        writeFileSync(identityPath, identity);
        let offset = 0;
        if (response.status === 206) {
          offset = Number(/^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1] ?? NaN);
          if (offset !== have) {
            discard(part, identityPath);
            continue;
          }
        }
        const total = meta.size ?? contentLength(response, offset);
        try {
          await this.writeBody(response, part, offset, (received) => options.onProgress?.({ file, received, total }));
        } catch (err) {
          if (this.signal?.aborted) throw err;
          const got = existsSync(part) ? statSync(part).size : 0;
          if (attempt < this.retries) continue; // resume from what arrived
          throw new HubTransferError(
            `The download of ${file} from ${this.endpoint} broke off after ${got} bytes (${errorText(err)}). ` +
              'Run the same pull again: it resumes where this one stopped.',
            { cause: err, isRetryable: true },
          );
        }
        const size = statSync(part).size;
        if (total !== undefined && size < total && attempt < this.retries) continue; // ended early: resume
        return this.finish(file, dest, part, identityPath, meta, options, resumedFrom);
      } finally {
        abort();
      }
    }
  }

  private async finish(
    file: string,
    dest: string,
    part: string,
    identityPath: string,
    meta: FileMeta,
    options: DownloadOptions,
    resumedFrom: number,
  ): Promise<DownloadResult> {
    const verified: string[] = [];
    const size = statSync(part).size;
    const fail = (detail: string): never => {
      discard(part, identityPath);
      throw new ChecksumMismatchError(file, detail);
    };
    if (meta.size !== undefined) {
      if (size !== meta.size) fail(`${size} bytes, the hub says ${meta.size}`);
      verified.push(`size ${size} (hub)`);
    }
    const digests = await hashFile(part, size);
    if (options.sha256 !== undefined) {
      if (digests.sha256 !== options.sha256.toLowerCase()) fail(`sha256 ${digests.sha256}, the registry pins ${options.sha256}`);
      verified.push('sha256 (pinned in the registry)');
    }
    if (meta.sha256 !== undefined) {
      if (digests.sha256 !== meta.sha256) fail(`sha256 ${digests.sha256}, the hub's ETag says ${meta.sha256}`);
      verified.push('sha256 (hub ETag)');
    } else if (meta.gitBlobSha1 !== undefined) {
      if (digests.gitBlobSha1 !== meta.gitBlobSha1) fail(`git blob id ${digests.gitBlobSha1}, the hub's ETag says ${meta.gitBlobSha1}`);
      verified.push('git blob sha1 (hub ETag)');
    }
    renameSync(part, dest);
    rmSync(identityPath, { force: true });
    return { path: dest, size, sha256: digests.sha256, verified, resumedFrom, commit: meta.commit };
  }

  /** Streams the body into `part` from byte `offset`, aborting when no bytes arrive for idleTimeoutMs. */
  private async writeBody(response: Response, part: string, offset: number, progress: (received: number) => void): Promise<void> {
    const out = createWriteStream(part, offset === 0 ? { flags: 'w' } : { flags: 'r+', start: offset });
    let received = offset;
    progress(received);
    try {
      if (response.body === null) return;
      const reader = response.body.getReader();
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no data for ${this.idleTimeoutMs / 1000} s`)), this.idleTimeoutMs);
        });
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await Promise.race([reader.read(), idle]);
        } catch (err) {
          reader.cancel().catch(() => {});
          throw err;
        } finally {
          clearTimeout(timer);
        }
        if (chunk.done) break;
        received += chunk.value.byteLength;
        if (!out.write(chunk.value)) await once(out, 'drain');
        progress(received);
      }
    } finally {
      out.end();
      await once(out, 'close');
    }
  }

  /**
   * GET `url`, following redirects by hand. Returns the final response, what the hub's own responses
   * said about the file, and `abort` to release the connection when the caller is done with the body.
   */
  private async request(url: string, range?: string): Promise<{ response: Response; meta: FileMeta; abort: () => void }> {
    const controller = new AbortController();
    const signal = this.signal ? AbortSignal.any([this.signal, controller.signal]) : controller.signal;
    const abort = () => controller.abort();
    const meta: FileMeta = {};
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const fromHub = new URL(current).origin === this.origin;
      const headers: Record<string, string> = { 'accept-encoding': 'identity' }; // sizes and ranges count raw bytes
      if (range) headers.range = range;
      if (fromHub && this.token) headers.authorization = `Bearer ${this.token}`;
      const timer = setTimeout(() => controller.abort(new Error(`no answer in ${this.requestTimeoutMs / 1000} s`)), this.requestTimeoutMs);
      let response: Response;
      try {
        response = await this.fetch(current, { headers, redirect: 'manual', signal });
      } catch (err) {
        if (this.signal?.aborted) throw err;
        throw new HubUnreachableError(this.endpoint, networkReason(err, controller.signal), err);
      } finally {
        clearTimeout(timer);
      }
      if (fromHub) readMeta(response, meta);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel().catch(() => {});
        current = new URL(location, current).href;
        continue;
      }
      return { response, meta, abort };
    }
    abort();
    throw new HubHttpError(`${url} redirected more than ${MAX_REDIRECTS} times; check HF_ENDPOINT.`, { status: 310, url });
  }

  /** A small body read under the idle timeout, so a stalled answer cannot hang the pull. */
  private async within<T>(body: Promise<T>, abort: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort();
        reject(new HubTransferError(`${this.endpoint} stopped sending for ${this.idleTimeoutMs / 1000} s; try again.`, { isRetryable: true }));
      }, this.idleTimeoutMs);
    });
    try {
      return await Promise.race([body, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private statusError(status: number, repo: string, revision: string, file: string, url: string): HubHttpError {
    const what = file ? `${file} in ${repo} at revision ${revision}` : `${repo} at revision ${revision}`;
    if (status === 401 || status === 403) {
      const tokenAdvice = this.token
        ? 'HF_TOKEN was sent and refused: check that it is valid and that you accepted the model\'s terms on its hub page.'
        : 'The repository is gated or private: set HF_TOKEN to a Hugging Face access token (and accept the model\'s terms on its hub page).';
      return new HubHttpError(`${this.endpoint} refused ${what} (HTTP ${status}). ${tokenAdvice}`, { status, url });
    }
    if (status === 404) {
      return new HubHttpError(`${this.endpoint} has no ${what} (HTTP 404). Check the repository name, the revision, and the file path (--file).`, { status, url });
    }
    return new HubHttpError(`${this.endpoint} answered HTTP ${status} for ${what}. Try again later.`, { status, url, isRetryable: status >= 500 });
  }
}

function readMeta(response: Response, meta: FileMeta): void {
  const headers = response.headers;
  const linked = cleanEtag(headers.get('x-linked-etag'));
  const etag = cleanEtag(headers.get('etag'));
  // LFS files: X-Linked-Etag is their SHA-256. Small git files: ETag is the git blob id (SHA-1).
  for (const tag of [linked, etag]) {
    if (tag === undefined) continue;
    if (/^[0-9a-f]{64}$/.test(tag)) meta.sha256 ??= tag;
    else if (/^[0-9a-f]{40}$/.test(tag) && linked === undefined) meta.gitBlobSha1 ??= tag;
  }
  const linkedSize = headers.get('x-linked-size');
  if (linkedSize !== null && /^\d+$/.test(linkedSize)) meta.size ??= Number(linkedSize);
  else if (response.status === 200) meta.size ??= contentLength(response, 0);
  else if (response.status === 206) meta.size ??= Number(/\/(\d+)$/.exec(headers.get('content-range') ?? '')?.[1] ?? NaN) || undefined;
  const commit = headers.get('x-repo-commit');
  if (commit !== null && /^[0-9a-f]{40}$/.test(commit)) meta.commit ??= commit;
}

function cleanEtag(value: string | null): string | undefined {
  if (value === null) return undefined;
  return value.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase() || undefined;
}

function contentLength(response: Response, offset: number): number | undefined {
  const length = response.headers.get('content-length');
  return length !== null && /^\d+$/.test(length) ? offset + Number(length) : undefined;
}

async function hashFile(path: string, size: number): Promise<{ sha256: string; gitBlobSha1: string }> {
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1').update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    sha256.update(chunk as Buffer);
    sha1.update(chunk as Buffer);
  }
  return { sha256: sha256.digest('hex'), gitBlobSha1: sha1.digest('hex') };
}

function discard(part: string, identityPath: string): void {
  rmSync(part, { force: true });
  rmSync(identityPath, { force: true });
}

function networkReason(err: unknown, signal: AbortSignal): string {
  if (signal.aborted && signal.reason instanceof Error) return signal.reason.message;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? errorText(err);
}

function errorText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const base = err instanceof Error ? err.message : String(err);
  return cause?.code ? `${base}: ${cause.code}` : cause?.message ? `${base}: ${cause.message}` : base;
}
