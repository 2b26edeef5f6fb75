import type { IndexSummary } from './index-summary.js';
import type { IndexStore, StoreCounts } from '../store/store-types.js';

/**
 * Sorts the chunks of one index run into the summary's chunk counts (their descriptions in indexSummarySchema, index-summary.ts),
 * so that when the run ends every chunk in the index is in exactly one of them. During the run it keeps
 * rough counts for progress; `finish` replaces them with exact ones read from the store.
 */
export class ChunkTally {
  /** Texts whose vector this run stored (since the last time every vector was dropped). */
  private readonly embedded = new Set<string>();
  /** Chunks of rewritten files whose text had a vector from before the run, per text. */
  private readonly reused = new Map<string, number>();
  /** Chunks of added or changed files. */
  private written = 0;

  constructor(private readonly summary: IndexSummary) {}

  /** A chunk of an added or changed file was stored. `queued`: its text was queued now (false: already queued or in flight). */
  stored(textHash: string, outcome: 'no-provider' | 'has-vector' | { queued: boolean }): void {
    this.written++;
    if (outcome === 'no-provider') return;
    if (outcome === 'has-vector' && !this.embedded.has(textHash)) {
      this.reused.set(textHash, (this.reused.get(textHash) ?? 0) + 1);
      this.summary.chunks_reused++;
    } else if (outcome === 'has-vector' || !outcome.queued) {
      // Its text is identical to one this run embedded or is embedding.
      this.summary.chunks_shared++;
    }
  }

  /** Vectors of these texts were stored by this run. */
  vectorsStored(textHashes: Iterable<string>): void {
    for (const hash of textHashes) this.embedded.add(hash);
  }

  /** Every vector was dropped (another model's vectors): nothing stored before counts as reused or embedded. */
  vectorsDropped(): void {
    this.embedded.clear();
    this.reused.clear();
    this.summary.chunks_reused = 0;
  }

  /** Sets the exact counts once the run has ended; `counts` is the store's after the run. */
  finish(store: IndexStore, counts: StoreCounts, embeds: boolean): void {
    const s = this.summary;
    s.chunks_total = counts.chunks;
    if (!embeds) {
      s.chunks_embedded = s.chunks_shared = s.chunks_reused = 0;
      s.chunks_unembedded = this.written;
      s.chunks_unchanged = counts.chunks - this.written;
      return;
    }
    // A text stored by this run that a chunk still uses has its vector; one no chunk uses is left out.
    const ofEmbedded = store.countChunksOfTexts([...this.embedded]);
    s.chunks_embedded = ofEmbedded.texts;
    s.chunks_shared = ofEmbedded.chunks - ofEmbedded.texts;
    s.chunks_reused = 0;
    for (const [hash, n] of this.reused) if (!this.embedded.has(hash)) s.chunks_reused += n;
    s.chunks_unembedded = counts.chunks - counts.chunksWithVectors;
    // The remaining chunks with a vector from before the run are those of files this run did not rewrite.
    s.chunks_unchanged = counts.chunksWithVectors - ofEmbedded.chunks - s.chunks_reused;
  }
}
