/** `codecarto index [<path>]`: indexes a project (incrementally unless --full), with progress on stderr. */
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_FILES, MAX_FILES_CEILING } from '../indexer/walk/file-limit.js';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { formatSummary } from '../tools/index-project.js';
import { formatProjectState } from '../tools/project-state-format.js';
import { projectArgument, withCliProject } from './cli-project.js';
import { PROVIDER_OPTIONS, settingsFromFlags } from './provider-options.js';

export async function indexCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...PROVIDER_OPTIONS, project: { type: 'string' }, full: { type: 'boolean' }, json: { type: 'boolean' }, 'max-files': { type: 'string' } },
  });
  if (positionals.length > 1) throw new CodecartoError('Usage: codecarto index [<path>] [--provider ...] [--full] [--json]');
  const settings = settingsFromFlags(values);
  const maxFiles = values['max-files'] === undefined ? undefined : Number(values['max-files']);
  if (maxFiles !== undefined && (!Number.isInteger(maxFiles) || maxFiles < 1 || maxFiles > MAX_FILES_CEILING)) {
    throw new CodecartoError(`--max-files must be a whole number from 1 to ${MAX_FILES_CEILING} (the most files this project may hold; default ${DEFAULT_MAX_FILES}).`);
  }
  return withCliProject({ explicit: projectArgument(positionals[0], values.project), mustBeKnown: false, settings, maxFiles }, async ({ workspace, project, log }) => {
    const job = await workspace.startIndex({ full: values.full });
    const progress = log.showProgress(job);
    const cancel = () => job.cancel();
    process.once('SIGINT', cancel);
    const summary = await job.done;
    process.off('SIGINT', cancel);
    progress.finish(summary);
    // The state after the run: its notes are about the index as it now is (provider, staleness, watching).
    if (!values.json) process.stderr.write(`${formatProjectState(await workspace.projectState())}\n`);
    process.stdout.write(values.json ? `${JSON.stringify({ project: project.root, ...summary })}\n` : `${formatSummary(summary)}\n`);
    return summary.state === 'done' ? 0 : 1;
  });
}
