import type { EmbedCall, Embedder, EmbedderHealth, EmbedOutput, EmbedPurpose, ProviderName } from './embedder.js';
import type { TextTokenizer } from './tokenizer.js';
import {
  AbortError,
  EmbeddingApiError,
  EndpointUnreachableError,
  InvalidEmbeddingResponseError,
  InvalidInputError,
  TooManyValuesForCallError,
  throwIfAborted,
} from './errors.js';
import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffOptions } from './backoff.js';

/**
 * The request and recovery core shared by the HTTP embedders (dgx, openai).
 *
 * What a GPU server does under load, and what this core does about it:
 * - HTTP 5xx, 413, a body mentioning out of memory, or no answer within `requestTimeoutMs`: the batch
 *   was too big. Split it in half and retry each half, down to one text. Remember the largest batch
 *   that worked and report it through `maxBatchSize` / `tokenBudget` so the planner stops sending
 *   batches that fail.
 * - Connection refused / reset (server restarting), 429 and 503: back off with jitter and retry the
 *   same batch for at most `retryWindowMs`.
 * - Other 4xx: not retried.
 * - A 2xx answer must hold one finite vector of the expected size per text, or it is an
 *   InvalidEmbeddingResponseError. Vectors come back L2-normalized, in input order.
 */

export interface HttpEmbedderOptions {
  /** URL every request goes to; errors name it. */
  endpoint: string;
  /** Most texts per request (and per `embed` call). 1..512. */
  batchSize: number;
  /** Most padded tokens (texts x longest) per request that the planner should aim for. */
  tokenBudget: number;
  requestTimeoutMs: number;
  retryWindowMs: number;
  maxParallelCalls: number;
  maxInputTokens: number;
  fetch?: typeof fetch;
  apiKey?: string;
  /** Known vector size; otherwise the first answer fixes it. */
  dims?: number;
  /** Tokenizer given by the caller, else `defaultTokenizer()` is called on first use. */
  tokenizer?: TextTokenizer;
  log?: (message: string) => void;
  /** Delays between retries of an unreachable endpoint (tests shorten them). */
  backoff?: BackoffOptions;
  /** Timeout of `health()`. */
  healthTimeoutMs?: number;
}

/** What a request gives back before validation: one raw vector per text, in input order. */
export type RawVectors = unknown[];

const MAX_QUOTE = 300;
const OOM_PATTERN = /out of memory|OutOfMemoryError|\bOOM\b/i;

/** A request whose connection drops later than this had reached the model (a stale keep-alive socket drops at once). */
const CRASH_AFTER_MS = 1000;

/** A connection-level failure (refused, reset, DNS): retried with backoff, never split. */
class ConnectionFailure extends Error {
  constructor(readonly code: string, options: { cause?: unknown }) {
    super(code, options);
  }
}

interface BatchContext {
  texts: string[];
  purpose: EmbedPurpose;
  signal: AbortSignal | undefined;
  /** Token counts of `texts`, computed only when the limits need them. */
  tokenCounts: (number | undefined)[];
}

export abstract class HttpEmbedder implements Embedder {
  abstract readonly provider: ProviderName;
  abstract readonly modelId: string;

  readonly endpoint: string;
  readonly maxInputTokens: number;
  readonly maxParallelCalls: number;

  protected readonly configuredBatchSize: number;
  protected readonly configuredTokenBudget: number;
  protected readonly requestTimeoutMs: number;
  protected readonly retryWindowMs: number;
  protected readonly apiKey: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly log: (message: string) => void;
  private readonly backoff: BackoffOptions;
  private readonly healthTimeoutMs: number;
  private tokenizerInstance: TextTokenizer | undefined;
  private dims: number | null;
  private readonly closed = new AbortController();

  // What the endpoint has shown it can take (see recordSuccess / recordFailure).
  private largestOkTexts = 0;
  private smallestFailedTexts = Infinity;
  private largestOkTokensSinceFailure = 0;
  private smallestFailedTokens = Infinity;
  private loggedLimits: string | undefined;

  constructor(options: HttpEmbedderOptions) {
    this.endpoint = checkUrl(options.endpoint);
    this.configuredBatchSize = checkInt('batchSize', options.batchSize, 1, 512);
    this.configuredTokenBudget = checkInt('tokenBudget', options.tokenBudget, 1, 100_000_000);
    this.requestTimeoutMs = checkInt('requestTimeoutMs', options.requestTimeoutMs, 1, 24 * 3600_000);
    this.retryWindowMs = checkInt('retryWindowMs', options.retryWindowMs, 0, 24 * 3600_000);
    this.maxParallelCalls = checkInt('maxParallelCalls', options.maxParallelCalls, 1, 64);
    this.maxInputTokens = checkInt('maxInputTokens', options.maxInputTokens, 1, 10_000_000);
    this.dims = options.dims === undefined ? null : checkInt('dims', options.dims, 1, 1_000_000);
    const given = options.fetch;
    this.fetchImpl = given ?? ((input, init) => fetch(input, init));
    this.apiKey = options.apiKey || undefined;
    this.tokenizerInstance = options.tokenizer;
    this.log = options.log ?? (() => {});
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.healthTimeoutMs = options.healthTimeoutMs ?? 5_000;
  }

  /** Builds the JSON body for one request; `texts` are already prepared (see `prepareText`). */
  protected abstract requestBody(texts: string[], purpose: EmbedPurpose): unknown;
  /** Pulls the raw vectors, in input order, out of a 2xx JSON answer; throws InvalidEmbeddingResponseError. */
  protected abstract readVectors(json: unknown, count: number): RawVectors;
  /** What to tell the user when the endpoint stays unreachable. */
  protected abstract unreachableHint(): string;
  /** The tokenizer to load when none was given. */
  protected abstract defaultTokenizer(): TextTokenizer;
  /** Text as sent to the server (e.g. with an instruction prefix for queries). */
  protected prepareText(text: string, _purpose: EmbedPurpose): string {
    return text;
  }

  get dimensions(): number | null {
    return this.dims;
  }

  get tokenizer(): TextTokenizer {
    this.tokenizerInstance ??= this.defaultTokenizer();
    return this.tokenizerInstance;
  }

  /** The configured batch size until a batch fails; then the largest batch seen to succeed. */
  get maxBatchSize(): number {
    if (this.smallestFailedTexts === Infinity) return this.configuredBatchSize;
    const learned = this.largestOkTexts > 0 ? this.largestOkTexts : Math.floor(this.smallestFailedTexts / 2);
    return clamp(learned, 1, this.configuredBatchSize);
  }

  /** The configured token budget until a batch fails; then the largest padded token count seen to succeed. */
  get tokenBudget(): number {
    if (this.smallestFailedTokens === Infinity) return this.configuredTokenBudget;
    const learned = this.largestOkTokensSinceFailure > 0 ? this.largestOkTokensSinceFailure : Math.floor(this.smallestFailedTokens / 2);
    return clamp(learned, 1, this.configuredTokenBudget);
  }

  /**
   * Embeds up to the configured batch size of texts. Safe to call concurrently. A call planned before
   * the limits shrank is still accepted: it is split internally to the current limits.
   */
  async embed(call: EmbedCall): Promise<EmbedOutput> {
    const signal = call.signal;
    throwIfAborted(signal);
    throwIfAborted(this.closed.signal);
    if (call.texts.length > this.configuredBatchSize) {
      throw new TooManyValuesForCallError({ maxBatchSize: this.configuredBatchSize, count: call.texts.length });
    }
    if (call.texts.length === 0) return { embeddings: [] };
    const ctx: BatchContext = {
      texts: call.texts.map((text) => this.prepareText(this.truncate(text), call.purpose)),
      purpose: call.purpose,
      signal,
      tokenCounts: new Array(call.texts.length),
    };
    const out = new Array<Float32Array>(call.texts.length);
    try {
      for (const [start, end] of this.splitToLimits(ctx)) {
        await this.embedRange(ctx, start, end, out);
      }
    } finally {
      this.logLimitsIfChanged();
    }
    return { embeddings: out };
  }

  /** One tiny request with a short timeout; never retried, never hangs. */
  async health(signal?: AbortSignal): Promise<EmbedderHealth> {
    throwIfAborted(signal);
    const started = performance.now();
    try {
      const texts = [this.prepareText('ping', 'passage')];
      const vectors = await this.request(texts, 'passage', signal, this.healthTimeoutMs);
      const ms = Math.round(performance.now() - started);
      return { ok: true, detail: `endpoint ${this.endpoint} reachable, ${vectors[0]!.length} dims, ${ms} ms` };
    } catch (error) {
      if (error instanceof AbortError && signal?.aborted) throw error;
      if (error instanceof ConnectionFailure) {
        return { ok: false, detail: `endpoint ${this.endpoint} is not reachable (${error.code}). ${this.unreachableHint()}` };
      }
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Aborts requests in flight; later calls fail with AbortError. */
  async close(): Promise<void> {
    this.closed.abort();
  }

  // ---- batches, splitting and learned limits ----

  /** Consecutive [start, end) ranges within the current limits (only differs from one range after a failure). */
  private splitToLimits(ctx: BatchContext): [number, number][] {
    const maxTexts = this.maxBatchSize;
    const useTokens = this.smallestFailedTokens !== Infinity;
    const budget = this.tokenBudget;
    const ranges: [number, number][] = [];
    let start = 0;
    let longest = 0;
    for (let i = 0; i < ctx.texts.length; i++) {
      const tokens = useTokens ? this.tokensOf(ctx, i) : 0;
      const count = i - start + 1;
      const nextLongest = Math.max(longest, tokens);
      if (count > 1 && (count > maxTexts || (useTokens && count * nextLongest > budget))) {
        ranges.push([start, i]);
        start = i;
        longest = tokens;
      } else {
        longest = nextLongest;
      }
    }
    ranges.push([start, ctx.texts.length]);
    return ranges;
  }

  private async embedRange(ctx: BatchContext, start: number, end: number, out: Float32Array[]): Promise<void> {
    const texts = ctx.texts.slice(start, end);
    try {
      const vectors = await this.requestWithRetries(texts, ctx);
      for (let i = 0; i < vectors.length; i++) out[start + i] = vectors[i]!;
      this.recordSuccess(ctx, start, end);
    } catch (error) {
      if (!(error instanceof EmbeddingApiError) || !error.isBatchTooLarge) throw error;
      this.recordFailure(ctx, start, end);
      if (texts.length === 1) {
        let size = '';
        try {
          size = ` (${this.tokensOf(ctx, start)} tokens)`;
        } catch {
          // the size is only a detail of the message
        }
        throw new EmbeddingApiError(
          `${error.message} This happened even for a single text${size}, so it was not the batch size: ` +
            `check the server's memory and logs, or index with smaller chunks.`,
          { endpoint: this.endpoint, status: error.status, isBatchTooLarge: false, isRetryable: false, cause: error },
        );
      }
      const middle = start + Math.ceil((end - start) / 2);
      // Halves go one after the other: the failure was most likely GPU memory.
      await this.embedRange(ctx, start, middle, out);
      await this.embedRange(ctx, middle, end, out);
    }
  }

  private tokensOf(ctx: BatchContext, index: number): number {
    let count = ctx.tokenCounts[index];
    if (count === undefined) {
      count = this.tokenizer.count(ctx.texts[index]!);
      ctx.tokenCounts[index] = count;
    }
    return count;
  }

  private paddedTokens(ctx: BatchContext, start: number, end: number): number {
    let longest = 0;
    for (let i = start; i < end; i++) longest = Math.max(longest, this.tokensOf(ctx, i));
    return (end - start) * longest;
  }

  private recordSuccess(ctx: BatchContext, start: number, end: number): void {
    const count = end - start;
    if (count < this.smallestFailedTexts) this.largestOkTexts = Math.max(this.largestOkTexts, count);
    if (this.smallestFailedTokens !== Infinity) {
      const padded = this.paddedTokens(ctx, start, end);
      if (padded < this.smallestFailedTokens) this.largestOkTokensSinceFailure = Math.max(this.largestOkTokensSinceFailure, padded);
    }
  }

  private recordFailure(ctx: BatchContext, start: number, end: number): void {
    const count = end - start;
    if (count <= 1) return; // a single text says nothing about batch size
    // A batch no larger than one that already worked failed for its tokens, not its count.
    if (count > this.largestOkTexts) this.smallestFailedTexts = Math.min(this.smallestFailedTexts, count);
    const padded = this.paddedTokens(ctx, start, end);
    if (padded < this.smallestFailedTokens) {
      this.smallestFailedTokens = padded;
      if (this.largestOkTokensSinceFailure >= padded) this.largestOkTokensSinceFailure = 0;
    }
  }

  private logLimitsIfChanged(): void {
    if (this.smallestFailedTokens === Infinity && this.smallestFailedTexts === Infinity) return;
    const limits = `at most ${this.maxBatchSize} texts and ${this.tokenBudget} padded tokens per request`;
    if (limits === this.loggedLimits) return;
    this.loggedLimits = limits;
    this.log(
      `Embedding endpoint ${this.endpoint} failed on large batches (out of memory or timeout); ` +
        `using ${limits} from now on (configured: ${this.configuredBatchSize} texts, ${this.configuredTokenBudget} tokens).`,
    );
  }

  // ---- requests ----

  /** Sends one batch; retries connection failures, 429 and 503 with backoff within the retry window. */
  private async requestWithRetries(texts: string[], ctx: BatchContext): Promise<Float32Array[]> {
    let firstFailureAt: number | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request(texts, ctx.purpose, ctx.signal, this.requestTimeoutMs);
      } catch (error) {
        const transient = error instanceof ConnectionFailure || (error instanceof EmbeddingApiError && error.isRetryable && !error.isBatchTooLarge);
        if (!transient) throw error;
        const now = performance.now();
        firstFailureAt ??= now;
        const elapsed = now - firstFailureAt;
        if (elapsed >= this.retryWindowMs) throw this.gaveUp(error, Math.max(elapsed, this.retryWindowMs));
        let delay = backoffDelay(attempt, this.backoff);
        if (error instanceof RetryAfter) delay = Math.max(delay, error.retryAfterMs);
        await sleep(Math.min(delay, this.retryWindowMs - elapsed), anySignal(ctx.signal, this.closed.signal));
      }
    }
  }

  private gaveUp(error: unknown, elapsedMs: number): Error {
    const duration = formatSeconds(elapsedMs);
    if (error instanceof ConnectionFailure) {
      return new EndpointUnreachableError(
        `Could not reach the embedding endpoint ${this.endpoint} for ${duration} (${error.code}). Is the server running? ${this.unreachableHint()}`,
        { endpoint: this.endpoint, cause: error.cause ?? error },
      );
    }
    const api = error as EmbeddingApiError;
    return new EmbeddingApiError(`${api.message} It kept answering this for ${duration}; try again later.`, {
      endpoint: this.endpoint,
      status: api.status,
      isRetryable: true,
      cause: api,
    });
  }

  /**
   * One HTTP request, no retries. Throws AbortError (caller or close), ConnectionFailure,
   * EmbeddingApiError (isBatchTooLarge for 5xx/413/OOM/timeout, isRetryable for 429/503),
   * or InvalidEmbeddingResponseError.
   */
  private async request(texts: string[], purpose: EmbedPurpose, signal: AbortSignal | undefined, timeoutMs: number): Promise<Float32Array[]> {
    throwIfAborted(signal);
    throwIfAborted(this.closed.signal);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.closed.signal.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let status: number;
    let statusText: string;
    let bodyText: string;
    let retryAfterHeader: string | null = null;
    const sentAt = performance.now();
    try {
      const response = await this.fetchImpl(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(this.requestBody(texts, purpose)),
        signal: controller.signal,
      });
      status = response.status;
      statusText = response.statusText;
      retryAfterHeader = response.headers.get('retry-after');
      bodyText = await response.text();
    } catch (error) {
      if (signal?.aborted || this.closed.signal.aborted) throw new AbortError();
      if (timedOut) {
        throw new EmbeddingApiError(
          `Embedding endpoint ${this.endpoint} did not answer ${plural(texts.length, 'text')} within ${formatSeconds(timeoutMs)}.`,
          { endpoint: this.endpoint, isBatchTooLarge: true, cause: error },
        );
      }
      const code = connectionErrorCode(error);
      if (code === 'bad port' || code === 'ERR_INVALID_URL' || /invalid url/i.test(code)) {
        // fetch refuses some URLs outright (e.g. ports browsers block); waiting will not help.
        throw new EmbeddingApiError(
          `Cannot send requests to ${this.endpoint} (${code}): fix the endpoint URL (use another port or host).`,
          { endpoint: this.endpoint, isRetryable: false, cause: error },
        );
      }
      // A connection dropped well into a multi-text request is what a server killed by its own
      // batch (out of memory) looks like: split it, as for a 500, and let the halves wait for the restart.
      if (texts.length > 1 && code !== 'ECONNREFUSED' && performance.now() - sentAt >= CRASH_AFTER_MS) {
        throw new EmbeddingApiError(
          `Embedding endpoint ${this.endpoint} dropped the connection (${code}) while computing ${plural(texts.length, 'text')}; it may have crashed on the batch size.`,
          { endpoint: this.endpoint, isBatchTooLarge: true, cause: error },
        );
      }
      throw new ConnectionFailure(code, { cause: error });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.closed.signal.removeEventListener('abort', onAbort);
    }

    if (status < 200 || status >= 300) throw this.statusError(status, statusText, bodyText, texts.length, retryAfterHeader);

    let json: unknown;
    try {
      json = JSON.parse(bodyText);
    } catch (error) {
      if (/\b(NaN|-?Infinity)\b/.test(bodyText)) {
        throw this.invalid(`returned non-finite numbers (NaN or Infinity) in its vectors for ${plural(texts.length, 'text')}`, error);
      }
      throw this.invalid(`returned a body that is not JSON (HTTP ${status}): ${quote(bodyText)}`, error);
    }
    let raw: RawVectors;
    try {
      raw = this.readVectors(json, texts.length);
    } catch (error) {
      if (OOM_PATTERN.test(bodyText)) {
        throw new EmbeddingApiError(`Embedding endpoint ${this.endpoint} ran out of memory: ${quote(serverMessage(bodyText))}`, {
          endpoint: this.endpoint,
          status,
          isBatchTooLarge: true,
          cause: error,
        });
      }
      throw error;
    }
    return this.validate(raw, texts.length);
  }

  private statusError(status: number, statusText: string, bodyText: string, count: number, retryAfter: string | null): Error {
    const message = serverMessage(bodyText);
    const said = message ? `: ${quote(message)}` : '';
    const base = `Embedding endpoint ${this.endpoint} answered HTTP ${status}${statusText ? ` ${statusText}` : ''} for ${plural(count, 'text')}${said}.`;
    const oom = OOM_PATTERN.test(bodyText);
    if (oom || status === 413 || (status >= 500 && status !== 503)) {
      return new EmbeddingApiError(base, { endpoint: this.endpoint, status, isBatchTooLarge: true });
    }
    if (status === 429 || status === 503) {
      return new RetryAfter(base, { endpoint: this.endpoint, status, retryAfterMs: parseRetryAfter(retryAfter) });
    }
    let hint = ' The request was rejected; it is not retried.';
    if (status === 401 || status === 403) hint = ' Check the API key.';
    else if (status === 404 || status === 405) hint = ' Check the endpoint URL.';
    return new EmbeddingApiError(base + hint, { endpoint: this.endpoint, status, isRetryable: false });
  }

  private invalid(what: string, cause?: unknown): InvalidEmbeddingResponseError {
    return new InvalidEmbeddingResponseError(`Embedding endpoint ${this.endpoint} ${what}.`, { endpoint: this.endpoint, cause });
  }

  /** Checks count, size and finiteness; returns L2-normalized Float32Arrays. Fixes the dims on first success. */
  private validate(raw: RawVectors, count: number): Float32Array[] {
    if (raw.length !== count) throw this.invalid(`returned ${plural(raw.length, 'vector')} for ${plural(count, 'text')}`);
    const expected = this.dims;
    let seen: number | null = expected;
    const vectors: Float32Array[] = [];
    for (let i = 0; i < raw.length; i++) {
      const vector = raw[i];
      if (!Array.isArray(vector)) throw this.invalid(`returned ${describe(vector)} instead of a list of numbers as vector ${i}`);
      if (seen === null) {
        if (vector.length === 0) throw this.invalid(`returned an empty vector for text ${i}`);
        seen = vector.length;
      } else if (vector.length !== seen) {
        throw this.invalid(
          expected !== null
            ? `returned a vector of ${vector.length} dims for text ${i}, but this index uses ${expected} dims`
            : `returned vectors of different sizes (${seen} and ${vector.length} dims)`,
        );
      }
      let sum = 0;
      for (let j = 0; j < vector.length; j++) {
        const value = vector[j];
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          throw this.invalid(`returned ${describe(value)} at position ${j} of vector ${i}; every value must be a finite number`);
        }
        sum += value * value;
      }
      if (sum === 0) throw this.invalid(`returned an all-zero vector for text ${i}; it cannot be normalized`);
      const scale = 1 / Math.sqrt(sum);
      const out = new Float32Array(vector.length);
      for (let j = 0; j < vector.length; j++) out[j] = (vector[j] as number) * scale;
      vectors.push(out);
    }
    if (this.dims === null) this.dims = seen;
    else if (this.dims !== seen) throw this.invalid(`returned vectors of ${seen} dims, but this index uses ${this.dims} dims`);
    return vectors;
  }

  private truncate(text: string): string {
    // A token covers at least a third of a UTF-16 unit (byte fallback), so short texts need no count.
    if (text.length * 3 + 2 <= this.maxInputTokens) return text;
    const tokens = this.tokenizer.count(text);
    if (tokens <= this.maxInputTokens) return text;
    let cut = Math.floor((text.length * this.maxInputTokens) / tokens);
    for (let i = 0; i < 20 && cut > 0; i++) {
      if (isHighSurrogate(text.charCodeAt(cut - 1))) cut--;
      if (this.tokenizer.count(text.slice(0, cut)) <= this.maxInputTokens) break;
      cut = Math.floor(cut * 0.9);
    }
    return text.slice(0, cut);
  }
}

/** 429 or 503: retry the same batch after a delay (the server's Retry-After, if any). */
class RetryAfter extends EmbeddingApiError {
  readonly retryAfterMs: number;
  constructor(message: string, options: { endpoint: string; status: number; retryAfterMs: number }) {
    super(message, { endpoint: options.endpoint, status: options.status, isRetryable: true });
    this.retryAfterMs = options.retryAfterMs;
  }
}

// ---- helpers ----

function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  return a ? AbortSignal.any([a, b]) : b;
}

/** The most specific code in an error's cause chain, e.g. ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET. */
export function connectionErrorCode(error: unknown): string {
  let current: unknown = error;
  let fallback: string | undefined;
  for (let depth = 0; depth < 6 && current; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (typeof e.code === 'string' && e.code) return e.code;
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      const inner = connectionErrorCode(e.errors[0]);
      if (inner !== 'network error') return inner;
    }
    if (typeof e.message === 'string' && e.message && e.message !== 'fetch failed') fallback ??= e.message;
    current = e.cause;
  }
  return fallback ?? 'network error';
}

/** The server's own words: FastAPI's `detail`, OpenAI's `error.message`, or the raw body. */
export function serverMessage(bodyText: string): string {
  const text = bodyText.trim();
  if (!text) return '';
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    if (json && typeof json === 'object') {
      const detail = json.detail ?? (json.error as Record<string, unknown> | undefined)?.message ?? json.error ?? json.message;
      if (typeof detail === 'string') return detail;
      if (detail !== undefined) return JSON.stringify(detail);
    }
  } catch {
    // not JSON: quote the text itself
  }
  return text;
}

function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > MAX_QUOTE ? `${flat.slice(0, MAX_QUOTE)}...` : flat);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${quote(value)}`;
  if (typeof value === 'number') return String(value);
  return `a value of type ${typeof value}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export function formatSeconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function parseRetryAfter(header: string | null): number {
  if (!header) return 0;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : 0;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(`${name} must be a whole number from ${min} to ${max}; got ${value}.`);
  }
  return value;
}

function checkUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidInputError(`The embedding endpoint ${JSON.stringify(endpoint)} is not a URL; use e.g. http://192.168.1.159:8080/embed.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(`The embedding endpoint ${endpoint} must start with http:// or https://.`);
  }
  return endpoint;
}
