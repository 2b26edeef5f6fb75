import { CodecartoError } from './codecarto-error.js';

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
