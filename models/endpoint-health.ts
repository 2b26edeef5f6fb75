import { backoffDelay, type BackoffOptions } from './backoff.js';

/**
 * What is known about an embedding endpoint right now, kept up to date by the requests themselves so
 * that asking never waits on the endpoint: `up` (it answered with vectors), `down` (a call gave up on
 * it: unreachable, no answer, or failing), `unknown` (nothing asked yet).
 *
 * Once down, a probe loop asks the endpoint with a tiny request, backing off, until it answers (then
 * `up`) or the tracker is closed. So callers that must not hang (a search's query embedding) can skip
 * a down endpoint and pick it up again by themselves when the probe sees it back.
 */

export type EndpointState = 'unknown' | 'up' | 'down';

export interface EndpointHealthSnapshot {
  state: EndpointState;
  /** When the state last changed (epoch ms), or null while unknown. */
  since: number | null;
  /** Why it is down (or what last went wrong), in a sentence. */
  lastError: string | null;
  /** When the endpoint last answered with vectors (epoch ms). */
  lastAnswerAt: number | null;
  /** How long that answer took. */
  lastAnswerMs: number | null;
  /** Start of the oldest request still waiting for an answer (epoch ms), or null. */
  waitingSince: number | null;
  /** Texts in that oldest waiting request. */
  waitingTexts: number;
  /** How long that request waits before it gives up. */
  waitingTimeoutMs: number;
  /** True while the background probe loop runs. */
  probing: boolean;
}

export interface EndpointHealthOptions {
  /** Sends one tiny request; resolves when the endpoint answered with vectors, rejects otherwise. */
  probe: (signal: AbortSignal) => Promise<void>;
  /** Delays between background probes (default 2 s doubling to 60 s, with jitter). */
  probeBackoff?: BackoffOptions;
  now?: () => number;
}

interface Waiting {
  at: number;
  texts: number;
  timeoutMs: number;
}

export const DEFAULT_PROBE_BACKOFF: BackoffOptions = { initialMs: 2_000, maxMs: 60_000, factor: 2 };

export class EndpointHealth {
  private readonly options: EndpointHealthOptions;
  private readonly now: () => number;
  private state: EndpointState = 'unknown';
  private since: number | null = null;
  private lastError: string | null = null;
  private lastAnswerAt: number | null = null;
  private lastAnswerMs: number | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextWaitId = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private probeAttempt = 0;
  private readonly closed = new AbortController();
  private readonly listeners = new Set<(snapshot: EndpointHealthSnapshot) => void>();

  constructor(options: EndpointHealthOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  snapshot(): EndpointHealthSnapshot {
    let oldest: Waiting | null = null;
    for (const entry of this.waiting.values()) if (!oldest || entry.at < oldest.at) oldest = entry;
    return {
      state: this.state,
      since: this.since,
      lastError: this.lastError,
      lastAnswerAt: this.lastAnswerAt,
      lastAnswerMs: this.lastAnswerMs,
      waitingSince: oldest?.at ?? null,
      waitingTexts: oldest?.texts ?? 0,
      waitingTimeoutMs: oldest?.timeoutMs ?? 0,
      probing: this.probeTimer !== undefined,
    };
  }

  /** Called on every state change (e.g. to show "waiting for the endpoint"); returns an unsubscribe. */
  onChange(listener: (snapshot: EndpointHealthSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A request of `texts` texts went out; call the returned function when it ends, however it ends. */
  requestStarted(texts: number, timeoutMs: number): () => void {
    const id = this.nextWaitId++;
    this.waiting.set(id, { at: this.now(), texts, timeoutMs });
    return () => {
      this.waiting.delete(id);
    };
  }

  /** The endpoint answered with vectors. */
  recordAnswer(ms: number): void {
    this.lastAnswerAt = this.now();
    this.lastAnswerMs = Math.round(ms);
    this.probeAttempt = 0;
    this.stopProbing();
    this.setState('up', null);
  }

  /** A call gave up on the endpoint: it is down until a probe (or any request) gets an answer. */
  recordDown(reason: string): void {
    this.setState('down', reason);
    this.scheduleProbe();
  }

  /** Stops the probe loop for good. */
  close(): void {
    this.closed.abort();
    this.stopProbing();
    this.listeners.clear();
  }

  private setState(state: EndpointState, error: string | null): void {
    const changed = state !== this.state;
    if (changed) this.since = this.now();
    this.state = state;
    if (error !== null) this.lastError = error;
    if (changed) for (const listener of this.listeners) listener(this.snapshot());
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.closed.signal.aborted) return;
    const delay = backoffDelay(this.probeAttempt++, this.options.probeBackoff ?? DEFAULT_PROBE_BACKOFF);
    this.probeTimer = setTimeout(() => void this.runProbe(), delay);
    // A background probe never keeps the process alive.
    this.probeTimer.unref();
  }

  private async runProbe(): Promise<void> {
    try {
      await this.options.probe(this.closed.signal);
      // recordAnswer (called by the probe's request) stopped the loop.
    } catch (error) {
      if (this.closed.signal.aborted) return;
      this.lastError = error instanceof Error ? error.message : String(error);
    } finally {
      this.probeTimer = undefined;
    }
    if (this.state === 'down') this.scheduleProbe();
  }

  private stopProbing(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }
}
