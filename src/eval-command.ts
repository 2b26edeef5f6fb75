/**
 * `codecarto eval [<path>]` (default: the project chosen as in cli-project.ts): brings the project's index
 * up to date with the working tree, then measures search quality on queries mined from its git history
 * (indexer/eval/). Progress goes to stderr; the table (or, with --json, one JSON line) to stdout.
 */
import { parseArgs } from 'node:util';
import { commitsToRead, DEFAULT_EVAL_QUERIES } from '../indexer/history/commit-miner.js';
import { readGitHistory } from '../indexer/history/git-history.js';
import { EVAL_MODES, runEval, type EvalMode, type EvalReport } from '../indexer/eval/run-eval.js';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { projectArgument, withCliProject } from './cli-project.js';
import { PROVIDER_OPTIONS, settingsFromFlags } from './provider-options.js';

export const EVAL_USAGE =
  'codecarto eval [<path> | --project <path>] [--provider ...] [--dgx-endpoint <url>] [--model <dir|name>] [--modes grep,lexical,semantic,hybrid] [--queries 200] [--k 10] [--json]';

export async function evalCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...PROVIDER_OPTIONS,
      project: { type: 'string' },
      modes: { type: 'string' },
      queries: { type: 'string' },
      k: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length > 1) throw new CodecartoError(`Usage: ${EVAL_USAGE}`);
  const settings = settingsFromFlags(values);
  const modes = values.modes === undefined ? undefined : parseModes(values.modes);
  const queries = wholeNumber('--queries', values.queries, DEFAULT_EVAL_QUERIES, 1, 10_000);
  const k = wholeNumber('--k', values.k, 10, 1, 100);
  const explicit = projectArgument(positionals[0], values.project);

  // Eval checks out history into its own trees and exits: the workspace watches nothing.
  return withCliProject({ explicit, mustBeKnown: false, settings }, async ({ workspace, state, log }) => {
    const controller = new AbortController();
    const cancel = () => controller.abort();
    process.once('SIGINT', cancel);
    try {
      // Before indexing, so a directory without git history fails at once.
      const history = await readGitHistory(state.project, { maxCommits: commitsToRead(queries), signal: controller.signal });
      // Incremental, so it costs little when the index is current, and it makes "the index of the
      // working tree" true (and embeds everything when there is no index yet or the provider changed).
      process.stderr.write('Bringing the index up to date with the working tree...\n');
      const job = await workspace.startIndex({});
      controller.signal.addEventListener('abort', () => job.cancel(), { once: true });
      const progress = log.showProgress(job);
      const summary = await job.done;
      progress.finish(summary);
      if (summary.state !== 'done') {
        throw new CodecartoError(`Indexing ${summary.state}${summary.error ? `: ${summary.error}` : ''}; eval needs a complete index.`);
      }
      process.stderr.write(
        `Index: ${summary.files_scanned} files scanned (${summary.files_added} added, ${summary.files_changed} changed, ${summary.files_removed} removed), ` +
          `${summary.chunks_embedded} chunks embedded, ${summary.seconds.toFixed(1)} s.\n`,
      );
      const project = await workspace.current();
      const target = { root: project.root, store: project.store, embedder: project.embedder, search: workspace.search.bind(workspace) };
      const report = await runEval(target, {
        history,
        modes,
        queries,
        k,
        signal: controller.signal,
        log: (message) => process.stderr.write(`${message}\n`),
      });
      process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatEvalReport(report)}\n`);
      return 0;
    } finally {
      process.off('SIGINT', cancel);
    }
  });
}

function parseModes(text: string): EvalMode[] {
  const modes = text.split(',').map((m) => m.trim()).filter((m) => m.length > 0);
  const unknown = modes.filter((m) => !EVAL_MODES.includes(m as EvalMode));
  if (modes.length === 0 || unknown.length > 0) {
    throw new CodecartoError(`--modes takes a comma-separated list of ${EVAL_MODES.join(', ')}${unknown.length ? ` (not "${unknown.join('", "')}")` : ''}.`);
  }
  return modes as EvalMode[];
}

function wholeNumber(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new CodecartoError(`${name} must be a whole number from ${min} to ${max}.`);
  return value;
}

/** The table: one row per mode, rates to 3 decimals, then the modes that could not run and why. */
export function formatEvalReport(report: EvalReport): string {
  const k = report.k;
  const header = ['mode', 'queries', 'recall@1', `recall@${k}`, `MRR@${k}`, `fn recall@${k}`, `fn MRR@${k}`, 'seconds'];
  // Function figures are over the queries with function answers; grep ranks files only ("-").
  const rate = (value: number | null) => (value === null ? '-' : value.toFixed(3));
  const rows = EVAL_MODES.flatMap((mode) => {
    const m = report.modes[mode];
    return m
      ? [[mode, String(m.queries), m.recall_at_1.toFixed(3), m.recall_at_k.toFixed(3), m.mrr_at_k.toFixed(3), rate(m.function_recall_at_k), rate(m.function_mrr_at_k), m.seconds.toFixed(1)]]
      : [];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const lines = [
    `Search quality on ${report.project}, measured against the index of the working tree (${report.index_files} files; history read at HEAD ${report.head.slice(0, 12)}).`,
    `Queries: subjects of ${report.queries} of the last ${report.commits_scanned} commits; answers: the indexed source files each changed.`,
    `Function answers (fn columns, over ${report.function_queries} queries): the functions each commit changed, as defined in the working tree; a hit counts when its lines hold one's first line.`,
    '',
    line(header),
    ...rows.map(line),
  ];
  for (const [mode, reason] of Object.entries(report.unavailable)) lines.push(`${mode}: not measured: ${reason}.`);
  const fusion = report.fusion;
  if (fusion?.method === 'calibrated') {
    lines.push(
      `hybrid: semantic list weighted ${fusion.semantic_weight} in the rank fusion, calibrated on ${fusion.queries} older commits ` +
        `(MRR@10 there: lexical ${fusion.mrr_at_10?.lexical}, semantic ${fusion.mrr_at_10?.semantic}).`,
    );
    if (report.queries > fusion.held_out_newest) {
      lines.push(`Note: queries beyond the newest ${fusion.held_out_newest} were also calibration queries; use --queries ${fusion.held_out_newest} or fewer for a held-out measure.`);
    }
  } else if (fusion) {
    lines.push(`hybrid: plain rank fusion (not calibrated: ${fusion.reason}).`);
  }
  return lines.join('\n');
}
