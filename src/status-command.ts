/** `codecarto status`: the state and provider health of the project that holds the current directory (or --project). */
import { parseArgs } from 'node:util';
import { formatProjectState } from '../tools/project-state-format.js';
import { withCliProject } from './cli-project.js';

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { project: { type: 'string' }, json: { type: 'boolean' } } });
  return withCliProject({ explicit: values.project, mustBeKnown: true }, async ({ workspace }) => {
    const { open, state } = await workspace.status();
    const health = await open.embedder.health(AbortSignal.timeout(10_000));
    if (values.json) process.stdout.write(`${JSON.stringify({ ...state, health })}\n`);
    else process.stdout.write(`${formatProjectState(state)}\nProvider health: ${health.ok ? 'ok' : 'PROBLEM'}: ${health.detail}\n`);
    return 0;
  });
}
