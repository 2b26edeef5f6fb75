/**
 * Index progress on stderr for the one-shot commands. ProgressLine turns where a run is
 * (indexer/run/index-progress.ts) and the time into one line; ProgressDisplay writes it: on a terminal a
 * bar redrawn every second (so the clock runs while nothing else moves), elsewhere (a pipe, a log file,
 * CI) one plain line every few seconds and a last line at the end.
 */
import { INDEX_PHASES, type IndexProgress } from '../indexer/run/index-progress.js';
import type { IndexJob } from '../indexer/run/index-job.js';
import type { IndexSummary } from '../indexer/run/index-summary.js';

const BAR_WIDTH = 24;
/** Seconds between plain lines: often enough to see a run is alive, rare enough for a log. */
export const PLAIN_EVERY_MS = 5_000;
/** A terminal bar is redrawn this often without events, and at most this often... */
const TICK_MS = 1_000;
/** ...plus on events, but not more often than this. */
const REDRAW_MIN_MS = 100;

/** m:ss, or h:mm:ss from an hour on. */
export function formatClock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const s = String(total % 60).padStart(2, '0');
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * Renders a run's progress. It remembers what it has shown: the phase never goes back, and within a
 * phase the bar never shrinks (totals grow while a run goes on: files found, texts queued), it holds
 * still until the work catches up.
 */
export class ProgressLine {
  private phase = 0;
  private shown = 0;

  constructor(private readonly startedAt: number) {}

  /** The line for `progress` at `now` (epoch ms): with a bar for a terminal, plain words for a log. */
  render(progress: Readonly<IndexProgress>, now: number, style: 'bar' | 'plain'): string {
    const phase = Math.max(this.phase, INDEX_PHASES.indexOf(progress.phase));
    if (phase !== this.phase) {
      this.phase = phase;
      this.shown = 0;
    }
    const { label, counts, fraction } = describe(INDEX_PHASES[phase], progress);
    if (fraction !== null) this.shown = Math.max(this.shown, Math.min(1, fraction));
    const clock = formatClock(now - this.startedAt);
    const waiting = progress.waiting ? `waiting ${formatClock(now - progress.waiting.since)} for ${progress.waiting.what}` : null;
    if (style === 'bar') {
      const filled = Math.round(this.shown * BAR_WIDTH);
      const bar = fraction === null ? '' : ` [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
      return `${label}${bar}${counts ? ` ${counts}` : ''} | ${clock}${waiting ? ` | ${waiting}` : ''}`;
    }
    const percent = fraction === null ? '' : ` (${Math.floor(this.shown * 100)}%)`;
    return `indexing: ${label}${counts ? ` ${counts}` : ''}${percent}, ${clock} elapsed${waiting ? `; ${waiting}` : ''}`;
  }
}

function describe(phase: IndexProgress['phase'], p: Readonly<IndexProgress>): { label: string; counts: string; fraction: number | null } {
  switch (phase) {
    case 'reading': {
      // The walk's total is known once it has seen the whole tree (or counted it first): a count until then.
      const files = p.files_total === null ? `${p.files_done} files` : `${Math.min(p.files_done, p.files_total)}/${p.files_total} files`;
      const chunks = p.embeds && p.chunks_to_embed > 0 ? `, ${p.chunks_embedded}/${p.chunks_to_embed} chunks embedded` : '';
      return { label: 'reading files', counts: files + chunks, fraction: p.files_total === null ? null : ratio(p.files_done, p.files_total) };
    }
    case 'embedding':
      return { label: 'embedding', counts: `${p.chunks_embedded}/${p.chunks_to_embed} chunks`, fraction: ratio(p.chunks_embedded, p.chunks_to_embed) };
    case 'calibrating':
      return { label: 'calibrating hybrid search on the history', counts: '', fraction: null };
    case 'finished':
      return { label: 'finishing', counts: '', fraction: null };
  }
}

/** done/total, and complete when there is nothing to do. */
function ratio(done: number, total: number): number {
  return total > 0 ? Math.min(1, done / total) : 1;
}

/** The last line, for a terminal and a log alike. */
export function finalLine(summary: Readonly<IndexSummary>, elapsedMs: number): string {
  const clock = formatClock(elapsedMs);
  if (summary.state === 'cancelled') return `indexing: cancelled after ${clock}`;
  if (summary.state === 'failed') return `indexing: failed after ${clock}`;
  const embedded = summary.chunks_embedded > 0 ? `, ${summary.chunks_embedded} chunks embedded` : '';
  return `indexing: done in ${clock}: ${summary.files_scanned} files read${embedded}`;
}

/** Where the display writes (process.stderr). */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  /** Terminal width: a line longer than it would wrap and break the redraw. */
  columns?: number;
}

export interface ProgressDisplayOptions {
  out: ProgressOutput;
  /** When the run started (epoch ms), for the clock. */
  startedAt: number;
  /** Where the run is now; pulled on every tick so waits show their time growing. */
  read: () => Readonly<IndexProgress>;
  now?: () => number;
  /** Runs `fn` every `ms`; returns a stop function (tests tick by hand). */
  every?: (ms: number, fn: () => void) => () => void;
}

/** Writes the progress of one run to a terminal (a redrawn bar) or to a log (plain lines). */
export class ProgressDisplay {
  private readonly line: ProgressLine;
  private readonly now: () => number;
  private readonly tty: boolean;
  private stop: (() => void) | null = null;
  private lastWrite = -Infinity;

  constructor(private readonly options: ProgressDisplayOptions) {
    this.line = new ProgressLine(options.startedAt);
    this.now = options.now ?? Date.now;
    this.tty = options.out.isTTY === true;
  }

  /** Shows the first line and starts the clock. */
  start(): void {
    this.tick();
    const every = this.options.every ?? defaultEvery;
    this.stop = every(TICK_MS, () => this.tick());
  }

  /** Something moved: a terminal redraws now (at most every REDRAW_MIN_MS); a log waits for its next line. */
  changed(): void {
    if (this.tty && this.now() - this.lastWrite >= REDRAW_MIN_MS) this.tick();
  }

  /** A clock tick: a terminal redraws; a log gets a line when PLAIN_EVERY_MS have passed since the last. */
  tick(): void {
    const now = this.now();
    if (!this.tty && now - this.lastWrite < PLAIN_EVERY_MS) return;
    this.lastWrite = now;
    const text = this.line.render(this.options.read(), now, this.tty ? 'bar' : 'plain');
    if (!this.tty) {
      this.options.out.write(`${text}\n`);
      return;
    }
    const columns = this.options.out.columns;
    const width = (columns !== undefined && columns >= 20 ? columns : 80) - 1;
    // \r and erase-to-end-of-line: the new line replaces the old one, shorter or not.
    this.options.out.write(`\r${text.length > width ? `${text.slice(0, width - 1)}…` : text}\x1b[K`);
  }

  /** Writes a whole line (a log message) where a terminal's bar is, then redraws the bar under it. */
  above(text: string): void {
    if (!this.tty) {
      this.options.out.write(`${text}\n`);
      return;
    }
    this.options.out.write(`\r${text}\x1b[K\n`);
    this.lastWrite = -Infinity;
    if (this.stop) this.tick();
  }

  /** Stops the clock and writes the last line. */
  finish(summary: Readonly<IndexSummary>): void {
    this.stop?.();
    this.stop = null;
    const last = finalLine(summary, this.now() - this.options.startedAt);
    this.options.out.write(this.tty ? `\r${last}\x1b[K\n` : `${last}\n`);
  }
}

/**
 * The command's log on stderr ("[codecarto] ..." lines, as logger.ts writes them). While a progress
 * display runs on the same stream, lines go through it, so a message never lands in the middle of a bar.
 */
export class CliLog {
  private display: ProgressDisplay | null = null;

  constructor(private readonly out: ProgressOutput = process.stderr) {}

  readonly write = (message: string): void => {
    const line = `[codecarto] ${message}`;
    if (this.display) this.display.above(line);
    else this.out.write(`${line}\n`);
  };

  /** Shows `job`'s progress until `finish` is called with its summary. */
  showProgress(job: IndexJob): { finish: (summary: Readonly<IndexSummary>) => void } {
    const display = new ProgressDisplay({ out: this.out, startedAt: job.startedAt, read: () => job.progress });
    display.start();
    this.display = display;
    const unsubscribe = job.onProgress(() => display.changed());
    return {
      finish: (summary) => {
        unsubscribe();
        this.display = null;
        display.finish(summary);
      },
    };
  }
}

function defaultEvery(ms: number, fn: () => void): () => void {
  const timer = setInterval(fn, ms);
  // The clock must not keep a finished command alive.
  timer.unref();
  return () => clearInterval(timer);
}
