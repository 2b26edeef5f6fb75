import { CodecartoError } from './codecarto-error.js';

/** The operation was cancelled through its AbortSignal. */
export class AbortError extends CodecartoError {
  constructor(message = 'The operation was cancelled.') {
    super(message);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError();
}

/** True for our AbortError and for the DOMException that fetch and AbortSignal.timeout throw (by its name field). */
export function isAbortError(error: unknown): boolean {
  return error instanceof AbortError || (error instanceof Error && error.name === 'AbortError');
}
