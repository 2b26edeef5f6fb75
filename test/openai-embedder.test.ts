import { afterEach, describe, expect, it } from 'vitest';
import { OpenAIEmbedder, openAIEmbeddingsUrl, type OpenAIEmbedderOptions } from '../models/openai-embedder.js';
import { EmbeddingApiError, EndpointUnreachableError, InvalidEmbeddingResponseError } from '../models/errors/embedding-errors.js';
import { FakeEmbeddingServer, fakeEmbedding, wordTokenizer, type FakeServerOptions } from './helpers/fake-embedding-server.js';

const servers: FakeEmbeddingServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startServer(options: FakeServerOptions = {}): Promise<FakeEmbeddingServer> {
  const server = await FakeEmbeddingServer.start(options);
  servers.push(server);
  return server;
}

function openai(baseUrl: string, options: Partial<OpenAIEmbedderOptions> = {}): OpenAIEmbedder {
  return new OpenAIEmbedder({
    baseUrl,
    model: 'text-embedding-3-small',
    tokenizer: wordTokenizer,
    backoff: { initialMs: 20, maxMs: 100, factor: 2 },
    ...options,
  });
}

function expectVectorsOf(embeddings: Float32Array[], inputs: string[], dims: number) {
  expect(embeddings).toHaveLength(inputs.length);
  embeddings.forEach((vector, i) => {
    const expected = fakeEmbedding(inputs[i]!, dims);
    let dot = 0;
    for (let j = 0; j < dims; j++) dot += vector[j]! * expected[j]!;
    expect(dot).toBeCloseTo(1, 5);
  });
}

const inputs = ['alpha one', 'beta two', 'gamma three', 'delta four', 'epsilon five'];

describe('OpenAIEmbedder', () => {
  it('joins base_url with or without /v1 and trailing slashes', () => {
    expect(openAIEmbeddingsUrl('https://api.openai.com')).toBe('https://api.openai.com/v1/embeddings');
    expect(openAIEmbeddingsUrl('https://api.openai.com/v1')).toBe('https://api.openai.com/v1/embeddings');
    expect(openAIEmbeddingsUrl('https://api.openai.com/v1/')).toBe('https://api.openai.com/v1/embeddings');
    expect(openAIEmbeddingsUrl('http://dgx:8080/')).toBe('http://dgx:8080/v1/embeddings');
  });

  it('maps the request ({input, model}, bearer key) and the response (data[i].embedding by index)', async () => {
    const server = await startServer({ dims: 48, apiKey: 'sk-test', reverseOpenAIData: true });
    const embedder = openai(`${server.url}/v1/`, { apiKey: 'sk-test' });
    expect(embedder.provider).toBe('openai');
    expect(embedder.modelId).toBe('openai:text-embedding-3-small');
    expect(embedder.endpoint).toBe(`${server.url}/v1/embeddings`);

    const { embeddings } = await embedder.embed({ texts: inputs, purpose: 'passage' });

    expect(server.requests).toHaveLength(1);
    const request = server.requests[0]!;
    expect(request.path).toBe('/v1/embeddings');
    expect(request.keys).toEqual(['input', 'model']);
    expect(request.texts).toEqual(inputs);
    expect(request.model).toBe('text-embedding-3-small');
    expect(request.authorization).toBe('Bearer sk-test');
    expectVectorsOf(embeddings, inputs, 48); // reversed on the wire, in input order here
    expect(embedder.dimensions).toBe(48);
  });

  it('queries go as they are unless an instruction is configured', async () => {
    const server = await startServer({ dims: 8 });
    await openai(server.url).embed({ texts: ['find x'], purpose: 'query' });
    await openai(server.url, { instruction: 'Retrieve code' }).embed({ texts: ['find x'], purpose: 'query' });
    expect(server.requests.map((r) => r.texts[0])).toEqual(['find x', 'Instruct: Retrieve code\nQuery: find x']);
  });

  it('a wrong key is a clear, non-retried error', async () => {
    const server = await startServer({ dims: 8, apiKey: 'right' });
    const error = await openai(server.url, { apiKey: 'wrong' }).embed({ texts: ['a'], purpose: 'passage' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingApiError);
    expect((error as EmbeddingApiError).status).toBe(401);
    expect((error as Error).message).toContain('Incorrect API key provided.');
    expect((error as Error).message).toContain('Check the API key');
    expect(server.requests).toHaveLength(1);
  });

  it('recovers through the shared core: out of memory splits, answers are validated', async () => {
    const server = await startServer({ dims: 16, failAboveTexts: 2 });
    const embedder = openai(server.url);
    const { embeddings } = await embedder.embed({ texts: inputs, purpose: 'passage' });
    expectVectorsOf(embeddings, inputs, 16);
    expect(embedder.maxBatchSize).toBeLessThanOrEqual(2);

    server.setFaults({ wrongCount: -1 });
    await expect(embedder.embed({ texts: ['a', 'b'], purpose: 'passage' })).rejects.toThrow(/returned 1 vector for 2 texts/);
  });

  it('rejects duplicate or out-of-range indices', async () => {
    const server = await startServer({ dims: 4 });
    const item = (index: number) => ({ index, embedding: [1, 0, 0, 0] });
    server.respondNext(
      { status: 200, body: JSON.stringify({ data: [item(0), item(0)] }) },
      { status: 200, body: JSON.stringify({ data: [item(0), item(2)] }) },
    );
    const embedder = openai(server.url);
    await expect(embedder.embed({ texts: ['a', 'b'], purpose: 'passage' })).rejects.toThrow(/duplicate index 0 for 2 texts/);
    const error = await embedder.embed({ texts: ['a', 'b'], purpose: 'passage' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEmbeddingResponseError);
    expect((error as Error).message).toMatch(/out-of-range index 2 for 2 texts/);
  });

  it('uses the injected fetch', async () => {
    const seen: { url: string; body: unknown; auth: string | null }[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      seen.push({ url: String(input), body: JSON.parse(String(init?.body)), auth: headers.get('authorization') });
      return new Response(JSON.stringify({ data: [{ index: 1, embedding: [0, 2] }, { index: 0, embedding: [3, 4] }] }), { status: 200 });
    };
    const embedder = openai('https://example.test/v1', { fetch: fakeFetch, apiKey: 'k' });
    const { embeddings } = await embedder.embed({ texts: ['x', 'y'], purpose: 'passage' });
    expect(seen).toEqual([{ url: 'https://example.test/v1/embeddings', body: { input: ['x', 'y'], model: 'text-embedding-3-small' }, auth: 'Bearer k' }]);
    expect(Array.from(embeddings[0]!)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(embeddings[1]!)).toEqual([0, 1]);
  });

  it('an unreachable server is an EndpointUnreachableError after the window', async () => {
    const server = await startServer({ dims: 4 });
    const base = server.url;
    await server.refuseFor(60_000);
    const error = await openai(base, { retryWindowMs: 200 }).embed({ texts: ['a'], purpose: 'passage' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EndpointUnreachableError);
    expect((error as Error).message).toContain(`${base}/v1/embeddings`);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });
});
