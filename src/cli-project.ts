/**
 * Which project a one-shot command (index, search, status, eval) works on, and the workspace it opens
 * for it. A person at a shell is usually inside the repository they mean: the command takes the project
 * that contains the current directory before the last one set, and always says which one it took.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import type { SettingsInput } from '../indexer/workspace/project-settings.js';
import { resolveProjectPath } from '../indexer/workspace/project-path.js';
import type { ProjectState, Workspace } from '../indexer/workspace/workspace.js';
import { InvalidInputError } from '../models/errors/codecarto-error.js';
import { CLI_NEXT_STEPS, shellWord } from './cli-next-steps.js';
import { loadConfig, trustingFlags } from './config.js';
import { openWorkspace } from './open-workspace.js';
import { CliLog } from './progress-line.js';

/** How the project was chosen: --project or a path argument, CODECARTO_PROJECT, the current directory, or the last one set. */
export type ProjectSource = 'argument' | 'environment' | 'cwd' | 'last';

export interface CliProject {
  root: string;
  source: ProjectSource;
}

export interface ProjectChoice {
  /** --project, or the path argument of index and eval (relative to `cwd`, or `~/`-relative). */
  explicit?: string;
  /** CODECARTO_PROJECT. */
  env?: string;
  cwd: string;
  /** Projects with a data directory under $CODECARTO_HOME (Workspace.knownProjects()). */
  known: readonly { project: string; current: boolean }[];
  /** search and status need an index: a path in no known project is an error. index and eval may start a new one. */
  mustBeKnown: boolean;
}

/**
 * An explicit path (--project or the argument) > CODECARTO_PROJECT > the known project whose root holds
 * the current directory (the deepest one, for nested projects) > the last one set > an error that says
 * how to start. For search and status an explicit path inside a known project means that project.
 */
export function resolveCliProject(choice: ProjectChoice): CliProject {
  const given = choice.explicit ?? choice.env;
  if (given !== undefined) {
    const source: ProjectSource = choice.explicit !== undefined ? 'argument' : 'environment';
    const path = resolveProjectPath(given.startsWith('~') || isAbsolute(given) ? given : resolve(choice.cwd, given));
    if (!choice.mustBeKnown) return { root: path, source };
    const known = deepestContaining(choice.known, path);
    if (!known) throw new InvalidInputError(`${path} has not been indexed: run \`codecarto index ${shellWord(path)}\` first.`);
    return { root: known, source };
  }
  const containing = deepestContaining(choice.known, choice.cwd);
  if (containing) return { root: containing, source: 'cwd' };
  const last = choice.known.find((p) => p.current);
  if (last) return { root: last.project, source: 'last' };
  throw new InvalidInputError(
    `No indexed project contains the current directory (${choice.cwd}) and none was indexed before: ` +
      "run `codecarto index <path>` with the repository's path first, or pass --project <path>.",
  );
}

/** The line a command prints first (on stderr), so output is never about an unnamed project. */
export function projectLine(project: CliProject): string {
  switch (project.source) {
    case 'environment':
      return `project: ${project.root} (from CODECARTO_PROJECT)`;
    case 'last':
      return `project: ${project.root} (the last one set: no indexed project contains the current directory; --project <path> picks another)`;
    default:
      return `project: ${project.root}`;
  }
}

/** index and eval take the project as their argument or as --project, not both. */
export function projectArgument(positional: string | undefined, flag: string | undefined): string | undefined {
  if (positional !== undefined && flag !== undefined) {
    throw new InvalidInputError(`Name the project once: either as the path argument (${positional}) or with --project (${flag}).`);
  }
  return positional ?? flag;
}

export interface CliProjectRun {
  workspace: Workspace;
  project: CliProject;
  /** The project's state after it was opened with the command's settings. */
  state: ProjectState;
  /** Where the workspace logs; it shows index progress (CliLog.showProgress) without mixing the two. */
  log: CliLog;
}

/**
 * Opens a workspace for one command (no watching: the process exits when done; CLI words in its
 * messages), chooses the project, says which on stderr, opens it and runs `fn`, closing everything after.
 * Commands that index (index, eval) make the project the last one set; search and status only look at it.
 */
export async function withCliProject<T>(
  request: { explicit?: string; mustBeKnown: boolean; settings?: SettingsInput; maxFiles?: number },
  fn: (run: CliProjectRun) => Promise<T>,
): Promise<T> {
  // The command's own flags are the person's: a key variable and endpoints they name may be used together.
  const config = trustingFlags(loadConfig(), request.settings ?? {});
  const log = new CliLog();
  const workspace = openWorkspace({ ...config, watch: 'off' }, { steps: CLI_NEXT_STEPS, rememberCurrent: !request.mustBeKnown, log: log.write });
  try {
    const project = resolveCliProject({
      explicit: request.explicit,
      env: config.project,
      cwd: process.cwd(),
      known: workspace.knownProjects(),
      mustBeKnown: request.mustBeKnown,
    });
    process.stderr.write(`${projectLine(project)}\n`);
    const state = await workspace.setProject(project.root, request.settings ?? {}, { maxFiles: request.maxFiles });
    return await fn({ workspace, project, state, log });
  } finally {
    await workspace.close();
  }
}

/** The deepest root in `known` that is `dir` or holds it, comparing real paths too (a symlinked checkout). */
function deepestContaining(known: readonly { project: string }[], dir: string): string | undefined {
  const realDir = realOrSelf(dir);
  let best: { root: string; depth: number } | undefined;
  for (const { project } of known) {
    const realRoot = realOrSelf(project);
    const depth = within(project, dir) ? project.length : within(realRoot, realDir) ? realRoot.length : -1;
    if (depth >= 0 && (!best || depth > best.depth)) best = { root: project, depth };
  }
  return best?.root;
}

function within(root: string, dir: string): boolean {
  return dir === root || dir.startsWith(root.endsWith(sep) ? root : root + sep);
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
