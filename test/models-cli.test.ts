import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from './helpers/fake-hub.js';
import { makeShapeModel } from './helpers/shape-models.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

const run = promisify(execFile);

/** The built CLI (dist/, as `npm test` builds it) against the fake hub: the commands a laptop user types. */
describe('codecarto models pull / list', () => {
  let hub: FakeHub;
  beforeAll(async () => {
    const model = makeShapeModel({ output: 'pooled', dims: 32 });
    hub = await FakeHub.start({
      repos: {
        'acme/st-model': {
          'onnx/model.onnx': model.onnx,
          'tokenizer.json': model.tokenizerJson,
          'sentence_bert_config.json': JSON.stringify({ max_seq_length: 128 }),
        },
      },
    });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('pulls a hub repository into CODECARTO_HOME and lists it beside the known models', async () => {
    const env = { ...process.env, CODECARTO_HOME: tempDir('home'), HF_ENDPOINT: hub.endpoint };
    const pulled = await run(process.execPath, [cliPath, 'models', 'pull', 'acme/st-model'], { env });
    expect(pulled.stdout).toMatch(/Installed st-model in .*: 32 dims, pooling none, max 128 tokens/);
    expect(pulled.stdout).toContain('provider: "onnx", model: "st-model"');
    expect(pulled.stderr).toMatch(/onnx\/model.onnx: \d+ bytes; verified size \d+ \(hub\), sha256 \(hub ETag\)/);

    const listed = JSON.parse((await run(process.execPath, [cliPath, 'models', 'list', '--json'], { env })).stdout);
    expect(listed.installed.map((m: { name: string }) => m.name)).toEqual(['st-model']);
    expect(listed.known.map((m: { name: string }) => m.name)).toContain('all-minilm-l6-v2');
    expect(listed.known.find((m: { name: string }) => m.name === 'nv-embed-v2').pullable).toBe(false);
  });

  it('exits 1 with advice when the hub is unreachable', async () => {
    const env = { ...process.env, CODECARTO_HOME: tempDir('home'), HF_ENDPOINT: 'http://127.0.0.1:9' };
    const failed = await run(process.execPath, [cliPath, 'models', 'pull', 'all-minilm-l6-v2'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/Cannot reach the Hugging Face hub at http:\/\/127.0.0.1:9 .*HF_ENDPOINT/);
  });
});
