/** Counts and encodes text the way a model sees it. Implementations must be deterministic. */
export interface TextTokenizer {
  /** Identifies the vocabulary, e.g. "mistral-7b" or a tokenizer.json content hash. */
  readonly id: string;
  /** Token ids for `text`, without special tokens (BOS/EOS are the embedder's business). */
  encode(text: string): number[];
  /** Same as `encode(text).length`, possibly cheaper. */
  count(text: string): number;
  /**
   * The files this tokenizer was loaded from, when it can be rebuilt from them: a worker thread then
   * loads its own copy (tokenizers hold closures and cannot cross threads). Absent: in-process only.
   */
  readonly files?: TokenizerFiles;
}

export interface TokenizerFiles {
  tokenizerJson: string;
  tokenizerConfig?: string;
}
