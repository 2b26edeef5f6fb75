/**
 * The CPU-heavy half of indexing one file: read it, decide whether it changed, parse, chunk, count
 * tokens and hash the chunks. A pure function of the file and the tokenizer, with plain-data input and
 * output, so it runs the same on the main thread or in a worker (indexer/prepare/file-preparer.ts).
 */
import { createHash } from 'node:crypto';
import type { TextTokenizer } from '../../models/tokenizer.js';
import { embeddingText, type Chunk } from '../chunk/chunk.js';
import { chunkFileWithSymbols } from '../chunk/chunk-file.js';
import { withoutLines, type FileSymbols } from '../chunk/file-symbols.js';
import { readSourceFile } from './file-reader.js';
import { chunkHasSecret, scanForSecrets } from './secrets/secret-scanner.js';
import type { ChunkInput } from '../store/store-types.js';

export interface PrepareTask {
  /** Repository-relative path. */
  path: string;
  absPath: string;
  language: string;
  /** Token budget per chunk. */
  maxTokens: number;
  maxFileBytes?: number;
  /** Content hash of the indexed version; equal content is reported unchanged without chunking. */
  knownHash?: string;
}

/** A chunk ready for the store, with the chunker's token count of its embedding text. */
export type PreparedChunk = ChunkInput & Pick<Chunk, 'tokens'>;

export type PreparedFile =
  | { kind: 'skipped'; reason: string; detail?: string }
  | { kind: 'unchanged'; size: number; mtimeMs: number }
  | {
      kind: 'chunked';
      size: number;
      mtimeMs: number;
      hash: string;
      chunks: PreparedChunk[];
      /** Chunks left out because they hold a secret (never stored, embedded or searchable). */
      secretChunks?: number;
      /** Ids of the rules that found those secrets, for the log; never the secrets themselves. */
      secretRules?: string[];
      /** Definitions and identifier occurrences from the chunker's parse; null when the file was not parsed. Lines of chunks left out for a secret are left out here too. */
      symbols: FileSymbols | null;
    };

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export async function prepareFile(task: PrepareTask, tokenizer: TextTokenizer): Promise<PreparedFile> {
  const read = await readSourceFile(task.absPath, { maxFileBytes: task.maxFileBytes });
  if (read.kind === 'skipped') return { kind: 'skipped', reason: read.reason, detail: read.detail };
  if (task.knownHash !== undefined && task.knownHash === read.hash) return { kind: 'unchanged', size: read.size, mtimeMs: read.mtimeMs };
  // Before anything leaves this function: key material and credential files go whole, a stray token
  // takes only its chunks with it (a long source file keeps the rest of its code searchable).
  const secrets = scanForSecrets(read.text, task.path);
  const whole = secrets.find((f) => f.scope === 'file');
  if (whole) return { kind: 'skipped', reason: 'secret', detail: `${whole.ruleId} at line ${whole.startLine}` };
  const cut = await chunkFileWithSymbols({ path: task.path, text: read.text, language: task.language }, { maxTokens: task.maxTokens, tokenizer });
  const all = cut.chunks;
  const chunks = secrets.length === 0 ? all : all.filter((chunk) => !chunkHasSecret(chunk, secrets));
  const symbols = cut.symbols && chunks.length < all.length ? withoutLines(cut.symbols, droppedLines(all, chunks)) : cut.symbols;
  return {
    kind: 'chunked',
    size: read.size,
    mtimeMs: read.mtimeMs,
    hash: read.hash,
    symbols,
    chunks: chunks.map((chunk) => {
      const embedText = embeddingText(chunk);
      return {
        language: chunk.language,
        symbol: chunk.symbol,
        kind: chunk.kind,
        startLine: chunk.startLine,
        endLine: chunk.endLine,
        text: chunk.text,
        // Keyed by what is embedded, header included: a renamed file's chunks get vectors of their new path.
        textHash: sha256(embedText),
        embedText,
        tokens: chunk.tokens,
      };
    }),
    ...(secrets.length > 0 ? { secretChunks: all.length - chunks.length, secretRules: [...new Set(secrets.map((f) => f.ruleId))] } : {}),
  };
}

/** Lines of chunks left out for holding a secret (a long line cut into several chunks goes if any of them does). */
function droppedLines(all: readonly { startLine: number; endLine: number }[], kept: readonly { startLine: number; endLine: number }[]): (line: number) => boolean {
  const keptSet = new Set(kept);
  const dropped = new Set<number>();
  for (const chunk of all) if (!keptSet.has(chunk)) for (let line = chunk.startLine; line <= chunk.endLine; line++) dropped.add(line);
  return (line) => dropped.has(line);
}
