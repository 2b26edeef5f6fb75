/**
 * An error, then its `cause`, that cause's `cause`, and so on: the one place that walks a cause chain.
 * Stops at `limit` links, so a chain that loops back on itself still ends.
 */
export function* causeChain(error: unknown, limit = 8): Generator<unknown> {
  let current = error;
  for (let depth = 0; depth < limit && current !== undefined && current !== null; depth++) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}
