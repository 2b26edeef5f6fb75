import { COUNT_BUDGET_MS, countFilesUpTo, DEFAULT_MAX_FILES, MAX_FILES_CEILING } from '../walk/file-limit.js';
import { TooManyFilesError } from '../walk/walker.js';
import type { NextSteps } from './next-steps.js';

export interface ProjectFileLimit {
  max: number;
  /** What to say when a tree passes `max`. */
  advice: string;
}

/** A project's file limit: its own max_files, else the server's (CODECARTO_MAX_FILES), else DEFAULT_MAX_FILES. */
export function projectFileLimit(own: number | undefined, server: number | undefined, steps: NextSteps): ProjectFileLimit {
  return {
    max: own ?? server ?? DEFAULT_MAX_FILES,
    advice:
      "a project is one repository's directory, and a tree this big rarely is one (pass the repository's own directory). " +
      `If it is one, raise the limit: ${steps.option('max_files')} (up to ${MAX_FILES_CEILING.toLocaleString('en-US')}) for this project, ` +
      'or CODECARTO_MAX_FILES where the server starts.',
  };
}

/** Counts a new project's files for a moment; a tree over its limit is refused now rather than after an index run's walk. */
export async function refuseTooManyFiles(root: string, limit: ProjectFileLimit): Promise<void> {
  const { count } = await countFilesUpTo(root, limit.max, COUNT_BUDGET_MS);
  if (count > limit.max) throw new TooManyFilesError(root, limit.max, limit.advice);
}
