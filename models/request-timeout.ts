/**
 * How long one embedding request may go without an answer, from what the endpoint has shown.
 *
 * Before any answer a request waits `initialMs` (a cold GPU server may still be loading its model);
 * that is also the most any request waits. Once answers came back, a request waits `factor` x the
 * slowest recent answer to a request of comparable size (scaled up to this one's size), at least
 * `minMs`. "Size" is padded characters (texts x longest text): proportional enough to the model's
 * work, and free to compute (tokens would need the tokenizer on every batch).
 */

export interface RequestTimeoutOptions {
  /** Before any answer, and the most any request waits. */
  initialMs: number;
  /** The least a request waits once the endpoint has answered. */
  minMs: number;
  /** Multiple of the expected time (default 5). */
  factor?: number;
}

interface Sample {
  ms: number;
  size: number;
}

/** Answers remembered; old ones drop out so that one cold start does not set every later timeout. */
const WINDOW = 32;
/** Samples smaller than this fraction of a request's size say little about it (fixed costs dominate them). */
const COMPARABLE = 1 / 4;

export class RequestTimeout {
  readonly initialMs: number;
  readonly minMs: number;
  readonly factor: number;
  private readonly samples: Sample[] = [];

  constructor(options: RequestTimeoutOptions) {
    this.initialMs = options.initialMs;
    this.minMs = Math.min(options.minMs, options.initialMs);
    this.factor = options.factor ?? 5;
  }

  /** Records an answered request: how long it took and its size (see `paddedChars`). */
  record(ms: number, size: number): void {
    this.samples.push({ ms: Math.max(0, ms), size: Math.max(1, size) });
    if (this.samples.length > WINDOW) this.samples.shift();
  }

  /** The timeout for a request of `size`. */
  forSize(size: number): number {
    const wanted = Math.max(1, size);
    let expected = -1;
    for (const sample of this.samples) {
      if (sample.size < wanted * COMPARABLE) continue;
      expected = Math.max(expected, sample.ms * Math.max(1, wanted / sample.size));
    }
    if (expected < 0) return this.initialMs;
    return Math.round(Math.min(this.initialMs, Math.max(this.minMs, this.factor * expected)));
  }
}

/** texts x longest text, in UTF-16 units: the size `RequestTimeout` compares requests by. */
export function paddedChars(texts: readonly string[]): number {
  let longest = 0;
  for (const text of texts) longest = Math.max(longest, text.length);
  return texts.length * Math.max(1, longest);
}
