/**
 * Errors as data: callers decide retries from `isRetryable` and typed fields, never from message text.
 * Every message says what happened and what to do.
 */
export class CodecartoError extends Error {
  readonly isRetryable: boolean;
  constructor(message: string, options: { cause?: unknown; isRetryable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.isRetryable = options.isRetryable ?? false;
  }
}

/** The embedding endpoint answered with an error status or an unusable body. */
export class EmbeddingApiError extends CodecartoError {
  readonly endpoint: string;
  readonly status: number | undefined;
  /** True when the failure looks like the GPU running out of memory or timing out: split the batch and retry. */
  readonly isBatchTooLarge: boolean;
  constructor(message: string, options: { endpoint: string; status?: number; isBatchTooLarge?: boolean; isRetryable?: boolean; cause?: unknown }) {
    super(message, options);
    this.endpoint = options.endpoint;
    this.status = options.status;
    this.isBatchTooLarge = options.isBatchTooLarge ?? false;
  }
}

/** The endpoint could not be reached (refused, reset, DNS) for longer than the retry window. */
export class EndpointUnreachableError extends CodecartoError {
  readonly endpoint: string;
  constructor(message: string, options: { endpoint: string; cause?: unknown }) {
    super(message, { cause: options.cause, isRetryable: false });
    this.endpoint = options.endpoint;
  }
}

/** The endpoint answered, but not with one finite vector of the expected dims per text. */
export class InvalidEmbeddingResponseError extends CodecartoError {
  readonly endpoint: string;
  constructor(message: string, options: { endpoint: string; cause?: unknown }) {
    super(message, { cause: options.cause, isRetryable: false });
    this.endpoint = options.endpoint;
  }
}

/** A call passed more texts than the embedder accepts in one call; the planner must split. */
export class TooManyValuesForCallError extends CodecartoError {
  readonly maxBatchSize: number;
  readonly count: number;
  constructor(options: { maxBatchSize: number; count: number }) {
    super(`${options.count} texts passed to one embed call, but at most ${options.maxBatchSize} are accepted; split the batch.`);
    this.maxBatchSize = options.maxBatchSize;
    this.count = options.count;
  }
}

/** A model directory or execution provider cannot be loaded. */
export class ModelLoadError extends CodecartoError {}

/** The caller's input is unusable; the message says what is accepted. */
export class InvalidInputError extends CodecartoError {}

/** The operation was cancelled through its AbortSignal. */
export class AbortError extends CodecartoError {
  constructor(message = 'The operation was cancelled.') {
    super(message);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError();
}

/** True for our AbortError and for the DOMException that fetch and AbortSignal.timeout throw. */
export function isAbortError(error: unknown): boolean {
  return error instanceof AbortError || (error instanceof Error && error.name === 'AbortError');
}
