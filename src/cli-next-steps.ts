import { orList, type NextSteps } from '../indexer/workspace/next-steps.js';

/** Words for a person at a shell: the commands and flags of the `codecarto` CLI. */
export const CLI_NEXT_STEPS: NextSteps = {
  chooseProject: () => "run `codecarto index <path>` with the repository's path",
  index: (root) => `run \`codecarto index${root ? ` ${shellWord(root)}` : ''}\``,
  refresh: (root) => `run \`codecarto index${root ? ` ${shellWord(root)}` : ''}\` (or search with --refresh)`,
  status: () => 'see `codecarto status`',
  option: (name) => flag(name),
  choices: (name, values) => `${flag(name)} ${orList(values)}`,
};

/** set_project's dgx_endpoint is the CLI's --dgx-endpoint. */
function flag(name: string): string {
  return `--${name.replace(/_/g, '-')}`;
}

/** A path as one word a shell reads back unchanged. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
