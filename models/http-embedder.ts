import type { EmbedCall, Embedder, EmbedderHealth, EmbedOutput, EmbedPurpose, ProviderName } from './embedder.js';
import type { TextTokenizer } from './tokenizer.js';
import { InvalidInputError } from './errors/codecarto-error.js';
import { AbortError, throwIfAborted } from './errors/abort-error.js';
import { EmbeddingApiError, EndpointUnreachableError, InvalidEmbeddingResponseError, TooManyValuesForCallError } from './errors/embedding-errors.js';
import { causeChain } from './errors/cause-chain.js';
import { isFetchBlockedPort } from './fetch-blocked-ports.js';
import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffOptions } from './backoff.js';
import { EndpointHealth, type EndpointHealthSnapshot } from './endpoint-health.js';
import { HTTP_EMBEDDER_DEFAULTS } from './http-embedder-defaults.js';
import { LearnedBatchLimits, type LimitsChange } from './learned-batch-limits.js';
import { paddedChars, RequestTimeout } from './request-timeout.js';

/**
 * The request and recovery core shared by the HTTP embedders (dgx, openai).
 *
 * What a GPU server does under load, and what this core does about it:
 * - Out of memory (HTTP 413, or an answer that says "out of memory", OOM, CUBLAS_STATUS_ALLOC_FAILED),
 *   or a connection dropped well into a multi-text request (a server killed by its own batch): the
 *   batch was too big. Split it in half and retry each half, down to one text, and lower the limits
 *   that `maxBatchSize` / `tokenBudget` report to the planner (LearnedBatchLimits); they grow back
 *   towards the configured ones after a run of batches that work.
 * - No answer within the request timeout (RequestTimeout: from the endpoint's own answer times, at most
 *   `requestTimeoutMs`): split once, without learning anything; a second timeout of the same texts
 *   fails the call. So a call to an endpoint that never answers fails after 2 x `requestTimeoutMs`.
 * - Other 5xx (500, 502, 504...): retried as they are, with backoff, at most `transientAttempts` times;
 *   never split, never learned.
 * - Connection refused / reset (server restarting), 429 and 503: back off with jitter and retry the
 *   same batch for at most `retryWindowMs`.
 * - Other 4xx: not retried.
 * - A 2xx answer must hold one finite vector of the expected size per text, or it is an
 *   InvalidEmbeddingResponseError. Vectors come back L2-normalized, in input order.
 * Every request also updates `endpointHealth`, so `health()` answers at once whatever the endpoint does.
 */

/**
 * Time and retry settings; the server's owner sets them (CODECARTO_EMBED_TIMEOUT_MS), tests shorten them.
 * Unset ones take HTTP_EMBEDDER_DEFAULTS (http-embedder-defaults.ts).
 */
export interface HttpTuning {
  /**
   * How long the first request waits for an answer (a cold server may be loading its model), and the
   * most any request waits. Two timeouts of the same texts fail the call, so an
   * endpoint that never answers fails an index within 2 x this.
   */
  requestTimeoutMs?: number;
  /** The least a request waits once the endpoint has answered. */
  minRequestTimeoutMs?: number;
  /** How long to keep retrying an endpoint that refuses connections or answers 429/503. */
  retryWindowMs?: number;
  /** Tries of one batch that keeps getting a plain 5xx. */
  transientAttempts?: number;
  /** Delays between retries (default 0.5 s doubling to 10 s, with jitter). */
  backoff?: BackoffOptions;
  /** The longest `health()` waits for its probe: status must answer within a second. */
  healthTimeoutMs?: number;
  /** Delays between background probes of an endpoint that is down (default 2 s doubling to 60 s). */
  probeBackoff?: BackoffOptions;
  /** Batches in a row that work at lowered limits before the limits grow back (default 8). */
  limitGrowthAfter?: number;
  /** How long a search waits for its query vector before answering lexically (CODECARTO_QUERY_TIMEOUT_MS; unset: the search's default). */
  queryTimeoutMs?: number;
}

export interface HttpEmbedderOptions extends HttpTuning {
  /** URL every request goes to; errors name it. */
  endpoint: string;
  /** Most texts per request (and per `embed` call). 1..512. */
  batchSize: number;
  /** Most padded tokens (texts x longest) per request that the planner should aim for. */
  tokenBudget: number;
  maxParallelCalls: number;
  maxInputTokens: number;
  fetch?: typeof fetch;
  apiKey?: string;
  /** Known vector size; otherwise the first answer fixes it. */
  dims?: number;
  /** Tokenizer given by the caller, else `defaultTokenizer()` is called on first use. */
  tokenizer?: TextTokenizer;
  log?: (message: string) => void;
}

/** The tuning fields of `options`, for subclasses passing their options on. */
export function tuningOf(options: HttpTuning): HttpTuning {
  const { requestTimeoutMs, minRequestTimeoutMs, retryWindowMs, transientAttempts, backoff, healthTimeoutMs, probeBackoff, limitGrowthAfter, queryTimeoutMs } = options;
  return { requestTimeoutMs, minRequestTimeoutMs, retryWindowMs, transientAttempts, backoff, healthTimeoutMs, probeBackoff, limitGrowthAfter, queryTimeoutMs };
}

/** What a request gives back before validation: one raw vector per text, in input order. */
export type RawVectors = unknown[];

const MAX_QUOTE = 300;
const OOM_PATTERN = /out of memory|OutOfMemoryError|\bOOM\b|CUBLAS_STATUS_ALLOC_FAILED/i;

/** A request whose connection drops later than this had reached the model (a stale keep-alive socket drops at once). */
const CRASH_AFTER_MS = 1000;

/** A connection-level failure (refused, reset, DNS): retried with backoff, never split. */
class ConnectionFailure extends Error {
  constructor(readonly code: string, options: { cause?: unknown }) {
    super(code, options);
  }
}

/** A request that got no answer: it timed out, or its connection dropped mid-computation (isBatchTooLarge). */
class NoAnswer extends EmbeddingApiError {
  constructor(
    message: string,
    readonly waitedMs: number,
    readonly timeoutMs: number,
    options: { endpoint: string; isBatchTooLarge: boolean; cause?: unknown },
  ) {
    super(message, options);
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

/** A 5xx that does not mention memory: retried as it is a few times; it says nothing about batch size. */
class ServerError extends EmbeddingApiError {}

/** A call gave up on the endpoint (no answer, or failing for too long): it is down until it answers again. */
class EndpointFailing extends EmbeddingApiError {}

interface BatchContext {
  texts: string[];
  purpose: EmbedPurpose;
  signal: AbortSignal | undefined;
  /** Token counts of `texts`, computed only when the limits need them. */
  tokenCounts: (number | undefined)[];
  /** 1 for texts that were in a request that timed out: a second timeout of any of them fails the call. */
  timedOut: Uint8Array;
  /** Time this call's requests spent without an answer (timeouts, dropped connections). */
  waitedMs: number;
  /** EmbedCall.onWait: told while a request is retried after connection failures, 429, 503 or 5xx. */
  onWait: EmbedCall['onWait'];
}

export abstract class HttpEmbedder implements Embedder {
  abstract readonly provider: ProviderName;
  abstract readonly modelId: string;

  readonly endpoint: string;
  readonly maxInputTokens: number;
  readonly maxParallelCalls: number;
  /** First-request timeout, and the most any request waits for an answer. */
  readonly requestTimeoutMs: number;
  /** How long a search waits for its query vector (undefined: the search's default). */
  readonly queryTimeoutMs: number | undefined;
  /** What is known about the endpoint now: kept by every request, probed in the background while down. */
  readonly endpointHealth: EndpointHealth;

  protected readonly configuredBatchSize: number;
  protected readonly configuredTokenBudget: number;
  protected readonly retryWindowMs: number;
  protected readonly apiKey: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly log: (message: string) => void;
  private readonly backoff: BackoffOptions;
  private readonly healthTimeoutMs: number;
  private readonly transientAttempts: number;
  private readonly timeouts: RequestTimeout;
  private readonly limits: LearnedBatchLimits;
  private tokenizerInstance: TextTokenizer | undefined;
  private dims: number | null;
  private readonly closed = new AbortController();
  private unloggedChange: LimitsChange | null = null;
  private loggedLimits: string | undefined;

  constructor(options: HttpEmbedderOptions) {
    this.endpoint = checkUrl(options.endpoint);
    this.configuredBatchSize = checkInt('batchSize', options.batchSize, 1, 512);
    this.configuredTokenBudget = checkInt('tokenBudget', options.tokenBudget, 1, 100_000_000);
    this.requestTimeoutMs = checkInt('requestTimeoutMs', options.requestTimeoutMs ?? HTTP_EMBEDDER_DEFAULTS.requestTimeoutMs, 1, 24 * 3600_000);
    const minTimeout = checkInt('minRequestTimeoutMs', options.minRequestTimeoutMs ?? HTTP_EMBEDDER_DEFAULTS.minRequestTimeoutMs, 1, 24 * 3600_000);
    this.retryWindowMs = checkInt('retryWindowMs', options.retryWindowMs ?? HTTP_EMBEDDER_DEFAULTS.retryWindowMs, 0, 24 * 3600_000);
    this.transientAttempts = checkInt('transientAttempts', options.transientAttempts ?? HTTP_EMBEDDER_DEFAULTS.transientAttempts, 1, 100);
    this.queryTimeoutMs = options.queryTimeoutMs === undefined ? undefined : checkInt('queryTimeoutMs', options.queryTimeoutMs, 1, 60_000);
    this.maxParallelCalls = checkInt('maxParallelCalls', options.maxParallelCalls, 1, 64);
    this.maxInputTokens = checkInt('maxInputTokens', options.maxInputTokens, 1, 10_000_000);
    this.dims = options.dims === undefined ? null : checkInt('dims', options.dims, 1, 1_000_000);
    const given = options.fetch;
    this.fetchImpl = given ?? ((input, init) => fetch(input, init));
    this.apiKey = options.apiKey || undefined;
    this.tokenizerInstance = options.tokenizer;
    this.log = options.log ?? (() => {});
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.healthTimeoutMs = checkInt('healthTimeoutMs', options.healthTimeoutMs ?? HTTP_EMBEDDER_DEFAULTS.healthTimeoutMs, 1, 60_000);
    this.timeouts = new RequestTimeout({ initialMs: this.requestTimeoutMs, minMs: minTimeout });
    this.limits = new LearnedBatchLimits({ texts: this.configuredBatchSize, tokens: this.configuredTokenBudget, growAfter: options.limitGrowthAfter });
    this.endpointHealth = new EndpointHealth({
      probeBackoff: options.probeBackoff,
      probe: async (signal) => {
        try {
          await this.request([this.prepareText('ping', 'passage')], 'passage', signal, HTTP_EMBEDDER_DEFAULTS.backgroundProbeTimeoutMs, 'probe');
        } catch (error) {
          throw new Error(this.describeFailure(error), { cause: error });
        }
      },
    });
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

  /** The configured batch size, lowered while out-of-memory failures say it is too much. */
  get maxBatchSize(): number {
    return this.limits.texts;
  }

  /** The configured token budget, lowered while out-of-memory failures say it is too much. */
  get tokenBudget(): number {
    return this.limits.tokens;
  }

  /** The longest one call waits on an endpoint that never answers: two timeouts of the same texts. */
  get noAnswerLimitMs(): number {
    return 2 * this.requestTimeoutMs;
  }

  /** What the requests have seen of the endpoint, without asking it. */
  endpointState(): EndpointHealthSnapshot {
    return this.endpointHealth.snapshot();
  }

  /** A caller gave up waiting on the endpoint: down (and probed in the background) until it answers. */
  reportEndpointDown(reason: string): void {
    this.endpointHealth.recordDown(reason);
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
      timedOut: new Uint8Array(call.texts.length),
      waitedMs: 0,
      onWait: call.onWait,
    };
    const out = new Array<Float32Array>(call.texts.length);
    try {
      for (const [start, end] of this.splitToLimits(ctx)) {
        await this.embedRange(ctx, start, end, out);
      }
    } catch (error) {
      if (error instanceof EndpointFailing || error instanceof EndpointUnreachableError) this.endpointHealth.recordDown(error.message);
      throw error;
    } finally {
      this.logLimitsIfChanged();
    }
    return { embeddings: out };
  }

  /**
   * Answers within about `healthTimeoutMs` whatever the endpoint does: one tiny probe request that
   * waits no longer, and when it gets no answer in time, what the requests themselves have seen
   * (a batch waiting for its answer, the last answer, why the endpoint is down). Never retried.
   */
  async health(signal?: AbortSignal): Promise<EmbedderHealth> {
    throwIfAborted(signal);
    const started = performance.now();
    try {
      const texts = [this.prepareText('ping', 'passage')];
      const vectors = await this.request(texts, 'passage', signal, this.healthTimeoutMs, 'probe');
      const ms = Math.round(performance.now() - started);
      return { ok: true, detail: `endpoint ${this.endpoint} reachable, ${vectors[0]!.length} dims, ${ms} ms` };
    } catch (error) {
      if (error instanceof AbortError && signal?.aborted) throw error;
      if (error instanceof ConnectionFailure) {
        const detail = `endpoint ${this.endpoint} is not reachable (${error.code}). ${this.unreachableHint()}`;
        this.endpointHealth.recordDown(detail);
        return { ok: false, detail };
      }
      if (error instanceof NoAnswer) return this.healthFromState();
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Aborts requests in flight and stops background probes; later calls fail with AbortError. */
  async close(): Promise<void> {
    this.closed.abort();
    this.endpointHealth.close();
  }

  /** The probe got no answer in time: say what the requests have seen instead of waiting longer. */
  private healthFromState(): EmbedderHealth {
    const state = this.endpointHealth.snapshot();
    const now = Date.now();
    const parts = [`endpoint ${this.endpoint} did not answer a one-text probe within ${formatSeconds(this.healthTimeoutMs)}`];
    if (state.waitingSince !== null) {
      parts.push(
        `a request of ${plural(state.waitingTexts, 'text')} has waited ${formatSeconds(now - state.waitingSince)} for its answer ` +
          `(it gives up after ${formatSeconds(state.waitingTimeoutMs)})`,
      );
    }
    if (state.lastAnswerAt !== null) parts.push(`its last answer came ${formatSeconds(now - state.lastAnswerAt)} ago and took ${formatSeconds(state.lastAnswerMs ?? 0)}`);
    else parts.push('it has not answered yet (a server still loading its model answers late)');
    if (state.state === 'down' && state.since !== null) parts.push(`it has been down for ${formatSeconds(now - state.since)}: ${state.lastError ?? 'no answer'}`);
    return { ok: state.state === 'up', detail: `${parts.join('; ')}.` };
  }

  // ---- batches, splitting and learned limits ----

  /** Consecutive [start, end) ranges within the current limits (only differs from one range after a failure). */
  private splitToLimits(ctx: BatchContext): [number, number][] {
    const maxTexts = this.maxBatchSize;
    const budget = this.tokenBudget;
    const useTokens = budget < this.configuredTokenBudget;
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
    let vectors: Float32Array[];
    try {
      vectors = await this.requestWithRetries(texts, ctx);
    } catch (error) {
      if (error instanceof NoAnswer) {
        ctx.waitedMs += error.waitedMs;
        if (!error.isBatchTooLarge) return this.afterTimeout(ctx, start, end, out, error);
      }
      if (!(error instanceof EmbeddingApiError) || !error.isBatchTooLarge) throw error;
      this.recordOutOfMemory(ctx, start, end);
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
      // Dropped connections (a crashing server) may split again, but not past the time a hung endpoint gets.
      if (error instanceof NoAnswer && ctx.waitedMs >= this.noAnswerLimitMs) throw this.noAnswerFailure(ctx, end - start, error);
      const middle = start + Math.ceil((end - start) / 2);
      // Halves go one after the other: the failure was most likely GPU memory.
      await this.embedRange(ctx, start, middle, out);
      await this.embedRange(ctx, middle, end, out);
      return;
    }
    for (let i = 0; i < vectors.length; i++) out[start + i] = vectors[i]!;
    this.recordSuccess(ctx, start, end);
  }

  /**
   * No answer in time. A timeout says nothing sure about size (the server may be stuck, or busy), so
   * the batch is split once and nothing is learned; a second timeout of any of its texts ends the call.
   */
  private async afterTimeout(ctx: BatchContext, start: number, end: number, out: Float32Array[], error: NoAnswer): Promise<void> {
    let again = false;
    for (let i = start; i < end; i++) {
      if (ctx.timedOut[i]) again = true;
      ctx.timedOut[i] = 1;
    }
    if (again || ctx.waitedMs >= this.noAnswerLimitMs) throw this.noAnswerFailure(ctx, end - start, error);
    const count = end - start;
    this.log(`${error.message} Sending ${count > 1 ? 'it again as two halves' : 'it once more'}; one more timeout of these texts ends the run.`);
    if (count === 1) return this.embedRange(ctx, start, end, out);
    const middle = start + Math.ceil(count / 2);
    await this.embedRange(ctx, start, middle, out);
    await this.embedRange(ctx, middle, end, out);
  }

  private noAnswerFailure(ctx: BatchContext, count: number, last: NoAnswer): EndpointFailing {
    return new EndpointFailing(
      `Embedding endpoint ${this.endpoint} did not answer: a request of ${plural(count, 'text')} got no answer within ` +
        `${formatSeconds(last.timeoutMs)}, after these texts had already gone unanswered once ` +
        `(${formatSeconds(ctx.waitedMs)} waited in all). Check that the server is running and not stuck (its log, its GPU ` +
        `memory). ${this.unreachableHint()} If it is only slow, the server's owner can let requests wait longer with ` +
        `CODECARTO_EMBED_TIMEOUT_MS (now ${this.requestTimeoutMs} ms).`,
      { endpoint: this.endpoint, isRetryable: false, cause: last },
    );
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
    const padded = this.limits.needsTokens ? this.paddedTokens(ctx, start, end) : undefined;
    this.unloggedChange = this.limits.recordSuccess(end - start, padded) ?? this.unloggedChange;
  }

  private recordOutOfMemory(ctx: BatchContext, start: number, end: number): void {
    if (end - start <= 1) return;
    this.unloggedChange = this.limits.recordOutOfMemory(end - start, this.paddedTokens(ctx, start, end)) ?? this.unloggedChange;
  }

  private logLimitsIfChanged(): void {
    const change = this.unloggedChange;
    if (!change) return;
    this.unloggedChange = null;
    const limits = `at most ${change.texts} texts and ${change.tokens} padded tokens per request`;
    if (limits === this.loggedLimits) return;
    this.loggedLimits = limits;
    const configured = `(configured: ${this.configuredBatchSize} texts, ${this.configuredTokenBudget} tokens)`;
    const growth = `they grow back after ${this.limits.successesToGrow} batches in a row that work`;
    if (change.kind === 'shrunk') {
      this.log(`Embedding endpoint ${this.endpoint} failed on large batches (out of memory); using ${limits} for now ${configured}; ${growth}.`);
    } else if (change.kind === 'grew') {
      this.log(`Embedding endpoint ${this.endpoint} handled the lowered batches; trying ${limits} ${configured}.`);
    } else {
      this.log(`Embedding endpoint ${this.endpoint} is back to the configured ${limits}.`);
    }
  }

  // ---- requests ----

  /**
   * Sends one batch; retries connection failures, 429 and 503 with backoff within the retry window,
   * and plain 5xx at most `transientAttempts` times.
   */
  private async requestWithRetries(texts: string[], ctx: BatchContext): Promise<Float32Array[]> {
    let firstFailureAt: number | undefined;
    let serverErrors = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const vectors = await this.request(texts, ctx.purpose, ctx.signal, this.timeouts.forSize(paddedChars(texts)), 'batch');
        if (firstFailureAt !== undefined) ctx.onWait?.(null);
        return vectors;
      } catch (error) {
        const transient = error instanceof ConnectionFailure || error instanceof RetryAfter || error instanceof ServerError;
        if (!transient) throw error;
        const now = performance.now();
        firstFailureAt ??= now;
        // A progress display says what the call waits for, and since when (the caller clears it if the call fails).
        const reason = error instanceof ConnectionFailure ? error.code : `HTTP ${(error as EmbeddingApiError).status}`;
        ctx.onWait?.({ what: `${this.endpoint} (${reason}, retrying)`, since: Date.now() - (now - firstFailureAt) });
        const elapsed = now - firstFailureAt;
        if (error instanceof ServerError && ++serverErrors >= this.transientAttempts) throw this.gaveUp(error, elapsed, serverErrors);
        if (elapsed >= this.retryWindowMs) throw this.gaveUp(error, Math.max(elapsed, this.retryWindowMs), serverErrors);
        let delay = backoffDelay(attempt, this.backoff);
        if (error instanceof RetryAfter) delay = Math.max(delay, error.retryAfterMs);
        await sleep(Math.min(delay, Math.max(0, this.retryWindowMs - elapsed)), anySignal(ctx.signal, this.closed.signal));
      }
    }
  }

  private gaveUp(error: unknown, elapsedMs: number, serverErrors: number): Error {
    const duration = formatSeconds(elapsedMs);
    if (error instanceof ConnectionFailure) {
      return new EndpointUnreachableError(
        `Could not reach the embedding endpoint ${this.endpoint} for ${duration} (${error.code}). Is the server running? ${this.unreachableHint()}`,
        { endpoint: this.endpoint, cause: error.cause ?? error },
      );
    }
    const api = error as EmbeddingApiError;
    const said =
      error instanceof ServerError
        ? ` It answered so ${serverErrors} times in a row for the same batch (over ${duration}). The answer does not mention ` +
          `memory, so the batch was not split: check the server's log.`
        : ` It kept answering this for ${duration}; try again later.`;
    return new EndpointFailing(`${api.message}${said}`, { endpoint: this.endpoint, status: api.status, isRetryable: true, cause: api });
  }

  /** How a failure reads in a health report: a sentence, not an error code. */
  private describeFailure(error: unknown): string {
    if (error instanceof ConnectionFailure) return `endpoint ${this.endpoint} is not reachable (${error.code})`;
    return error instanceof Error ? error.message : String(error);
  }

  /**
   * One HTTP request, no retries. Throws AbortError (caller or close), ConnectionFailure,
   * NoAnswer (timeout; or a dropped connection, isBatchTooLarge), EmbeddingApiError (isBatchTooLarge
   * for out of memory), RetryAfter (429/503), ServerError (other 5xx), or InvalidEmbeddingResponseError.
   * A 'batch' request counts as waiting in `endpointHealth` and its time teaches the timeouts; a
   * 'probe' only tells whether the endpoint answers.
   */
  private async request(
    texts: string[],
    purpose: EmbedPurpose,
    signal: AbortSignal | undefined,
    timeoutMs: number,
    kind: 'batch' | 'probe',
  ): Promise<Float32Array[]> {
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
    const done = kind === 'batch' ? this.endpointHealth.requestStarted(texts.length, timeoutMs) : () => {};
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
        throw new NoAnswer(
          `Embedding endpoint ${this.endpoint} did not answer ${plural(texts.length, 'text')} within ${formatSeconds(timeoutMs)}.`,
          timeoutMs,
          timeoutMs,
          { endpoint: this.endpoint, isBatchTooLarge: false, cause: error },
        );
      }
      const code = connectionErrorCode(error);
      const reason = code ?? connectionErrorText(error);
      // fetch refuses an unparsable URL, and a blocked port (with no code), without connecting: waiting will not help.
      if (code === 'ERR_INVALID_URL' || (code === undefined && isFetchBlockedPort(this.endpoint))) {
        throw new EmbeddingApiError(
          `Cannot send requests to ${this.endpoint} (${reason}): fix the endpoint URL (use another port or host).`,
          { endpoint: this.endpoint, isRetryable: false, cause: error },
        );
      }
      // A connection dropped well into a multi-text request is what a server killed by its own
      // batch (out of memory) looks like: split it, as for out of memory, and let the halves wait for the restart.
      const waited = performance.now() - sentAt;
      if (texts.length > 1 && code !== 'ECONNREFUSED' && waited >= CRASH_AFTER_MS) {
        throw new NoAnswer(
          `Embedding endpoint ${this.endpoint} dropped the connection (${reason}) while computing ${plural(texts.length, 'text')}; it may have crashed on the batch size.`,
          waited,
          timeoutMs,
          { endpoint: this.endpoint, isBatchTooLarge: true, cause: error },
        );
      }
      throw new ConnectionFailure(reason, { cause: error });
    } finally {
      clearTimeout(timer);
      done();
      signal?.removeEventListener('abort', onAbort);
      this.closed.signal.removeEventListener('abort', onAbort);
    }
    const answeredMs = performance.now() - sentAt;

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
    const vectors = this.validate(raw, texts.length);
    this.endpointHealth.recordAnswer(answeredMs);
    if (kind === 'batch') this.timeouts.record(answeredMs, paddedChars(texts));
    return vectors;
  }

  /**
   * Only an answer that says out of memory (or 413) tells something about batch size; 429 and 503
   * mean "later"; any other 5xx is retried as it is; the rest is the request's own fault.
   */
  private statusError(status: number, statusText: string, bodyText: string, count: number, retryAfter: string | null): Error {
    const message = serverMessage(bodyText);
    const said = message ? `: ${quote(message)}` : '';
    const base = `Embedding endpoint ${this.endpoint} answered HTTP ${status}${statusText ? ` ${statusText}` : ''} for ${plural(count, 'text')}${said}.`;
    if (OOM_PATTERN.test(bodyText) || status === 413) {
      return new EmbeddingApiError(base, { endpoint: this.endpoint, status, isBatchTooLarge: true });
    }
    if (status === 429 || status === 503) {
      return new RetryAfter(base, { endpoint: this.endpoint, status, retryAfterMs: parseRetryAfter(retryAfter) });
    }
    if (status >= 500 && status !== 501 && status !== 505) {
      return new ServerError(base, { endpoint: this.endpoint, status, isRetryable: true });
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

// ---- helpers ----

function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  return a ? AbortSignal.any([a, b]) : b;
}

/** The most specific code in an error's cause chain (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, ERR_INVALID_URL), if any. */
export function connectionErrorCode(error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    const e = link as { code?: unknown; errors?: unknown };
    if (typeof e.code === 'string' && e.code) return e.code;
    // Node's connect to several addresses fails with an AggregateError of the attempts.
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      const inner = connectionErrorCode(e.errors[0]);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** Words for a failure without a code (for messages only): the first below fetch's own "fetch failed". */
function connectionErrorText(error: unknown): string {
  for (const link of causeChain(error)) {
    const message = (link as { message?: unknown }).message;
    if (typeof message === 'string' && message && message !== 'fetch failed') return message;
  }
  return 'network error';
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
