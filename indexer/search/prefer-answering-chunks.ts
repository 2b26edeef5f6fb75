/**
 * Which of a file's hits is shown first. A class, struct or module chunk whose docstring or comments
 * mention a question's words usually scores above the method that does the work (its prose is dense with
 * the words), but the agent wants the method. Files keep their places and their number of hits; only the
 * order of each file's own hits changes (docs/quality.md, "Ranking for plain-word questions", step d).
 */
import { porterStem } from '../store/porter-stem.js';
import { queryTerms, tokenText } from '../store/fts-tokens.js';

/** Chunk kinds that declare a type or module rather than run code. */
const DECLARATION_KINDS: ReadonlySet<string> = new Set(['class', 'struct', 'enum', 'interface', 'type', 'trait', 'impl', 'module']);

/** Within its file, a declaration that meets some of the query's words only in its comments counts this much. */
export const DOC_ONLY_DECLARATION_FACTOR = 0.5;

/** Block comments, docstrings and line comments of the languages chunked by syntax (a rough cut: strings that look like comments go too). */
const COMMENTS = /\/\*[\s\S]*?\*\/|"""[\s\S]*?"""|'''[\s\S]*?'''|\/\/[^\n]*|#[^\n]*/g;

function stemsOf(text: string): Set<string> {
  // Distinct tokens first: a chunk repeats its identifiers many times.
  return new Set([...new Set(tokenText(text).split(' '))].map(porterStem));
}

/** Whether some of the query's stems that the text holds appear only in its comments and docstrings. */
export function mentionsOnlyInComments(text: string, queryStems: ReadonlySet<string>): boolean {
  const all = stemsOf(text);
  const code = stemsOf(text.replace(COMMENTS, ' '));
  let inAll = 0;
  let inCode = 0;
  for (const stem of queryStems) {
    if (all.has(stem)) inAll++;
    if (code.has(stem)) inCode++;
  }
  return inCode < inAll;
}

/** `hits` (each file's best first, as rankHits and fuseHits order them) with each file's own hits re-ordered. */
export function preferAnsweringChunks<H extends { path: string; kind: string; score: number; snippet: string }>(hits: H[], query: string): H[] {
  const queryStems = new Set(queryTerms(query).map(porterStem));
  const key = (hit: H) =>
    DECLARATION_KINDS.has(hit.kind) && hit.score > 0 && mentionsOnlyInComments(hit.snippet, queryStems) ? hit.score * DOC_ONLY_DECLARATION_FACTOR : hit.score;
  const byFile = new Map<string, { hit: H; key: number; index: number }[]>();
  hits.forEach((hit, index) => {
    const list = byFile.get(hit.path);
    const entry = { hit, key: key(hit), index };
    if (list) list.push(entry);
    else byFile.set(hit.path, [entry]);
  });
  for (const list of byFile.values()) list.sort((a, b) => b.key - a.key || a.index - b.index);
  const taken = new Map<string, number>();
  const ordered = hits.map((hit) => {
    const n = taken.get(hit.path) ?? 0;
    taken.set(hit.path, n + 1);
    return { entry: byFile.get(hit.path)![n], nth: n };
  });
  return promoteStrongSecondHits(ordered).map((o) => o.entry.hit);
}

/**
 * A file's second hit comes before a later file's first hit when it counts at least this many times as
 * much: the best file's second definition is then shown rather than a far weaker file (docs/quality.md,
 * "Ranking for plain-word questions", step g). Files keep their order; the list just names fewer of them.
 */
export const STRONG_SECOND_HIT_FACTOR = 1.3;

/**
 * Only the first hits an agent reads are taken by a second hit, and only one: each promotion pushes the
 * answer's last file out of it, which cost the history eval's recall@10 when any place could be taken.
 */
const PROMOTE_WITHIN = 3;

/** `ordered` is every file's first hit, then every file's second, and so on (diversifyByFile's order). */
function promoteStrongSecondHits<O extends { entry: { hit: { path: string }; key: number }; nth: number }>(ordered: O[]): O[] {
  const seconds = ordered.filter((o) => o.nth === 1);
  const out: O[] = [];
  const promoted = new Set<O>();
  const shownFiles = new Set<string>();
  for (const first of ordered.filter((o) => o.nth === 0)) {
    for (const second of seconds) {
      const strong = second.entry.key > 0 && second.entry.key >= STRONG_SECOND_HIT_FACTOR * first.entry.key;
      if (strong && out.length < PROMOTE_WITHIN && promoted.size === 0 && !promoted.has(second) && shownFiles.has(second.entry.hit.path)) {
        out.push(second);
        promoted.add(second);
      }
    }
    out.push(first);
    shownFiles.add(first.entry.hit.path);
  }
  for (const o of ordered) if (o.nth !== 0 && !promoted.has(o)) out.push(o);
  return out;
}
