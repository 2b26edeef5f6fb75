import { cosineSimilarity } from '../models/vector-math.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DgxEmbedder } from '../models/dgx-embedder.js';
import { OnnxEmbedder } from '../models/onnx-embedder.js';
import { OpenAIEmbedder } from '../models/openai-embedder.js';
import { makeTestModel } from '../models/test-model.js';
import { startEmbedServer, type RunningEmbedServer } from '../src/embed-server/embed-server.js';
import { VERSION } from '../src/version.js';
import { tempDir } from './helpers/stdio-client.js';

/**
 * `codecarto embed-server` in process: real HTTP on 127.0.0.1 (port 0), the generated NV-Embed-shaped
 * ONNX test model, and every vector checked against the same model embedding the same text directly.
 */

const TOKEN = 'test-token-3f9a';
const auth = { authorization: `Bearer ${TOKEN}` };
const TASK = 'Given a code search query, retrieve relevant code snippets that answer the query';


/** Code-like texts of varied lengths, different for every (client, i). */
function codeText(client: number, i: number): string {
  const lines = 1 + ((client * 7 + i * 5) % 23);
  const body = Array.from({ length: lines }, (_, l) => `  const value${client}_${i}_${l} = compute${l % 5}(input${client}, ${l * 3 + i});`);
  return `function handler${client}x${i}(input${client}) {\n${body.join('\n')}\n  return value${client}_${i}_0;\n}`;
}

describe('codecarto embed-server over HTTP with the onnx test model', () => {
  let modelDir: string;
  let server: RunningEmbedServer;
  let direct: OnnxEmbedder;
  let base: string;

  beforeAll(async () => {
    modelDir = join(tempDir('embed-model'), 'nv-embed-test');
    await makeTestModel(modelDir);
    server = await startEmbedServer({
      modelDir,
      port: 0,
      device: 'auto', // no GPU here: falls back to cpu, and /info must say so
      authToken: TOKEN,
      maxTextsPerRequest: 64,
      maxBodyBytes: 256 * 1024,
      tokenBudget: 4096,
    });
    base = server.url;
    direct = await OnnxEmbedder.create({ modelDir, device: 'cpu' });
  });

  afterAll(async () => {
    await server?.close();
    await direct?.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('binds 127.0.0.1 by default', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('POST /embed answers the seed protocol; "instruction" makes the texts queries (instruction out of pooling)', async () => {
    const texts = ['export function parseConfig(path) { return JSON.parse(read(path)); }', 'retry with backoff'];
    const res = await post('/embed', { texts });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { embeddings: number[][]; truncated: number[] };
    expect(body.embeddings).toHaveLength(2);
    expect(body.truncated).toEqual([]);
    const expected = (await direct.embed({ texts, purpose: 'passage' })).embeddings;
    body.embeddings.forEach((v, i) => {
      expect(v).toHaveLength(4096);
      expect(cosineSimilarity(v, expected[i])).toBeGreaterThanOrEqual(0.9999);
    });

    const asQuery = (await (await post('/embed', { texts: ['retry with backoff'], instruction: TASK })).json()) as { embeddings: number[][] };
    const directQuery = (await direct.embed({ texts: ['retry with backoff'], purpose: 'query' })).embeddings[0];
    expect(cosineSimilarity(asQuery.embeddings[0], directQuery)).toBeGreaterThanOrEqual(0.9999);
    // The instruction really changed the input: a query is not the passage of the same text...
    expect(cosineSimilarity(asQuery.embeddings[0], body.embeddings[1])).toBeLessThan(0.999);
    // ...and it was left out of pooling: pooling over it too gives another vector.
    const pooledWithInstruction = (await direct.embed({ texts: [`Instruct: ${TASK}\nQuery: retry with backoff`], purpose: 'passage' })).embeddings[0];
    expect(cosineSimilarity(asQuery.embeddings[0], pooledWithInstruction)).toBeLessThan(0.99);
  });

  it('POST /v1/embeddings is OpenAI-compatible: string or list input, index, usage, base64', async () => {
    const one = await post('/v1/embeddings', { input: 'hash a password', model: 'anything' });
    expect(one.status).toBe(200);
    const single = (await one.json()) as { object: string; data: { object: string; index: number; embedding: number[] }[]; model: string; usage: Record<string, number> };
    expect(single.object).toBe('list');
    expect(single.data).toHaveLength(1);
    expect(single.data[0]).toMatchObject({ object: 'embedding', index: 0 });
    expect(single.model).toBe('codecarto-test-model-v2/h256-d4096-s42');
    // BOS + tokens + EOS, as the model sees them.
    expect(single.usage.prompt_tokens).toBe(direct.tokenizer.encode('hash a password').length + 2);
    const norm = Math.hypot(...single.data[0].embedding);
    expect(norm).toBeCloseTo(1, 5);
    expect(single.usage.total_tokens).toBe(single.usage.prompt_tokens);

    const texts = ['alpha beta', 'class Parser { parse() {} }', ''];
    const listed = (await (await post('/v1/embeddings', { input: texts, encoding_format: 'base64' })).json()) as { data: { index: number; embedding: string }[] };
    const expected = (await direct.embed({ texts, purpose: 'passage' })).embeddings;
    expect(listed.data.map((d) => d.index)).toEqual([0, 1, 2]);
    listed.data.forEach((d, i) => {
      const bytes = Buffer.from(d.embedding, 'base64');
      const vector = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      expect(cosineSimilarity(vector, expected[i])).toBeGreaterThanOrEqual(0.9999);
    });
  });

  it('16+ concurrent clients get their own vectors, in order, from shared model runs', async () => {
    const clients = 20;
    const metricsBefore = await metricValues();
    const requests = Array.from({ length: clients }, (_, c) => {
      const texts = Array.from({ length: 1 + (c % 6) * 2 }, (_, i) => codeText(c, i));
      const instruction = c % 4 === 3 ? TASK : undefined;
      return { texts, instruction };
    });
    const started = performance.now();
    const answers = await Promise.all(
      requests.map(async (r) => {
        const res = await post('/embed', r);
        expect(res.status).toBe(200);
        return ((await res.json()) as { embeddings: number[][] }).embeddings;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const metricsAfter = await metricValues();

    for (let c = 0; c < clients; c++) {
      const { texts, instruction } = requests[c];
      const expected = (await direct.embed({ texts, purpose: instruction ? 'query' : 'passage' })).embeddings;
      expect(answers[c]).toHaveLength(texts.length);
      answers[c].forEach((v, i) => expect(cosineSimilarity(v, expected[i])).toBeGreaterThanOrEqual(0.9999));
    }
    // Distinct texts got distinct vectors (no answer went to the wrong client).
    expect(cosineSimilarity(answers[0][0], answers[1][0])).toBeLessThan(0.99);

    const delta = (name: string) => (metricsAfter.get(name) ?? 0) - (metricsBefore.get(name) ?? 0);
    const runs = delta('codecarto_embed_model_runs_total');
    const textsSent = requests.reduce((n, r) => n + r.texts.length, 0);
    const tokens = delta('codecarto_embed_tokens_total');
    expect(delta('codecarto_embed_texts_total')).toBe(textsSent);
    const pad = delta('codecarto_embed_padded_tokens_total') / tokens;
    // Each request padded on its own, as a server without cross-request batching would run it.
    let alonePadded = 0;
    let aloneReal = 0;
    for (const r of requests) {
      const counts = r.texts.map((t) => direct.prepareBatch([t], r.instruction ? 'query' : 'passage').tokenCounts[0]);
      alonePadded += counts.length * Math.max(...counts);
      aloneReal += counts.reduce((a, b) => a + b, 0);
    }
    console.error(
      `[embed-server] ${clients} concurrent clients, ${textsSent} texts, ${tokens} tokens in ${seconds.toFixed(2)} s ` +
        `(${(textsSent / seconds).toFixed(0)} texts/s, ${(tokens / seconds).toFixed(0)} tokens/s); ${runs} model runs; ` +
        `pad factor ${pad.toFixed(3)} across requests vs ${(alonePadded / aloneReal).toFixed(3)} per request alone`,
    );
    // Requests that arrive while the model runs share the next run: some run held texts of several requests.
    expect(delta('codecarto_embed_batch_requests_count') - delta('codecarto_embed_batch_requests_bucket{le="1"}')).toBeGreaterThan(0);
    expect(pad).toBeLessThan(alonePadded / aloneReal);
  });

  it('truncates texts over the model maximum, says which, and embeds their first max_tokens tokens', async () => {
    const long = 'const answer = compute(value) + 1;\n'.repeat(1500); // ~18k tokens, limit 4096
    const res = await post('/embed', { texts: ['short one', long] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-codecarto-truncated')).toBe('1');
    const body = (await res.json()) as { embeddings: number[][]; truncated: number[] };
    expect(body.truncated).toEqual([1]);
    const expected = (await direct.embed({ texts: [long], purpose: 'passage' })).embeddings[0];
    expect(cosineSimilarity(body.embeddings[1], expected)).toBeGreaterThanOrEqual(0.9999);
  });

  it('answers malformed requests with 400, oversized ones with 413, and unauthorized ones with 401', async () => {
    expect((await post('/embed', '{"texts": [')).status).toBe(400);
    expect((await post('/embed', { texts: 'not a list' })).status).toBe(400);
    expect((await post('/embed', { texts: ['ok', 7] })).status).toBe(400);
    expect((await post('/embed', { wrong: ['x'] })).status).toBe(400);
    const openAIBad = await post('/v1/embeddings', { input: [[1, 2, 3]] });
    expect(openAIBad.status).toBe(400);
    expect(((await openAIBad.json()) as { error: { message: string } }).error.message).toMatch(/input/);
    expect((await post('/v1/embeddings', { input: 'x', dimensions: 12 })).status).toBe(400);

    const tooMany = await post('/embed', { texts: Array.from({ length: 65 }, (_, i) => `t${i}`) });
    expect(tooMany.status).toBe(413);
    expect(((await tooMany.json()) as { detail: string }).detail).toMatch(/at most 64/);
    const tooBig = await post('/embed', { texts: ['x'.repeat(300 * 1024)] });
    expect(tooBig.status).toBe(413);
    // The connection survives a 413: the next request on it is answered.
    expect((await post('/embed', { texts: ['still here'] })).status).toBe(200);

    const none = await post('/embed', { texts: ['x'] }, {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await post('/embed', { texts: ['x'] }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post('/v1/embeddings', { input: 'x' }, {})).status).toBe(401);
    expect((await fetch(`${base}/info`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);

    expect((await fetch(`${base}/nowhere`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${base}/embed`, { headers: auth })).status).toBe(405);
  });

  it('codecarto clients work unchanged: dgx against /embed (splitting on 413), openai against /v1/embeddings', async () => {
    const texts = Array.from({ length: 100 }, (_, i) => codeText(100 + i, i));
    const expected = (await direct.embed({ texts, purpose: 'passage' })).embeddings;
    // batch_size 100 against a server taking 64 per request: the client splits on the 413.
    const dgx = new DgxEmbedder({ endpoint: `${base}/embed`, batchSize: 100, apiKey: TOKEN });
    const viaDgx = (await dgx.embed({ texts, purpose: 'passage' })).embeddings;
    viaDgx.forEach((v, i) => expect(cosineSimilarity(v, expected[i])).toBeGreaterThanOrEqual(0.9999));
    const dgxQuery = (await dgx.embed({ texts: ['where is the config parsed'], purpose: 'query' })).embeddings[0];
    const directQuery = (await direct.embed({ texts: ['where is the config parsed'], purpose: 'query' })).embeddings[0];
    expect(cosineSimilarity(dgxQuery, directQuery)).toBeGreaterThanOrEqual(0.9999);
    await dgx.close();

    // The openai provider writes NV-Embed's instruction into the query text; the server reads it back out
    // and masks it out of pooling, so the query vector is the model's own query vector.
    const openai = new OpenAIEmbedder({ baseUrl: base, model: 'nv-embed-test', apiKey: TOKEN, instruction: TASK });
    const viaOpenAI = (await openai.embed({ texts: texts.slice(0, 10), purpose: 'passage' })).embeddings;
    viaOpenAI.forEach((v, i) => expect(cosineSimilarity(v, expected[i])).toBeGreaterThanOrEqual(0.9999));
    const openAIQuery = (await openai.embed({ texts: ['where is the config parsed'], purpose: 'query' })).embeddings[0];
    expect(cosineSimilarity(openAIQuery, directQuery)).toBeGreaterThanOrEqual(0.9999);
    const health = await openai.health();
    expect(health.ok).toBe(true);
    await openai.close();
  });

  it('GET /health needs no token; GET /info names the model, dims, max tokens, execution provider in use and version', async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', execution_provider: direct.executionProvider });

    const info = (await (await fetch(`${base}/info`, { headers: auth })).json()) as Record<string, unknown>;
    expect(info).toMatchObject({
      model: 'codecarto-test-model-v2/h256-d4096-s42',
      dims: 4096,
      max_tokens: 4096,
      version: VERSION,
      device_requested: 'auto',
      pool_mask: true,
      token_budget: 4096,
      max_texts_per_request: 64,
      auth: true,
    });
    expect(info.execution_provider).toBe(server.service.embedder.executionProvider);
    // Asked for auto without a loadable CUDA provider: it runs on the cpu and says why.
    if (info.execution_provider === 'cpu') expect(info.device_detail).toMatch(/cuda unavailable/i);
  });

  it('GET /metrics is Prometheus text with requests, texts, tokens, padding, batch sizes, latency and queue depth', async () => {
    const res = await fetch(`${base}/metrics`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      'codecarto_embed_requests_total',
      'codecarto_embed_texts_total',
      'codecarto_embed_tokens_total',
      'codecarto_embed_padded_tokens_total',
      'codecarto_embed_truncated_texts_total',
      'codecarto_embed_batch_texts',
      'codecarto_embed_request_duration_seconds',
      'codecarto_embed_queue_texts',
      'codecarto_embed_in_flight_requests',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
    }
    const values = parseMetrics(text);
    expect(values.get('codecarto_embed_requests_total{route="/embed",code="413"}')).toBeGreaterThanOrEqual(2);
    expect(values.get('codecarto_embed_requests_total{route="/embed",code="401"}')).toBeGreaterThanOrEqual(2);
    expect(values.get('codecarto_embed_truncated_texts_total')).toBeGreaterThanOrEqual(1);
    expect(values.get('codecarto_embed_padded_tokens_total')!).toBeGreaterThanOrEqual(values.get('codecarto_embed_tokens_total')!);
    expect(values.get('codecarto_embed_queue_texts')).toBe(0);
    expect(values.get('codecarto_embed_request_duration_seconds_count{route="/embed"}')).toBeGreaterThan(20);
  });

  async function metricValues(): Promise<Map<string, number>> {
    return parseMetrics(await (await fetch(`${base}/metrics`, { headers: auth })).text());
  }
});

function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}
