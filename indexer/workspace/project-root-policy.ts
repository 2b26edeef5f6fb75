/**
 * Which directories may be a project. set_project's path comes from an agent that may have read hostile
 * text: a system tree or a home directory would index (and hand back) files that are no repository's.
 * Checked on the real path, so a link such as /tmp/x -> /etc is judged by where it leads.
 */
import { realpathSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { parse, resolve, sep } from 'node:path';
import { InvalidInputError } from '../../models/errors/codecarto-error.js';

export interface ProjectRootPolicy {
  /** The user's home directory (refused, as are its parents); default os.homedir(). */
  homeDir?: string;
  /** $CODECARTO_HOME: codecarto's own data, refused with everything inside it. */
  dataHome?: string;
}

/** Refused with everything below them: kernel views, devices, configuration, boot files, logs. */
const SYSTEM_SUBTREES = [
  '/proc', '/sys', '/dev', '/etc', '/boot', '/run', '/lost+found',
  '/var/run', '/var/lock', '/var/log', '/var/cache', '/var/spool',
  '/private/etc', '/private/var/run', '/private/var/log', '/System', '/cores',
];

/** Refused themselves; a folder below them (/var/www/app, /opt/app, /tmp/x) may be a project. */
const SYSTEM_DIRECTORIES = [
  '/usr', '/usr/bin', '/usr/sbin', '/usr/lib', '/usr/lib32', '/usr/lib64', '/usr/libexec', '/usr/include',
  '/usr/share', '/usr/local', '/usr/src', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32',
  '/var', '/var/lib', '/var/tmp', '/var/mail', '/tmp', '/opt', '/srv', '/mnt', '/media', '/home', '/root',
  '/snap', '/nix', '/nix/store', '/private', '/private/var', '/private/tmp', '/Users', '/Volumes',
  '/Applications', '/Library',
];

const WHAT_A_PROJECT_IS =
  'A project is one repository\'s own directory (e.g. "/home/me/src/app"), not the file system root, a system directory, a home directory or a folder that holds them; pass the repository\'s directory.';

/** Throws InvalidInputError with a sentence on what a project is when `real` (a real path) may not be one. */
export function checkProjectRoot(given: string, real: string, policy: ProjectRootPolicy = {}): void {
  const why = refusal(real, policy);
  if (why) throw new InvalidInputError(`path "${given}"${given === real ? '' : ` (really ${real})`} is ${why}. ${WHAT_A_PROJECT_IS}`);
}

function refusal(real: string, policy: ProjectRootPolicy): string | null {
  if (parse(real).root === real) return 'the file system root';
  const subtree = SYSTEM_SUBTREES.find((tree) => isAtOrBelow(real, tree));
  if (subtree) return subtree === real ? 'a system directory' : `inside the system directory ${subtree}`;
  const home = realOrSame(policy.homeDir ?? homedir());
  if (real === home) return 'the home directory';
  if (isAtOrBelow(home, real)) return `a parent of the home directory ${home}`;
  if (policy.dataHome) {
    const data = realOrSame(policy.dataHome);
    if (isAtOrBelow(real, data)) return `codecarto's own data directory ($CODECARTO_HOME, ${data})`;
  }
  if (SYSTEM_DIRECTORIES.includes(real) || real === realOrSame(tmpdir())) return 'a system directory';
  return null;
}

function isAtOrBelow(path: string, tree: string): boolean {
  return path === tree || path.startsWith(tree.endsWith(sep) ? tree : tree + sep);
}

function realOrSame(path: string): string {
  try {
    return realpathSync.native(resolve(path));
  } catch {
    return resolve(path);
  }
}
