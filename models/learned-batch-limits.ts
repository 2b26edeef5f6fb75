/**
 * What an embedding endpoint has shown it can take per request: texts and padded tokens (texts x
 * longest). Only out-of-memory failures lower the limits (a transient error says nothing about size);
 * successes at the lowered limits raise them back towards the configured ones, so one bad moment
 * of the GPU (another process holding memory) does not shrink batches for the rest of the server's life.
 *
 * - Out of memory on a batch of `count` texts and `padded` tokens: the token limit drops to the
 *   larger of half that batch and the largest batch that worked below the smallest failure; the
 *   text limit drops the same way, but only when the count is more than has ever worked (otherwise
 *   the tokens, not the count, were too many). A half that then works raises a limit to its size.
 * - `growAfter` successes in a row, each using at least half of a lowered limit: both limits move
 *   halfway back to the configured ones (all the way once within 10%).
 * - A failure right after such a step doubles the successes the next step needs (up to 32x), so an
 *   endpoint whose real limit sits below the configured one is probed less and less often; it returns
 *   to `growAfter` once the configured limits hold for that many batches.
 */

export interface LearnedBatchLimitsOptions {
  /** Configured most texts per request. */
  texts: number;
  /** Configured most padded tokens per request. */
  tokens: number;
  /** Successes in a row at the lowered limits before they grow (default 8). */
  growAfter?: number;
}

export interface LimitsChange {
  kind: 'shrunk' | 'grew' | 'recovered';
  texts: number;
  tokens: number;
}

const MAX_PATIENCE_FACTOR = 32;

/** One limit (texts or padded tokens): what failed, what worked below that, and the value in use. */
class Limit {
  value: number;
  /** Smallest size that ran out of memory since the last growth step. */
  private ceiling = Infinity;
  /** Largest size that worked below the ceiling. */
  private okBelow = 0;

  constructor(readonly configured: number) {
    this.value = configured;
  }

  failed(size: number): void {
    if (size < this.ceiling) {
      this.ceiling = size;
      if (this.okBelow >= size) this.okBelow = 0;
    }
    this.value = Math.max(1, Math.min(this.value, Math.max(this.okBelow, Math.floor(size / 2))));
  }

  worked(size: number): void {
    if (size >= this.ceiling) return;
    this.okBelow = Math.max(this.okBelow, size);
    // A half of a failed batch may be larger than the halved limit: it proved that much works.
    if (size > this.value) this.value = Math.min(size, this.configured);
  }

  /** Halfway back to the configured value (all the way within 10%); the old failures are forgotten. */
  grow(): void {
    const next = this.value + Math.ceil((this.configured - this.value) / 2);
    this.value = next >= 0.9 * this.configured ? this.configured : next;
    this.ceiling = Infinity;
  }

  get lowered(): boolean {
    return this.value < this.configured;
  }
}

export class LearnedBatchLimits {
  private readonly growAfter: number;
  private readonly textLimit: Limit;
  private readonly tokenLimit: Limit;
  /** Set by the first out-of-memory failure: from then on every batch's padded tokens are counted. */
  private learning = false;
  private largestOkTexts = 0;
  private streak = 0;
  private patience: number;
  private grewSinceFailure = false;

  constructor(options: LearnedBatchLimitsOptions) {
    this.textLimit = new Limit(options.texts);
    this.tokenLimit = new Limit(options.tokens);
    this.growAfter = Math.max(1, Math.floor(options.growAfter ?? 8));
    this.patience = this.growAfter;
  }

  get texts(): number {
    return this.textLimit.value;
  }

  get tokens(): number {
    return this.tokenLimit.value;
  }

  /** True once a batch ran out of memory: callers must then pass padded token counts. */
  get needsTokens(): boolean {
    return this.learning;
  }

  /** True while either limit is below the configured one. */
  get lowered(): boolean {
    return this.textLimit.lowered || this.tokenLimit.lowered;
  }

  /** Batches in a row that must work before lowered limits grow (for messages). */
  get successesToGrow(): number {
    return this.patience;
  }

  /** A batch of `count` texts and `padded` tokens ran out of memory. Returns the change, if the limits moved. */
  recordOutOfMemory(count: number, padded: number): LimitsChange | null {
    if (count <= 1) return null; // a single text says nothing about batch size
    this.learning = true;
    const before = this.key();
    this.tokenLimit.failed(padded);
    // A batch no larger than one that already worked failed for its tokens, not its count.
    if (count > this.largestOkTexts) this.textLimit.failed(count);
    if (this.grewSinceFailure) this.patience = Math.min(this.growAfter * MAX_PATIENCE_FACTOR, this.patience * 2);
    this.grewSinceFailure = false;
    this.streak = 0;
    return this.key() === before ? null : this.change('shrunk');
  }

  /** A batch of `count` texts (`padded` tokens, when `needsTokens`) was answered. Returns the change, if any. */
  recordSuccess(count: number, padded?: number): LimitsChange | null {
    const before = this.key();
    this.largestOkTexts = Math.max(this.largestOkTexts, count);
    this.textLimit.worked(count);
    if (padded !== undefined) this.tokenLimit.worked(padded);
    if (!this.learning) return null;
    const tested = count * 2 >= this.texts || (padded !== undefined && padded * 2 >= this.tokens);
    if (tested && ++this.streak >= this.patience) {
      this.streak = 0;
      if (this.lowered) {
        this.textLimit.grow();
        this.tokenLimit.grow();
        this.grewSinceFailure = true;
        return this.change(this.lowered ? 'grew' : 'recovered');
      }
      // The configured limits held for a while: probing after the next failure starts afresh.
      this.patience = this.growAfter;
    }
    // Only the half of a failed batch moves a limit here: still the limits found after that failure.
    return this.key() === before ? null : this.change('shrunk');
  }

  private key(): string {
    return `${this.texts}/${this.tokens}`;
  }

  private change(kind: LimitsChange['kind']): LimitsChange {
    return { kind, texts: this.texts, tokens: this.tokens };
  }
}
