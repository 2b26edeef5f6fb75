/** A piece of a source file cut along syntax boundaries; lines are 1-based and inclusive. */
export interface Chunk {
  /** Repository-relative path with forward slashes. */
  path: string;
  language: string;
  /** Qualified symbol such as `Router.handle`, or null for top-level blocks and text windows. */
  symbol: string | null;
  /** "function" | "method" | "class" | "interface" | "type" | "module" | "block" | "section" | "lines" ... */
  kind: string;
  startLine: number;
  endLine: number;
  /** The chunk's own source text (a class chunk holds its header and fields, not its methods' bodies). */
  text: string;
  /**
   * Tokens of embeddingText(chunk) with the model's tokenizer, summed per line (within a few percent of
   * encoding the whole text, and free: the chunker counted them to size the chunk). The batch planner uses it.
   */
  tokens?: number;
}

/** The one-line header the embedder sees before a chunk's code: where it lives and what it is. */
export function embeddingHeader(chunk: Pick<Chunk, 'path' | 'symbol'>): string {
  return chunk.symbol ? `${chunk.path}: ${chunk.symbol}` : chunk.path;
}

/** The text sent to the embedder for a chunk. */
export function embeddingText(chunk: Pick<Chunk, 'path' | 'symbol' | 'text'>): string {
  return `${embeddingHeader(chunk)}\n${chunk.text}`;
}
