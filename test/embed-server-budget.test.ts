import { request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestModel } from '../models/test-model.js';
import { byteSize, startEmbedServer, type RunningEmbedServer } from '../src/embed-server/embed-server.js';
import { tempDir } from './helpers/stdio-client.js';

/**
 * The embedding server's budget for request bodies in flight, over real HTTP on 127.0.0.1 with the generated
 * ONNX test model. Guards: 50 concurrent 25 MB bodies once took the server to 2.4 GB RSS (each body was
 * bounded, their sum was not), and clients that hung up mid-body were counted as HTTP 500.
 */

const KIB = 1024;
const BODY_LIMIT = 1024 * KIB;
const BUDGET = 3 * 1024 * KIB;
const LARGE = 900 * KIB;

/** A valid /embed body of exactly `bytes` bytes: one short text, padded with JSON whitespace. */
function paddedBody(bytes: number, text = 'function pad() { return 1; }'): Buffer {
  const head = JSON.stringify({ texts: [text] }).slice(0, -1);
  return Buffer.from(head + ' '.repeat(bytes - head.length - 1) + '}');
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A POST whose body the test sends piece by piece, so that several stay in flight at once. */
class HeldRequest {
  readonly answer: Promise<Answer>;
  private readonly req: ClientRequest;
  private sent = 0;

  constructor(base: string, private readonly body: Buffer, options: { chunked?: boolean } = {}) {
    const headers: Record<string, string | number> = { 'content-type': 'application/json' };
    if (!options.chunked) headers['content-length'] = body.length;
    this.req = request(`${base}/embed`, { method: 'POST', headers, agent: false });
    this.answer = new Promise((resolve, reject) => {
      this.req.once('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (piece: string) => (text += piece));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.once('error', reject);
      });
      this.req.once('error', reject);
    });
    // Headers go out now, before any of the body.
    this.req.flushHeaders();
  }

  send(bytes: number): void {
    this.req.write(this.body.subarray(this.sent, this.sent + bytes));
    this.sent += bytes;
  }

  finish(): Promise<Answer> {
    this.req.end(this.body.subarray(this.sent));
    return this.answer;
  }

  /** The client hangs up. */
  abort(): void {
    this.answer.catch(() => {});
    this.req.destroy();
  }
}

describe('codecarto embed-server: bodies in flight', () => {
  let server: RunningEmbedServer;
  let base: string;

  beforeAll(async () => {
    const modelDir = join(tempDir('embed-budget-model'), 'nv-embed-test');
    await makeTestModel(modelDir);
    server = await startEmbedServer({ modelDir, port: 0, device: 'cpu', maxBodyBytes: BODY_LIMIT, maxInflightBytes: BUDGET, tokenBudget: 4096 });
    base = server.url;
  });

  afterAll(async () => {
    await server?.close();
  });

  const metrics = async () => parseMetrics(await (await fetch(`${base}/metrics`)).text());
  const inflightBytes = async () => (await metrics()).get('codecarto_embed_in_flight_body_bytes');
  async function waitForMetric(what: string, read: (m: Map<string, number>) => boolean): Promise<Map<string, number>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const m = await metrics();
      if (read(m)) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('/info reports the budget', async () => {
    const info = (await (await fetch(`${base}/info`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ max_body_bytes: BODY_LIMIT, max_inflight_bytes: BUDGET });
  });

  it('refuses bodies past the budget with 503 + Retry-After while those within it succeed, then frees the budget', async () => {
    const before = await metrics();
    // Three 900 KiB bodies, half sent: 2.7 MiB of the 3 MiB budget reserved by their Content-Length.
    const held = [0, 1, 2].map((i) => new HeldRequest(base, paddedBody(LARGE, `function held${i}() {}`)));
    for (const h of held) h.send(LARGE / 2);
    await waitForMetric('three reservations', (m) => m.get('codecarto_embed_in_flight_body_bytes') === 3 * LARGE);

    // A fourth declares 900 KiB and is refused before it sends a byte of its body.
    const early = new HeldRequest(base, paddedBody(LARGE));
    const refused = await early.answer;
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body).detail).toMatch(/busy.*in flight.*Retry after 1 s/);
    early.abort();

    // The same through fetch, which sends its whole body: it reads the 503, not a reset connection.
    const viaFetch = await fetch(`${base}/embed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: paddedBody(LARGE) });
    expect(viaFetch.status).toBe(503);
    expect(viaFetch.headers.get('retry-after')).toBe('1');
    // The OpenAI route refuses in its own error shape.
    const openai = await fetch(`${base}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: ['x'] }) + ' '.repeat(LARGE),
    });
    expect(openai.status).toBe(503);
    expect(((await openai.json()) as { error: { type: string } }).error.type).toBe('server_error');

    // A chunked body (no Content-Length) is counted as it streams: 400 KiB more does not fit either.
    const chunked = new HeldRequest(base, paddedBody(400 * KIB), { chunked: true });
    for (let i = 0; i < 8; i++) chunked.send(32 * KIB);
    const chunkedAnswer = await chunked.finish();
    expect(chunkedAnswer.status).toBe(503);
    expect(chunkedAnswer.headers['retry-after']).toBe('1');

    // The refusals held nothing; the three within the budget are answered.
    expect(await inflightBytes()).toBe(3 * LARGE);
    const answers = await Promise.all(held.map((h) => h.finish()));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.body) as { embeddings: number[][] }).embeddings).toHaveLength(1);
    }

    // Free again: the budget is back to zero and the same bodies now pass, chunked or not.
    expect(await inflightBytes()).toBe(0);
    expect((await fetch(`${base}/embed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: paddedBody(LARGE) })).status).toBe(200);
    const chunkedAgain = new HeldRequest(base, paddedBody(400 * KIB), { chunked: true });
    chunkedAgain.send(100 * KIB);
    expect((await chunkedAgain.finish()).status).toBe(200);
    expect(await inflightBytes()).toBe(0);

    const after = await metrics();
    const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    expect(delta('codecarto_embed_requests_total{route="/embed",code="503"}')).toBe(3);
    expect(delta('codecarto_embed_requests_total{route="/v1/embeddings",code="503"}')).toBe(1);
    expect(delta('codecarto_embed_requests_total{route="/embed",code="200"}')).toBe(5);
  });

  it('a client that hangs up mid-body counts as a client abort, not a server error, and frees its bytes', async () => {
    const before = await metrics();
    const abortsKey = 'codecarto_embed_client_aborts_total{route="/embed"}';
    const quitter = new HeldRequest(base, paddedBody(LARGE));
    quitter.send(100 * KIB);
    await waitForMetric('the reservation', (m) => m.get('codecarto_embed_in_flight_body_bytes') === LARGE);
    quitter.abort();

    // And a chunked one.
    const chunkedQuitter = new HeldRequest(base, paddedBody(LARGE), { chunked: true });
    chunkedQuitter.send(200 * KIB);
    await waitForMetric('the chunked bytes', (m) => m.get('codecarto_embed_in_flight_body_bytes') === 200 * KIB);
    chunkedQuitter.abort();

    const after = await waitForMetric('two client aborts', (m) => (m.get(abortsKey) ?? 0) - (before.get(abortsKey) ?? 0) === 2);
    expect(after.get('codecarto_embed_in_flight_body_bytes')).toBe(0);
    const serverErrors = (m: Map<string, number>) =>
      [...m].filter(([key]) => key.startsWith('codecarto_embed_requests_total{') && /code="5\d\d"/.test(key) && !key.includes('code="503"')).reduce((n, [, v]) => n + v, 0);
    expect(serverErrors(after)).toBe(serverErrors(before));
    expect(after.get('codecarto_embed_requests_total{route="/embed",code="500"}')).toBeUndefined();
    // The server is none the worse.
    expect((await fetch(`${base}/embed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: paddedBody(LARGE) })).status).toBe(200);
  });

  it('a budget smaller than one body is refused at start; --max-inflight-bytes takes bytes or K/M/G', async () => {
    await expect(startEmbedServer({ modelDir: '/nonexistent', port: 0, maxBodyBytes: BODY_LIMIT, maxInflightBytes: BODY_LIMIT - 1 })).rejects.toThrow(
      /in-flight body budget .* smaller than the per-request body limit/,
    );
    expect(byteSize('--max-inflight-bytes', '134217728')).toBe(134217728);
    expect(byteSize('--max-inflight-bytes', '128M')).toBe(128 * 1024 * 1024);
    expect(byteSize('--max-inflight-bytes', '2g')).toBe(2 * 1024 ** 3);
    expect(byteSize('--max-inflight-bytes', '512KiB')).toBe(512 * 1024);
    expect(() => byteSize('--max-inflight-bytes', 'lots')).toThrow(/number of bytes such as 134217728 or 128M/);
    expect(() => byteSize('--max-inflight-bytes', '0')).toThrow(/number of bytes/);
  });
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
