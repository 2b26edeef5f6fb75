import { seededRandom } from '../../models/seeded-random.js';
/**
 * A fake GPU embedding server for tests: a real node:http server on 127.0.0.1 (port 0) that speaks the
 * seed protocol (`POST /embed`) and OpenAI's `POST /v1/embeddings`, answers with deterministic
 * vectors (see `fakeEmbedding`), and fails the ways a GPU server fails when asked to.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TextTokenizer } from '../../models/tokenizer.js';

export interface FakeServerFaults {
  /** Batches with more texts answer HTTP 500 `{"detail":"CUDA out of memory. ..."}`. */
  failAboveTexts?: number;
  /**
   * Batches whose padded size (texts x longest, in whitespace-separated words: `wordTokenizer`'s count)
   * is larger answer HTTP 500 out of memory: GPU memory follows padded tokens, not the number of texts.
   */
  failAbovePaddedWords?: number;
  /** Accept the request and never answer (all requests, or those the function picks): a hung server. */
  hang?: boolean | ((texts: string[]) => boolean);
  /** Delay every answer (or only those above `stallAboveTexts`) by this long. */
  stallMs?: number;
  /** With `stallMs`: only batches with more texts than this stall (default: all stall). */
  stallAboveTexts?: number;
  /**
   * Batches with more texts crash the server the way an out-of-memory kill does: after `crashAfterMs`
   * every connection drops and the port refuses connections for `restartMs`, then it listens again.
   */
  crashAboveTexts?: number;
  crashAfterMs?: number;
  restartMs?: number;
  /** Return this many vectors more (or, negative, fewer) than texts. */
  wrongCount?: number;
  /** Put a literal NaN into the first vector (what Python's json.dumps writes). */
  nan?: boolean;
  /** Put a null into the first vector. */
  nullValue?: boolean;
  /** Answer with vectors of this size instead of `dims`. */
  wrongDims?: number;
  /** Scale vectors by 3 (a server that does not normalize). */
  unnormalized?: boolean;
  /** OpenAI path: list `data` in reverse order (each item's `index` still tells its text). */
  reverseOpenAIData?: boolean;
}

export interface FakeServerOptions extends FakeServerFaults {
  /** Vector size (default 4096, like NV-Embed-v2). */
  dims?: number;
  /** When set, requests without `Authorization: Bearer <apiKey>` get 401. */
  apiKey?: string;
}

export interface RecordedRequest {
  path: string;
  texts: string[];
  /** The seed protocol's `instruction` field, when sent. */
  instruction: string | undefined;
  /** OpenAI's `model` field, when sent. */
  model: string | undefined;
  authorization: string | undefined;
  /** The request body's top-level keys, sorted. */
  keys: string[];
  /** Status the server answered with. */
  status: number;
}

export interface ScriptedResponse {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export const OOM_BODY = JSON.stringify({ detail: 'CUDA out of memory. Tried to allocate 2.00 GiB' });

export class FakeEmbeddingServer {
  readonly requests: RecordedRequest[] = [];
  faults: FakeServerFaults;
  readonly dims: number;
  private readonly apiKey: string | undefined;
  private readonly server: Server;
  private readonly scripted: ScriptedResponse[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private reopenTimer: NodeJS.Timeout | undefined;
  private listening = false;
  private port = 0;
  /** Resolves when the listener is back after `refuseFor`. */
  reopened: Promise<void> = Promise.resolve();

  private constructor(options: FakeServerOptions) {
    const { dims, apiKey, ...faults } = options;
    this.dims = dims ?? 4096;
    this.apiKey = apiKey;
    this.faults = faults;
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeEmbeddingServer> {
    const server = new FakeEmbeddingServer(options);
    await server.listen(0);
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The seed-protocol endpoint. */
  get endpoint(): string {
    return `${this.url}/embed`;
  }

  /** Replaces the faults for the following requests. */
  setFaults(faults: FakeServerFaults): void {
    this.faults = faults;
  }

  /** The next requests get these answers, in order, before any other handling. */
  respondNext(...responses: ScriptedResponse[]): void {
    this.scripted.push(...responses);
  }

  /**
   * Closes the listener and every open connection (connections are refused, kept-alive sockets
   * reset), then listens again on the same port after `ms`. Resolves once the port is closed.
   */
  async refuseFor(ms: number): Promise<void> {
    await this.stopListening();
    this.reopened = new Promise<void>((resolve, reject) => {
      this.reopenTimer = setTimeout(() => {
        this.reopenTimer = undefined;
        this.listen(this.port).then(resolve, reject);
      }, ms);
    });
  }

  async close(): Promise<void> {
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.stopListening();
  }

  private listen(port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        this.listening = true;
        resolve();
      });
    });
  }

  private stopListening(): Promise<void> {
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (req.method === 'GET' && path === '/health') return send(res, 200, JSON.stringify({ status: 'ok' }));
      const isOpenAI = path === '/v1/embeddings';
      if (req.method !== 'POST' || (path !== '/embed' && !isOpenAI)) return send(res, 404, JSON.stringify({ detail: 'Not Found' }));
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return send(res, 400, JSON.stringify({ detail: 'body is not JSON' }));
      }
      const texts = (isOpenAI ? body.input : body.texts) as string[];
      const record: RecordedRequest = {
        path,
        texts: Array.isArray(texts) ? texts : [],
        instruction: typeof body.instruction === 'string' ? body.instruction : undefined,
        model: typeof body.model === 'string' ? body.model : undefined,
        authorization: req.headers.authorization,
        keys: Object.keys(body).sort(),
        status: 0,
      };
      this.requests.push(record);
      const answer = (status: number, text: string, headers?: Record<string, string>) => {
        record.status = status;
        send(res, status, text, headers);
      };

      const scripted = this.scripted.shift();
      if (scripted) return answer(scripted.status, scripted.body, scripted.headers);
      if (this.apiKey && req.headers.authorization !== `Bearer ${this.apiKey}`) {
        return answer(401, JSON.stringify({ error: { message: 'Incorrect API key provided.' } }));
      }
      if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
        return answer(422, JSON.stringify({ detail: 'texts must be a list of strings' }));
      }
      const faults = this.faults;
      if (faults.crashAboveTexts !== undefined && texts.length > faults.crashAboveTexts) {
        record.status = -1;
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          void this.refuseFor(faults.restartMs ?? 300);
        }, faults.crashAfterMs ?? 1200);
        this.timers.add(timer);
        return;
      }
      if (faults.hang === true || (typeof faults.hang === 'function' && faults.hang(texts))) return; // the socket closes with the server
      const respond = () => {
        if (faults.failAboveTexts !== undefined && texts.length > faults.failAboveTexts) return answer(500, OOM_BODY);
        if (faults.failAbovePaddedWords !== undefined && paddedWords(texts) > faults.failAbovePaddedWords) return answer(500, OOM_BODY);
        answer(200, this.answerBody(texts, isOpenAI, faults));
      };
      const stall = faults.stallMs && texts.length > (faults.stallAboveTexts ?? 0);
      if (!stall) return respond();
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!res.destroyed) respond();
      }, faults.stallMs);
      this.timers.add(timer);
      res.on('close', () => {
        clearTimeout(timer);
        this.timers.delete(timer);
      });
    });
  }

  private answerBody(texts: string[], isOpenAI: boolean, faults: FakeServerFaults): string {
    const dims = faults.wrongDims ?? this.dims;
    let vectors = texts.map((text) => Array.from(fakeEmbedding(text, dims), (v) => (faults.unnormalized ? v * 3 : v)));
    if (faults.wrongCount) {
      vectors = faults.wrongCount > 0
        ? [...vectors, ...Array.from({ length: faults.wrongCount }, () => vectors[0] ?? [1])]
        : vectors.slice(0, Math.max(0, vectors.length + faults.wrongCount));
    }
    const marker = 12345.678;
    if ((faults.nan || faults.nullValue) && vectors[0]) vectors[0][0] = marker;
    let json: string;
    if (isOpenAI) {
      const data = vectors.map((embedding, index) => ({ object: 'embedding', index, embedding }));
      if (faults.reverseOpenAIData) data.reverse();
      json = JSON.stringify({ object: 'list', data, model: 'fake', usage: { prompt_tokens: 0, total_tokens: 0 } });
    } else {
      json = JSON.stringify({ embeddings: vectors });
    }
    if (faults.nan) json = json.replace(String(marker), 'NaN');
    if (faults.nullValue) json = json.replace(String(marker), 'null');
    return json;
  }
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

/**
 * Deterministic, L2-normalized vector for `text`: each word adds a few hashed +-1 entries (so texts
 * sharing words are similar) and the whole text adds a few more (so distinct texts differ). Cheap at
 * 4096 dims: most entries are zero.
 */
export function fakeEmbedding(text: string, dims = 4096): Float32Array {
  const vector = new Float64Array(dims);
  const add = (seed: number, count: number, weight: number) => {
    const random = seededRandom(seed);
    for (let i = 0; i < count; i++) {
      const position = Math.floor(random() * dims);
      vector[position]! += (random() < 0.5 ? -1 : 1) * weight;
    }
  };
  for (const word of text.toLowerCase().match(/[a-z0-9_]+/g) ?? []) add(fnv1a(word), 8, 1);
  add(fnv1a(`\u0000${text}`), 8, 0.5);
  let sum = 0;
  for (const v of vector) sum += v * v;
  const out = new Float32Array(dims);
  if (sum === 0) {
    out[0] = 1;
    return out;
  }
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < dims; i++) out[i] = vector[i]! * scale;
  return out;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}


/** texts x longest text, in `wordTokenizer` tokens: what a batch costs the model. */
export function paddedWords(texts: readonly string[]): number {
  let longest = 0;
  for (const text of texts) longest = Math.max(longest, wordTokenizer.count(text));
  return texts.length * longest;
}

/** A whitespace tokenizer for tests: one token per word (no model files to load). */
export const wordTokenizer: TextTokenizer = {
  id: 'test-words',
  encode: (text) => text.split(/\s+/).filter(Boolean).map((_, i) => i),
  count: (text) => text.split(/\s+/).filter(Boolean).length,
};
