import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../models/errors/model-load-error.js';
import { HfTokenizer, loadMistralTokenizer, mistralTokenizerFiles } from '../models/hf-tokenizer.js';

describe('HfTokenizer over Mistral-7B (NV-Embed-v2) tokenizer.json', () => {
  const tokenizer = loadMistralTokenizer();
  const scratch = mkdtempSync(join(tmpdir(), 'codecarto-tok-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('gives the known Mistral ids, without special tokens', () => {
    // mistral-tokenizer-js documents encode("Hello world!") = [1, 22557, 1526, 28808] (1 = BOS).
    expect(tokenizer.encode('Hello world!')).toEqual([22557, 1526, 28808]);
    expect(tokenizer.encode('')).toEqual([]);
    expect(tokenizer.decode(tokenizer.encode('const x = foo(bar);'))).toBe('const x = foo(bar);');
  });

  it('knows BOS, EOS and the vocabulary size, and has no pad token', () => {
    expect(tokenizer.bosTokenId).toBe(1);
    expect(tokenizer.eosTokenId).toBe(2);
    expect(tokenizer.padTokenId).toBeUndefined();
    expect(tokenizer.vocabSize).toBe(32000);
  });

  it('count equals the encode length', () => {
    const samples = ['Hello world!', 'function add(a, b) {\n  return a + b;\n}\n', '  indented\tand\ttabbed  ', 'ünïcödé 🚀 中文', ''];
    for (const text of samples) expect(tokenizer.count(text)).toBe(tokenizer.encode(text).length);
  });

  it('has a content-hash id and loads once', () => {
    expect(tokenizer.id).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(loadMistralTokenizer()).toBe(tokenizer);
    const again = HfTokenizer.fromFiles(mistralTokenizerFiles().tokenizerJson);
    expect(again.id).toBe(tokenizer.id);
  });

  it('finds BOS/EOS among the added tokens when there is no tokenizer_config.json', () => {
    const bare = HfTokenizer.fromFiles(mistralTokenizerFiles().tokenizerJson, join(scratch, 'absent_config.json'));
    expect(bare.bosTokenId).toBe(1);
    expect(bare.eosTokenId).toBe(2);
    expect(bare.encode('Hello world!')).toEqual([22557, 1526, 28808]);
  });

  it('says which file is missing', () => {
    const path = join(scratch, 'nope', 'tokenizer.json');
    expect(() => HfTokenizer.fromFiles(path)).toThrow(ModelLoadError);
    expect(() => HfTokenizer.fromFiles(path)).toThrow(/tokenizer\.json not found at .*nope/);
  });
});
