/**
 * The embedding server's budget for request bodies in flight, summed over all requests: each request may be
 * up to the per-request limit, but fifty of them at once would hold gigabytes.
 */

/** Bytes shared by every request; each request holds its part through a BodyReservation. */
export class BodyBudget {
  private used = 0;

  constructor(readonly limit: number) {
    if (!Number.isFinite(limit) || limit <= 0) throw new RangeError(`body budget must be a positive number of bytes, got ${limit}`);
  }

  /** Bytes reserved by requests not yet answered. */
  get inUse(): number {
    return this.used;
  }

  /** A request's share, empty at first. */
  reserve(): BodyReservation {
    return new BodyReservation(this);
  }

  /** @internal Takes `bytes` if they fit under the limit. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  /** @internal */
  give(bytes: number): void {
    this.used -= bytes;
  }
}

/** One request's bytes of the budget; release() is safe to call more than once. */
export class BodyReservation {
  private held = 0;

  constructor(readonly budget: BodyBudget) {}

  get bytes(): number {
    return this.held;
  }

  /** Grows this request's share to `total` bytes; false (and nothing taken) if the budget has no room. */
  growTo(total: number): boolean {
    if (total <= this.held) return true;
    if (!this.budget.take(total - this.held)) return false;
    this.held = total;
    return true;
  }

  release(): void {
    this.budget.give(this.held);
    this.held = 0;
  }
}
