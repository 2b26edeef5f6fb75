/**
 * A long function is cut into several chunks, and the piece that matches a question is often not the first:
 * the hit then starts mid-body and the agent does not see which function it is in. Such a piece gets the
 * pieces before it back, so its hit starts at the signature (docs/quality.md, "Ranking for plain-word
 * questions", step e). Pieces are found by chunk id: a file's chunks are stored in line order with
 * consecutive ids, and a piece continues the chunk before it when both are the same function or method.
 */
import type { ChunkRow, IndexStore } from '../store/store-types.js';

const CALLABLE_KINDS: ReadonlySet<string> = new Set(['function', 'method']);
/** Pieces walked back at most per hit: bounds the lookups and the hit's length for a very long function. */
const MAX_HEAD_PIECES = 8;
/** Lines between two pieces of one definition (blank lines the chunker left out) filled with empty lines, at most. */
const MAX_GAP_LINES = 3;

function continues(piece: ChunkRow, before: ChunkRow | undefined): before is ChunkRow {
  return (
    before !== undefined &&
    before.path === piece.path &&
    before.symbol !== null &&
    before.symbol === piece.symbol &&
    before.kind === piece.kind &&
    before.endLine < piece.startLine &&
    piece.startLine - before.endLine - 1 <= MAX_GAP_LINES
  );
}

/** `scored` with every later piece of a function or method extended back to the definition's first line (text joined, gaps blank). */
export function withDefinitionHeads<T extends { row: ChunkRow }>(store: IndexStore, scored: T[]): T[] {
  const byId = new Map<number, ChunkRow>(scored.map((s) => [s.row.id, s.row]));
  // Each callable row's current head (the earliest piece found so far), walked back one piece per round.
  const heads = new Map<number, ChunkRow[]>();
  let open = scored.filter((s) => CALLABLE_KINDS.has(s.row.kind)).map((s) => s.row);
  for (const row of open) heads.set(row.id, [row]);
  for (let round = 0; round < MAX_HEAD_PIECES && open.length > 0; round++) {
    const wanted = open.map((row) => heads.get(row.id)![0].id - 1).filter((id) => id > 0 && !byId.has(id));
    for (const row of store.getChunks([...new Set(wanted)])) byId.set(row.id, row);
    open = open.filter((row) => {
      const pieces = heads.get(row.id)!;
      const before = byId.get(pieces[0].id - 1);
      if (!continues(pieces[0], before)) return false;
      pieces.unshift(before);
      return true;
    });
  }
  return scored.map((s) => {
    const pieces = heads.get(s.row.id);
    if (!pieces || pieces.length === 1) return s;
    const lines: string[] = [];
    for (let i = 0; i < pieces.length; i++) {
      if (i > 0) for (let gap = pieces[i - 1].endLine + 1; gap < pieces[i].startLine; gap++) lines.push('');
      lines.push(pieces[i].text);
    }
    return { ...s, row: { ...s.row, startLine: pieces[0].startLine, text: lines.join('\n') } };
  });
}
