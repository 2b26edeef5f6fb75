/** `codecarto status`: the state and provider health of the project that holds the current directory (or --project). */
import { parseArgs } from 'node:util';
import { formatProjectState } from '../tools/project-state-format.js';
import { withCliProject } from './cli-project.js';

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { project: { type: 'string' }, json: { type: 'boolean' } } });
  return withCliProject({ explicit: values.project, mustBeKnown: true }, async ({ workspace }) => {
    const { state, health } = await workspace.projectStatus();
    // --json keeps its health fields as they have been (executionProvider only when an ONNX model runs).
    const jsonHealth = { ok: health.ok, detail: health.detail, ...(health.execution_provider !== null ? { executionProvider: health.execution_provider } : {}) };
    if (values.json) process.stdout.write(`${JSON.stringify({ ...state, health: jsonHealth })}\n`);
    else process.stdout.write(`${formatProjectState(state)}\nProvider health: ${health.ok ? 'ok' : 'PROBLEM'}: ${health.detail}\n`);
    return 0;
  });
}
