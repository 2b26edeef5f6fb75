import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../models/errors/model-load-error.js';
import { formatQueryInstruction, loadModelDir, parseModelManifest } from '../models/model-manifest.js';

const valid = {
  id: 'nvidia/NV-Embed-v2',
  dims: 4096,
  max_tokens: 4096,
  query_instruction: 'Instruct: {task}\nQuery: ',
  default_task: 'Given a code search query, retrieve relevant code snippets that answer the query',
  inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', pool_mask: 'pool_mask' },
  output: 'embedding',
  add_bos: true,
  add_eos: true,
};

describe('codecarto.json model manifest', () => {
  const root = mkdtempSync(join(tmpdir(), 'codecarto-manifest-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const modelDir = (files: Record<string, string>): string => {
    const dir = join(root, `m${n++}`);
    mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };

  it('loads a complete directory and fills defaults', () => {
    const dir = modelDir({ 'model.onnx': 'x', 'tokenizer.json': '{}', 'codecarto.json': JSON.stringify(valid) });
    const loaded = loadModelDir(dir);
    expect(loaded.modelPath).toBe(join(dir, 'model.onnx'));
    expect(loaded.tokenizerConfigPath).toBeUndefined();
    expect(loaded.manifest).toMatchObject({ ...valid, passage_prefix: '', pooling: 'none', normalize: true });
    expect(formatQueryInstruction(loaded.manifest)).toBe(
      'Instruct: Given a code search query, retrieve relevant code snippets that answer the query\nQuery: ',
    );
    expect(formatQueryInstruction(loaded.manifest, 'Find tests')).toBe('Instruct: Find tests\nQuery: ');
  });

  it('keeps unknown keys (forward-compatible)', () => {
    const manifest = parseModelManifest({ ...valid, precision: 'bf16', inputs: { ...valid.inputs, extra: 'x' } });
    expect((manifest as Record<string, unknown>).precision).toBe('bf16');
    expect((manifest.inputs as Record<string, unknown>).extra).toBe('x');
  });

  it('names every missing file and what to do', () => {
    const dir = modelDir({ 'codecarto.json': JSON.stringify(valid) });
    expect(() => loadModelDir(dir)).toThrow(ModelLoadError);
    expect(() => loadModelDir(dir)).toThrow(/missing model\.onnx \(export .*\), tokenizer\.json \(copy it from/);
    const noManifest = modelDir({ 'model.onnx': 'x', 'tokenizer.json': '{}' });
    expect(() => loadModelDir(noManifest)).toThrow(/missing codecarto\.json \(write the manifest/);
  });

  it('says when the directory does not exist or is a file', () => {
    expect(() => loadModelDir(join(root, 'absent'))).toThrow(/absent does not exist\. Pass a directory holding model\.onnx/);
    const file = join(root, 'file.onnx');
    writeFileSync(file, 'x');
    expect(() => loadModelDir(file)).toThrow(/is a file, not a model directory/);
  });

  it('rejects broken JSON', () => {
    const dir = modelDir({ 'model.onnx': 'x', 'tokenizer.json': '{}', 'codecarto.json': '{"dims": 4096,' });
    expect(() => loadModelDir(dir)).toThrow(/codecarto\.json is not valid JSON/);
  });

  it('names each invalid field', () => {
    const { output: _output, ...noOutput } = valid;
    const dir = modelDir({
      'model.onnx': 'x',
      'tokenizer.json': '{}',
      'codecarto.json': JSON.stringify({ ...noOutput, dims: -3, pooling: 'max', inputs: { input_ids: 'input_ids' } }),
    });
    let error: unknown;
    try {
      loadModelDir(dir);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ModelLoadError);
    const message = (error as Error).message;
    expect(message).toMatch(/not a valid codecarto model manifest/);
    for (const field of ['dims', 'output', 'pooling', 'inputs.attention_mask']) expect(message).toContain(`${field}:`);
  });

  it('requires default_task when the instruction has a {task} placeholder', () => {
    expect(() => parseModelManifest({ ...valid, default_task: undefined })).toThrow(/default_task: query_instruction has a \{task\} placeholder/);
  });
});
