/**
 * How the surface that reads a message (the MCP tools, the command line) names the actions the message
 * asks for. The workspace and the searcher compose their errors and notes with it, so an agent reads
 * "call `index`" and a person at a shell reads "run `codecarto index <path>`", from the same code.
 * Phrases are lower-case clauses meant for the middle of a sentence.
 */
export interface NextSteps {
  /** What to do when no project is chosen, e.g. "call `set_project` with the path of the repository". */
  chooseProject(): string;
  /** How to (re-)index the project at `root`, e.g. "call `index`". */
  index(root: string): string;
  /** How to bring `root`'s index up to date before a search. */
  refresh(root: string): string;
  /** Where to look after a failed run. */
  status(root: string): string;
  /** A setting by its set_project / search argument name (dgx_endpoint, mode, ...). */
  option(name: string): string;
  /** A setting and the values to pick from, e.g. `provider "dgx" or "onnx"`. */
  choices(name: string, values: readonly string[]): string;
}

/** Words for an agent calling the MCP tools (DESIGN.md names them). */
export const MCP_NEXT_STEPS: NextSteps = {
  chooseProject: () => 'call `set_project` with the path of the repository',
  index: () => 'call `index`',
  refresh: () => 'call `index` (or search with refresh: true)',
  status: () => 'see `status`',
  option: (name) => name,
  choices: (name, values) => `${name} ${orList(values.map((v) => JSON.stringify(v)))}`,
};

/** "a", "a or b", "a, b or c". */
export function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
