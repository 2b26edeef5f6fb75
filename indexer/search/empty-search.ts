import type { FileRecord, IndexStore } from '../store/store-types.js';
import { queryTerms } from '../store/fts-tokens.js';
import type { NextSteps } from '../workspace/next-steps.js';
import { languageFilter } from './language-filter.js';
import { globList, pathGlobMatcher } from './path-glob.js';
import type { SearchMode, SearchRequest } from './search.js';

/** Why a search found nothing; the search tool's structured `reason`. */
export const EMPTY_REASONS = ['not_indexed', 'path_glob_matches_no_file', 'language_matches_no_file', 'no_match'] as const;
export type EmptyReason = (typeof EMPTY_REASONS)[number];

export interface EmptySearch {
  reason: EmptyReason;
  /** What happened and what to do, in the words of the surface's NextSteps. */
  message: string;
}

/** Indexed languages named in a message, most files first. */
const LANGUAGES_LISTED = 8;

/**
 * Why `request` found nothing in `store`, checked from the outside in: nothing indexed, a path_glob that
 * matches no indexed file (with an indexed path to copy), languages no indexed file (under the glob) is
 * in, else the query itself. Reads the file list, so call it only for empty answers.
 */
export function explainEmptySearch(
  store: IndexStore,
  request: SearchRequest,
  context: { steps: NextSteps; root: string; indexing: boolean; mode: SearchMode },
): EmptySearch {
  const { steps, root } = context;
  const files = [...store.listFiles().values()];
  if (files.length === 0) {
    return {
      reason: 'not_indexed',
      message: context.indexing
        ? 'Nothing is indexed yet: the first index run has not stored any file. Search again in a moment.'
        : `Nothing is indexed for this project yet: ${steps.index(root)} first, then search again.`,
    };
  }
  const globs = globList(request.pathGlob);
  const inGlob = pathGlobMatcher(globs);
  const candidates = inGlob ? files.filter((f) => inGlob(f.path)) : files;
  if (candidates.length === 0) {
    // The usual mistake is an absolute path: say what the glob is relative to, and what it would be.
    const relative = globs.map((g) => (root !== '' && g.startsWith(`${root}/`) ? g.slice(root.length + 1) : g.replace(/^\/+/, '')));
    const absolute = relative.some((g, i) => g !== globs[i]);
    const fixed = absolute && pathGlobMatcher(relative) ? files.find((f) => pathGlobMatcher(relative)!(f.path)) : undefined;
    return {
      reason: 'path_glob_matches_no_file',
      message:
        `${steps.option('path_glob')} ${globs.map((g) => JSON.stringify(g)).join(', ')} matches none of the ${files.length} indexed files. ` +
        (absolute ? 'Globs are relative to the project root, without a leading /' : '') +
        (fixed ? `: ${relative.map((g) => JSON.stringify(g)).join(', ')} matches. ` : absolute ? '. ' : '') +
        `An indexed path: ${JSON.stringify(fixed?.path ?? examplePath(files, relative))}.`,
    };
  }
  if (request.language?.length) {
    const wanted = new Set(languageFilter(request.language));
    if (!candidates.some((f) => wanted.has(f.language))) {
      return {
        reason: 'language_matches_no_file',
        message:
          `No indexed file${inGlob ? ` matching ${steps.option('path_glob')}` : ''} is in ${[...wanted].join(', ')}. ` +
          `Indexed languages: ${languageCounts(candidates)}.`,
      };
    }
  }
  const filtered = inGlob || request.language?.length ? ' within the filters' : '';
  if (queryTerms(request.query).length === 0 || context.mode === 'lexical') {
    return {
      reason: 'no_match',
      message:
        `No indexed code${filtered} contains a word of the query (lexical search matches words and parts of identifiers). ` +
        'Try other words or an identifier from the code, or widen the filters.',
    };
  }
  return { reason: 'no_match', message: `No indexed code${filtered} matched the query. Try other words or widen the filters.` };
}

/** "python (120 files), markdown (31), ..." for the languages of `files`, most files first. */
function languageCounts(files: readonly FileRecord[]): string {
  const counts = new Map<string, number>();
  for (const f of files) counts.set(f.language, (counts.get(f.language) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = ranked.slice(0, LANGUAGES_LISTED).map(([language, n], i) => `${language} (${n}${i === 0 ? ' files' : ''})`);
  return ranked.length > LANGUAGES_LISTED ? `${shown.join(', ')} and ${ranked.length - LANGUAGES_LISTED} more` : shown.join(', ');
}

/**
 * An indexed path that shows how paths look, close to what the glob meant: the glob's extension first,
 * then its first directory, then a file of the project's main language inside a directory, then the
 * shortest path.
 */
export function examplePath(files: readonly FileRecord[], globs: readonly string[]): string {
  const extensions = new Set(globs.flatMap((g) => /\.([\w+-]+)$/.exec(g)?.[1].toLowerCase() ?? []));
  const directories = new Set(globs.flatMap((g) => /^\/?([^*?[{/]+)\//.exec(g)?.[1] ?? []));
  const perLanguage = new Map<string, number>();
  for (const f of files) perLanguage.set(f.language, (perLanguage.get(f.language) ?? 0) + 1);
  const mainLanguage = [...perLanguage].sort((a, b) => b[1] - a[1])[0]?.[0];
  const score = ({ path, language }: FileRecord) => {
    const ext = /\.([\w+-]+)$/.exec(path)?.[1].toLowerCase();
    return (ext && extensions.has(ext) ? 8 : 0) + (directories.has(path.split('/')[0]) ? 4 : 0) + (language === mainLanguage ? 2 : 0) + (path.includes('/') ? 1 : 0);
  };
  let best = files[0];
  for (const file of files) {
    const better = score(file) - score(best) || best.path.length - file.path.length || (file.path < best.path ? 1 : file.path > best.path ? -1 : 0);
    if (better > 0) best = file;
  }
  return best.path;
}
