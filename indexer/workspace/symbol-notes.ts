/**
 * What an answer from the symbol table (find_symbol, references, outline) must say about the index it
 * came from: still being built, never built, or built before codecarto kept symbols.
 */
import { symbolTableState } from '../search/symbol-query.js';
import type { NextSteps } from './next-steps.js';
import { LAST_INDEXED_KEY, type OpenProject } from './open-project.js';

export interface SymbolAnswerContext {
  /** An index run is going: the answer covers the files indexed so far. */
  partial: boolean;
  notes: string[];
}

/** `problems`: the server's and the project's configuration problems (every answer repeats them). */
export function symbolAnswerContext(project: OpenProject, problems: readonly string[], steps: NextSteps): SymbolAnswerContext {
  const partial = project.job?.indexing ?? false;
  const notes = [...problems];
  if (partial) notes.push('Indexing is still running: this answer covers the files indexed so far.');
  else if (!project.store.getMeta(LAST_INDEXED_KEY) && symbolTableState(project.store) !== 'ready') notes.push(`Not indexed yet: ${steps.index(project.root)} first.`);
  else if (symbolTableState(project.store) !== 'ready') {
    notes.push(`This index was made before codecarto kept symbols, so it knows none or few: ${steps.index(project.root)} to fill the symbol table (nothing is re-embedded).`);
  }
  return { partial, notes };
}
