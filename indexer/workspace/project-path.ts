import { accessSync, constants as fsConstants, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { InvalidInputError } from '../../models/errors/codecarto-error.js';
import { checkProjectRoot, type ProjectRootPolicy } from './project-root-policy.js';

/**
 * Absolute or `~`-relative; must be an existing, readable directory that may be a project (judged on its
 * real path by `policy`, see project-root-policy.ts). Returns the path as given, resolved but not
 * de-linked, since it keys the project's data directory.
 */
export function resolveProjectPath(path: string, policy: ProjectRootPolicy = {}): string {
  const trimmed = path.trim();
  if (!trimmed) throw new InvalidInputError('path is empty: pass the absolute path of a repository directory, e.g. "/home/me/src/app".');
  const expanded = trimmed === '~' ? homedir() : trimmed.startsWith('~/') ? join(homedir(), trimmed.slice(2)) : trimmed;
  if (!isAbsolute(expanded)) {
    throw new InvalidInputError(`path "${path}" is relative: pass an absolute path (or one starting with ~/), e.g. "/home/me/src/app".`);
  }
  const root = resolve(expanded);
  let stats;
  try {
    stats = statSync(root);
  } catch {
    throw new InvalidInputError(`path "${root}" does not exist: pass the absolute path of an existing repository directory.`);
  }
  if (!stats.isDirectory()) {
    throw new InvalidInputError(`path "${root}" is a file, not a directory: pass the repository's root directory.`);
  }
  checkProjectRoot(root, realpathSync.native(root), policy);
  try {
    accessSync(root, fsConstants.R_OK | fsConstants.X_OK);
  } catch {
    throw new InvalidInputError(`path "${root}" is not readable by this process: check its permissions.`);
  }
  return root;
}
