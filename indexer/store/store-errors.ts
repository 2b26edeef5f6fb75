import { CodecartoError } from '../../models/errors/codecarto-error.js';

/** A vector's length is not the dims of the index's model (or of the query's index). */
export class VectorDimensionsError extends CodecartoError {
  readonly expected: number;
  readonly actual: number;
  constructor(options: { expected: number; actual: number; what: string }) {
    super(
      `${options.what} has ${options.actual} dims, but the index holds ${options.expected}-dim vectors; ` +
        'embed with the model recorded by setModel(), or call setModel() with the new model first.',
    );
    this.expected = options.expected;
    this.actual = options.actual;
  }
}

/** The index cannot accept this write or open this data directory; the message says why and what to do. */
export class IndexStoreError extends CodecartoError {}
