/** `codecarto index [<path>]`: indexes a project (incrementally unless --full), with progress on stderr. */
import { parseArgs } from 'node:util';
import type { IndexSummary } from '../indexer/index-summary.js';
import { CodecartoError } from '../models/errors.js';
import { formatSummary } from '../tools/index-project.js';
import { formatProjectState } from '../tools/project-state-format.js';
import { projectArgument, withCliProject } from './cli-project.js';
import { PROVIDER_OPTIONS, settingsFromFlags } from './provider-options.js';

export async function indexCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...PROVIDER_OPTIONS, project: { type: 'string' }, full: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  if (positionals.length > 1) throw new CodecartoError('Usage: codecarto index [<path>] [--provider ...] [--full] [--json]');
  const settings = settingsFromFlags(values);
  return withCliProject({ explicit: projectArgument(positionals[0], values.project), mustBeKnown: false, settings }, async ({ workspace, project }) => {
    const job = await workspace.startIndex({ full: values.full });
    const bar = process.stderr.isTTY ? progressBar() : null;
    const unsubscribe = job.onProgress((s) => bar?.(s));
    const cancel = () => job.cancel();
    process.once('SIGINT', cancel);
    const summary = await job.done;
    unsubscribe();
    process.off('SIGINT', cancel);
    if (bar) process.stderr.write('\n');
    // The state after the run: its notes are about the index as it now is (provider, staleness, watching).
    if (!values.json) process.stderr.write(`${formatProjectState((await workspace.status()).state)}\n`);
    process.stdout.write(values.json ? `${JSON.stringify({ project: project.root, ...summary })}\n` : `${formatSummary(summary)}\n`);
    return summary.state === 'done' ? 0 : 1;
  });
}

function progressBar(): (s: Readonly<IndexSummary>) => void {
  let last = 0;
  return (s) => {
    const now = Date.now();
    if (now - last < 100 && s.state === 'running') return;
    last = now;
    const total = s.chunks_embedded + s.chunks_pending;
    const fraction = total > 0 ? s.chunks_embedded / total : 0;
    const width = 30;
    const filled = Math.round(fraction * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    process.stderr.write(
      `\r${bar} ${s.files_scanned} files, ${s.chunks_embedded}/${total} chunks embedded, ${s.seconds.toFixed(0)} s   `,
    );
  };
}
