import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModelDir } from '../models/model-dir-report.js';
import { makeTestModel } from '../models/test-model.js';
import { formatDoctorReport, runDoctor, type DoctorReport } from '../src/doctor.js';
import { probeEndpoint } from '../src/doctor-endpoint.js';
import { detectGpu } from '../src/doctor-gpu.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { cliPath } from './helpers/stdio-client.js';

/** A port on which nothing listens: bound, then closed. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Moves the embedding table of a generated model into an external data file, as large exports store weights. */
function moveWeightsToExternalFile(dir: string, file: string): void {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
  const table = model.graph!.initializer!.find((t) => t.name === 'embed_tokens')!;
  const data = table.rawData!;
  writeFileSync(join(dir, file), data);
  table.externalData = [
    { key: 'location', value: file },
    { key: 'offset', value: '0' },
    { key: 'length', value: String(data.length) },
  ];
  table.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  table.rawData = new Uint8Array(0);
  writeFileSync(join(dir, 'model.onnx'), onnx.ModelProto.encode(model).finish());
}

// This machine (and CI) has onnxruntime-node's CPU-only binaries and no NVIDIA GPU.
const hasGpu = detectGpu().visible;

describe('codecarto doctor', () => {
  const root = mkdtempSync(join(tmpdir(), 'codecarto-doctor-'));
  const modelDir = join(root, 'model');
  let server: FakeEmbeddingServer;
  let report: DoctorReport;
  let doctorMs = 0;

  beforeAll(async () => {
    ort.env.logLevel = 'fatal'; // as the CLI does: the report carries the errors onnxruntime would also log
    server = await FakeEmbeddingServer.start({ dims: 4096 });
    await makeTestModel(modelDir, { hidden: 16, dims: 64 });
    const started = performance.now();
    report = await runDoctor({ modelDir, dgxEndpoint: server.endpoint });
    doctorMs = performance.now() - started;
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('reports platform, onnxruntime and every execution provider, really tried', () => {
    console.log(`doctor (in process): ${doctorMs.toFixed(0)} ms`);
    expect(report.platform).toBe(process.platform);
    expect(report.arch).toBe(process.arch);
    expect(report.node).toBe(process.version);
    expect(report.onnxruntime.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(report.onnxruntime.binaries).toContain(join('bin', 'napi-v6', process.platform, process.arch));
    expect(report.execution_providers.map((p) => p.name)).toEqual(['cpu', 'cuda', 'tensorrt']);
    const cpu = report.execution_providers[0];
    expect(cpu).toMatchObject({ available: true, listed: true });
    expect(cpu.reason).toMatch(/ran a test model on cpu/);
  });

  it.runIf(!hasGpu)('says plainly that CUDA is unavailable here and why', () => {
    const cuda = report.execution_providers.find((p) => p.name === 'cuda')!;
    expect(cuda.available).toBe(false);
    // onnxruntime's own error, then which libraries are missing and what to do.
    expect(cuda.reason).toMatch(/Failed to load shared library/);
    expect(cuda.reason).toMatch(/libonnxruntime_providers_cuda\.so/);
    expect(cuda.reason).toMatch(/docs\/gb10\.md/);
    expect(report.verdict).toMatch(/^CUDA is unavailable here \(.*shared library/);
    expect(report.gpu).toMatchObject({ visible: false, devices: [] });
    expect(report.gpu.detail).toMatch(/nvidia-smi/);
  });

  it('checks the model directory: manifest, tokenizer, graph inputs', () => {
    expect(report.model).toMatchObject({
      ok: true,
      source: '--model',
      problems: [],
      manifest: { dims: 64, max_tokens: 4096, output: 'embedding', add_bos: true, add_eos: true },
      tokenizer: { vocab_size: 32000, bos_token_id: 1, eos_token_id: 2, config: true },
      external_data: [],
      reference: false,
      verify: null,
    });
    expect(report.model!.manifest!.inputs).toEqual({ input_ids: 'input_ids', attention_mask: 'attention_mask', pool_mask: 'pool_mask' });
  });

  it('reports an endpoint that answers, with its vector size', () => {
    expect(report.dgx_endpoint).toMatchObject({ url: server.endpoint, ok: true, status: 200, dims: 4096, source: '--dgx-endpoint' });
    expect(server.requests.at(-1)!.texts).toHaveLength(1);
    expect(report.ok).toBe(true);
  });

  it('reports a refused port quickly, as a problem, without throwing', async () => {
    const url = `http://127.0.0.1:${await refusedPort()}/embed`;
    const started = performance.now();
    const endpoint = await probeEndpoint(url, { timeoutMs: 2_000 });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(endpoint).toMatchObject({ url, ok: false, status: null, dims: null });
    expect(endpoint.detail).toMatch(/connection refused/);
  });

  it('sends the bearer token, and says so when one is needed', async () => {
    const guarded = await FakeEmbeddingServer.start({ dims: 8, apiKey: 'sesame' });
    try {
      expect(await probeEndpoint(guarded.endpoint, { apiKey: 'sesame' })).toMatchObject({ ok: true, dims: 8 });
      const refused = await probeEndpoint(guarded.endpoint);
      expect(refused).toMatchObject({ ok: false, status: 401 });
      expect(refused.detail).toMatch(/--api-key-env/);
    } finally {
      await guarded.close();
    }
  });

  it('reports an endpoint that answers HTTP 500 and one that stalls past the timeout', async () => {
    server.respondNext({ status: 500, body: JSON.stringify({ detail: 'CUDA out of memory' }) });
    const failed = await probeEndpoint(server.endpoint);
    expect(failed).toMatchObject({ ok: false, status: 500 });
    expect(failed.detail).toMatch(/HTTP 500.*CUDA out of memory/);
    server.setFaults({ stallMs: 3_000 });
    const stalled = await probeEndpoint(server.endpoint, { timeoutMs: 300 });
    server.setFaults({});
    expect(stalled).toMatchObject({ ok: false, status: null });
    expect(stalled.detail).toMatch(/no answer .* within 300 ms/);
  });

  it('finds a wrong input name, a truncated and a missing external weights file', async () => {
    const broken = join(root, 'broken');
    await makeTestModel(broken, { hidden: 8, dims: 16 });
    moveWeightsToExternalFile(broken, 'weights.bin');
    const good = inspectModelDir(broken);
    expect(good.problems).toEqual([]);
    expect(good.external_data).toEqual([{ file: 'weights.bin', present: true, bytes: 32000 * 8 * 2, needed_bytes: 32000 * 8 * 2 }]);

    truncateSync(join(broken, 'weights.bin'), 1000);
    const truncated = inspectModelDir(broken);
    expect(truncated.problems.join(' ')).toMatch(/weights\.bin has 1000 bytes but the graph needs 512000: the copy is truncated/);
    rmSync(join(broken, 'weights.bin'));
    const manifest = JSON.parse(readFileSync(join(broken, 'codecarto.json'), 'utf8')) as { inputs: Record<string, string> };
    manifest.inputs.pool_mask = 'instruction_mask';
    writeFileSync(join(broken, 'codecarto.json'), JSON.stringify(manifest));
    const missing = inspectModelDir(broken);
    expect(missing.ok).toBe(false);
    expect(missing.problems.join(' ')).toMatch(/weights file weights\.bin .* is missing/);
    expect(missing.problems.join(' ')).toMatch(/input pool_mask "instruction_mask"/);

    const absent = inspectModelDir(join(root, 'nope'));
    expect(absent).toMatchObject({ ok: false, manifest: null });
    expect(absent.problems[0]).toMatch(/does not exist/);
  });

  it('prints one JSON object with --json and a readable report without', async () => {
    const url = `http://127.0.0.1:${await refusedPort()}/embed`;
    const env = { ...process.env, CODECARTO_HOME: join(root, 'home') };
    const json = spawnSync(process.execPath, [cliPath, 'doctor', '--json', '--dgx-endpoint', url, '--timeout', '2'], { encoding: 'utf8', env });
    expect(json.status).toBe(1); // the endpoint the user asked about is down
    const lines = json.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const parsed = JSON.parse(lines[0]) as DoctorReport;
    expect(Object.keys(parsed)).toEqual(['platform', 'arch', 'node', 'onnxruntime', 'execution_providers', 'gpu', 'model', 'dgx_endpoint', 'verdict', 'ok']);
    expect(parsed.dgx_endpoint).toMatchObject({ ok: false });
    expect(json.stderr).not.toMatch(/ONNXRuntimeError/); // onnxruntime's log noise is silenced; the report has the reason
    const human = spawnSync(process.execPath, [cliPath, 'doctor'], { encoding: 'utf8', env });
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^codecarto doctor: /);
    expect(human.stdout).toMatch(/cpu +available/);
    expect(human.stdout).toMatch(/\nVerdict: CUDA is /);
    if (!hasGpu) expect(human.stdout).toMatch(/cuda +NOT available +.*Failed to load shared library/);
    expect(formatDoctorReport(report)).toMatch(/DGX endpoint: .* ok: answered in \d+ ms with a 4096-dim vector/);
  });
});
