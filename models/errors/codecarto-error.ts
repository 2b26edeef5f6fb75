/**
 * Errors as data: callers decide retries from `isRetryable` and typed fields, never from message text.
 * Every message says what happened and what to do. models/errors/ imports nothing else of the project,
 * so every layer may import it (test/layering.test.ts keeps it that way).
 */
export class CodecartoError extends Error {
  readonly isRetryable: boolean;
  constructor(message: string, options: { cause?: unknown; isRetryable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.isRetryable = options.isRetryable ?? false;
  }
}

/** The caller's input is unusable; the message says what is accepted. */
export class InvalidInputError extends CodecartoError {}
