import { InvalidInputError } from '../../models/errors/codecarto-error.js';
import { canonicalLanguage, LANGUAGE_NAMES } from '../chunk/languages.js';

/**
 * search's `language` names as the index stores them (aliases such as py, ts, golang, c++ resolved), or an
 * InvalidInputError that lists the accepted names: an unknown name would otherwise filter out everything.
 */
export function languageFilter(names: readonly string[]): string[] {
  const resolved = names.map((name) => ({ name, language: canonicalLanguage(name) }));
  const unknown = resolved.filter((r) => r.language === null).map((r) => JSON.stringify(r.name));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `Unknown language ${unknown.join(', ')}. Accepted: ${LANGUAGE_NAMES.join(', ')}; ` +
        'file extensions and common names work too (py, ts, js, rs, golang, c++, c#, rb, kt, sh).',
    );
  }
  return [...new Set(resolved.map((r) => r.language!))];
}
