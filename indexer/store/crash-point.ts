/**
 * Failpoints for the crash-safety tests: `CODECARTO_CRASH_AT=<name>` (or `<name>:<n>`, the n-th time the
 * point is passed) makes this process SIGKILL itself there. A kill at a random moment almost never lands
 * between, say, writing an HNSW snapshot and recording it; a named point does, every time. Unset, a
 * point costs one comparison.
 */
const spec = process.env.CODECARTO_CRASH_AT ?? '';
const [target, nth] = spec.split(':');
const at = Math.max(1, Number(nth) || 1);
let passes = 0;

/** The write-path steps a test can stop a process after (each named where it is called). */
export type CrashPointName =
  | 'vectors-committed'
  | 'garbage-committed'
  | 'snapshot-written'
  | 'snapshot-recorded'
  | 'vectors-converted';

export function crashPoint(name: CrashPointName): void {
  if (name !== target || ++passes < at) return;
  process.kill(process.pid, 'SIGKILL');
}
