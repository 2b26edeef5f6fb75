import picomatch from 'picomatch';

/** search's `path_glob` as a list (it takes one glob or several). */
export function globList(pathGlob: string | string[] | undefined): string[] {
  return pathGlob === undefined ? [] : Array.isArray(pathGlob) ? pathGlob : [pathGlob];
}

/** Whether a repository-relative path matches any of `globs`; undefined when there are none. */
export function pathGlobMatcher(globs: readonly string[]): ((path: string) => boolean) | undefined {
  if (globs.length === 0) return undefined;
  // A glob without a slash matches at any depth, as in .gitignore ("*.ts" finds src/a.ts).
  const matchers = globs.map((g) => picomatch(g, { dot: true, basename: !g.includes('/') }));
  return (path: string) => matchers.some((m) => m(path));
}
