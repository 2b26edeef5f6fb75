import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRequest {
  server: 'hub' | 'cdn';
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

export interface FakeHubOptions {
  /** repo -> path in repo -> content. */
  repos: Record<string, Record<string, Buffer | string>>;
  /** Files at least this big are served like LFS files: a 302 to the CDN with X-Linked-Etag. Default 1000 bytes. */
  lfsMinBytes?: number;
  /** When set, the hub answers 401 unless this Bearer token is sent. */
  requireToken?: string;
  /** Serve /api/models/<repo>/revision/<rev> (the hub's file listing). Default true. */
  listApi?: boolean;
}

export const FAKE_COMMIT = 'c0ffee0000000000000000000000000000000001';

/**
 * The Hugging Face hub's URL layout on 127.0.0.1: `/<repo>/resolve/<revision>/<file>` answers small files
 * directly (ETag = git blob id) and LFS files with a 302 to a second server standing in for the CDN
 * (another origin, so a token must not follow), which honours Range requests. Fault injection: cut a
 * transfer after N bytes once, or serve altered bytes under the original checksum.
 */
export class FakeHub {
  readonly requests: HubRequest[] = [];
  private readonly cuts = new Map<string, number>();
  private readonly corrupted = new Set<string>();
  private readonly byHash = new Map<string, Buffer>();

  private constructor(
    private readonly options: FakeHubOptions,
    private readonly hub: Server,
    private readonly cdn: Server,
  ) {}

  static async start(options: FakeHubOptions): Promise<FakeHub> {
    let self: FakeHub | undefined;
    const hub = createServer((req, res) => self!.serveHub(req, res));
    const cdn = createServer((req, res) => self!.serveCdn(req, res));
    self = new FakeHub(options, hub, cdn);
    for (const repo of Object.values(options.repos)) {
      for (const content of Object.values(repo)) {
        const bytes = Buffer.from(content);
        self.byHash.set(sha256(bytes), bytes);
      }
    }
    await Promise.all([hub, cdn].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    return self;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
  }

  private get cdnBase(): string {
    return `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  /** The next transfer of `repoPath` from the CDN stops after `bytes` bytes (the socket is destroyed). */
  cutNextTransfer(repoPath: string, bytes: number): void {
    this.cuts.set(this.hashOf(repoPath), bytes);
  }

  /** Transfers of `repoPath` carry one flipped byte while the hub still announces the original sha256. */
  corrupt(repoPath: string): void {
    this.corrupted.add(this.hashOf(repoPath));
  }

  async close(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private hashOf(repoPath: string): string {
    for (const repo of Object.values(this.options.repos)) {
      const content = repo[repoPath];
      if (content !== undefined) return sha256(Buffer.from(content));
    }
    throw new Error(`no file ${repoPath}`);
  }

  private record(server: 'hub' | 'cdn', req: IncomingMessage): void {
    this.requests.push({ server, path: decodeURIComponent(req.url ?? ''), range: req.headers.range, authorization: req.headers.authorization });
  }

  private serveHub(req: IncomingMessage, res: ServerResponse): void {
    this.record('hub', req);
    const { requireToken, listApi = true, lfsMinBytes = 1000 } = this.options;
    if (requireToken !== undefined && req.headers.authorization !== `Bearer ${requireToken}`) {
      res.writeHead(401, { 'x-error-message': 'Invalid credentials in Authorization header' }).end();
      return;
    }
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url);
    if (api) {
      const repo = this.options.repos[api[1]];
      if (!listApi || repo === undefined || !validRevision(api[2])) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sha: FAKE_COMMIT, siblings: Object.keys(repo).map((rfilename) => ({ rfilename })) }));
      return;
    }
    const match = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const content = match && validRevision(match[2]) ? this.options.repos[match[1]]?.[match[3]] : undefined;
    if (content === undefined) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
      return;
    }
    const bytes = Buffer.from(content);
    const sha = sha256(bytes);
    if (bytes.length >= lfsMinBytes) {
      res
        .writeHead(302, {
          location: `${this.cdnBase}/cdn/${sha}`,
          'x-linked-etag': `"${sha}"`,
          'x-linked-size': String(bytes.length),
          'x-repo-commit': FAKE_COMMIT,
          etag: `"${sha}"`,
        })
        .end();
      return;
    }
    const blob = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
    sendBytes(req, res, bytes, { etag: `"${blob}"`, 'x-repo-commit': FAKE_COMMIT });
  }

  private serveCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record('cdn', req);
    const sha = /^\/cdn\/([0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
    const original = sha === undefined ? undefined : this.byHash.get(sha);
    if (original === undefined) {
      res.writeHead(404).end();
      return;
    }
    let bytes = original;
    if (this.corrupted.has(sha!)) {
      bytes = Buffer.from(original);
      bytes[bytes.length >> 1] ^= 0xff;
    }
    const cut = this.cuts.get(sha!);
    if (cut !== undefined) this.cuts.delete(sha!);
    sendBytes(req, res, bytes, { etag: '"cdn-etag-is-not-a-checksum"' }, cut);
  }
}

/** 200 with the whole file, or 206 for `Range: bytes=N-`; with `cutAfter`, destroy the socket after that many body bytes. */
function sendBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer, headers: Record<string, string>, cutAfter?: number): void {
  const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
  if (start >= bytes.length && start > 0) {
    res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
    return;
  }
  const body = bytes.subarray(start);
  res.writeHead(start > 0 ? 206 : 200, {
    ...headers,
    'content-length': String(body.length),
    'accept-ranges': 'bytes',
    ...(start > 0 ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
  });
  if (cutAfter === undefined) {
    res.end(body);
    return;
  }
  // Flush the first bytes, then drop the connection mid-body like a network failure.
  res.write(body.subarray(0, cutAfter), () => setTimeout(() => res.socket?.destroy(), 20));
}

function validRevision(revision: string): boolean {
  return revision === 'main' || revision === FAKE_COMMIT;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
