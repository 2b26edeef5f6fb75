import { describe, expect, it } from 'vitest';
import { mergeAdjacent, reciprocalRankFusion, RRF_K } from '../indexer/search/search.js';
import type { ChunkRow } from '../indexer/store/store-types.js';

const row = (id: number, path: string, startLine: number, endLine: number, text = `chunk ${id}`): ChunkRow => ({
  id,
  path,
  language: 'typescript',
  symbol: `s${id}`,
  kind: 'function',
  startLine,
  endLine,
  textHash: `h${id}`,
  text,
});

describe('reciprocal rank fusion', () => {
  it('scores 1/(k+rank) summed over lists, best first', () => {
    const fused = reciprocalRankFusion(
      [
        [{ chunkId: 1, score: 9 }, { chunkId: 2, score: 8 }],
        [{ chunkId: 2, score: 0.9 }, { chunkId: 3, score: 0.8 }],
      ],
      60,
    );
    expect(fused.map((f) => f.chunkId)).toEqual([2, 1, 3]);
    expect(fused[0].score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[1].score).toBeCloseTo(1 / 61, 12);
    expect(fused[2].score).toBeCloseTo(1 / 62, 12);
  });

  it('uses k = RRF_K (60, as DESIGN.md fixes it) by default', () => {
    expect(RRF_K).toBe(60);
    const fused = reciprocalRankFusion([[{ chunkId: 1, score: 9 }], [{ chunkId: 1, score: 0.9 }]]);
    expect(fused[0].score).toBeCloseTo(2 / 61, 12);
  });

  it('breaks ties by chunk id so results are deterministic', () => {
    const fused = reciprocalRankFusion([[{ chunkId: 7, score: 1 }], [{ chunkId: 3, score: 1 }]]);
    expect(fused.map((f) => f.chunkId)).toEqual([3, 7]);
  });
});

describe('merging hits', () => {
  it('merges touching chunks of one file into one hit with the best score and ordered text', () => {
    const hits = mergeAdjacent([
      { row: row(2, 'a.ts', 11, 20, 'second'), score: 0.9 },
      { row: row(9, 'b.ts', 1, 5), score: 0.8 },
      { row: row(1, 'a.ts', 1, 10, 'first'), score: 0.5 },
      { row: row(3, 'a.ts', 40, 50, 'far'), score: 0.4 },
    ]);
    expect(hits.map((h) => [h.path, h.start_line, h.end_line, h.score])).toEqual([
      ['a.ts', 1, 20, 0.9],
      ['b.ts', 1, 5, 0.8],
      ['a.ts', 40, 50, 0.4],
    ]);
    expect(hits[0].snippet).toBe('first\nsecond');
    expect(hits[0].symbol).toBe('s2');
  });

  it('keeps the whole code of a hit, each line once, so an answer can show the matching lines past its top', () => {
    const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`).join('\n');
    // Two chunks that share lines 150-160 (the chunker can emit such a pair): the shared lines appear once.
    const [hit] = mergeAdjacent([
      { row: row(1, 'a.ts', 1, 160, lines(1, 160)), score: 0.9 },
      { row: row(2, 'a.ts', 150, 200, lines(150, 200)), score: 0.5 },
    ]);
    expect(hit.snippet).toBe(lines(1, 200));
  });
});
