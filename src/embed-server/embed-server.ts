/**
 * `codecarto embed-server`: the DGX's embedding HTTP server on onnxruntime-node, replacing the FastAPI one.
 *
 *   POST /embed            seed protocol: {"texts": [...], "instruction"?} -> {"embeddings": [...], "truncated": [...]}
 *   POST /v1/embeddings    OpenAI-compatible: {"input": str | [str], "model"?, "encoding_format"?}
 *   GET  /health           liveness (never needs the token, so probes and load balancers can use it)
 *   GET  /info             model id, dims, max tokens, execution provider in use, limits, version
 *   GET  /metrics          Prometheus text
 *
 * Texts of concurrent requests share model runs (see EmbedService). Bodies, texts per request and tokens
 * per text are bounded. SIGTERM stops accepting connections, answers what is in flight, then exits.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { CodecartoError } from '../../models/errors/codecarto-error.js';
import { isAbortError } from '../../models/errors/abort-error.js';
import { DEVICES } from '../../models/embedder-settings.js';
import type { OnnxDevice } from '../../models/onnx-embedder.js';
import { BodyBudget, type BodyReservation } from './body-budget.js';
import { EmbedService } from './embed-service.js';
import {
  checkBearer,
  HttpError,
  readJsonBody,
  sendError,
  sendJson,
  sendText,
  vectorToBase64,
  vectorToJsonArray,
  type ErrorStyle,
} from './embed-server-http.js';
import { VERSION } from '../version.js';

export interface EmbedServerOptions {
  /** Directory with model.onnx, tokenizer.json and codecarto.json. */
  modelDir: string;
  /** Default 127.0.0.1: the server is reachable from elsewhere only when asked. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 'auto': cuda if it loads, else cpu (and /info says so). */
  device?: OnnxDevice;
  /** Padded tokens per model run (default 32768 on cuda, 8192 on cpu). */
  tokenBudget?: number;
  /** Texts per model run (default 128). */
  maxBatch?: number;
  /** When set, every route but /health needs `Authorization: Bearer <authToken>`. */
  authToken?: string;
  /** Largest request body (default 32 MiB). */
  maxBodyBytes?: number;
  /**
   * Most bytes of request bodies held at once, over all requests, from the first byte until the answer
   * (default 4x maxBodyBytes, 128 MiB); past it a request gets 503 with Retry-After. At least maxBodyBytes.
   */
  maxInflightBytes?: number;
  /** Most texts in one request (default 512, the most the codecarto clients send). */
  maxTextsPerRequest?: number;
  /** How long SIGTERM / close() waits for in-flight requests before cutting connections (default 60 s). */
  drainTimeoutMs?: number;
  log?: (message: string) => void;
}

export interface RunningEmbedServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  host: string;
  port: number;
  service: EmbedService;
  /** Stops accepting connections, answers requests in flight, then frees the model. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Four requests at the per-request limit: enough for many clients' ordinary batches, far below a GPU host's RAM. */
const DEFAULT_INFLIGHT_BODIES = 4;
const DEFAULT_MAX_TEXTS = 512;
const DEFAULT_DRAIN_TIMEOUT_MS = 60_000;

const embedRequestSchema = z.object({
  texts: z.array(z.string({ error: 'every text must be a string' })),
  instruction: z.string().nullish(),
});

const openAIRequestSchema = z.object({
  input: z.union([z.string(), z.array(z.string({ error: 'every input must be a string' }))], {
    error: '"input" must be a string or a list of strings (token-id input is not supported)',
  }),
  model: z.string().optional(),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

export async function startEmbedServer(options: EmbedServerOptions): Promise<RunningEmbedServer> {
  const log = options.log ?? (() => {});
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxTexts = options.maxTextsPerRequest ?? DEFAULT_MAX_TEXTS;
  const maxInflightBytes = options.maxInflightBytes ?? maxBodyBytes * DEFAULT_INFLIGHT_BODIES;
  if (maxInflightBytes < maxBodyBytes) {
    // Otherwise a body at the per-request limit would be refused forever and its client retry forever.
    throw new CodecartoError(
      `The in-flight body budget (${maxInflightBytes} bytes) is smaller than the per-request body limit (${maxBodyBytes} bytes); raise --max-inflight-bytes or lower --max-body-mb.`,
    );
  }
  const bodyBudget = new BodyBudget(maxInflightBytes);
  const authToken = options.authToken;
  let inFlight = 0;
  let draining = false;
  /** Responses not yet sent; on close they are told to close their connection. */
  const unanswered = new Set<ServerResponse>();

  const service = await EmbedService.create({
    modelDir: options.modelDir,
    device: options.device ?? 'auto',
    tokenBudget: options.tokenBudget,
    maxBatch: options.maxBatch,
    inFlightRequests: () => inFlight,
    inFlightBodyBytes: () => bodyBudget.inUse,
    log,
  });
  const { embedder, metrics } = service;
  const health = await embedder.health();

  const info = () => ({
    model: embedder.modelId,
    dims: embedder.dimensions,
    max_tokens: embedder.maxInputTokens,
    execution_provider: embedder.executionProvider,
    device_requested: options.device ?? 'auto',
    device_detail: health.detail,
    pool_mask: embedder.usesPoolMask,
    query_instruction: embedder.manifest.query_instruction,
    default_task: embedder.manifest.default_task,
    token_budget: service.tokenBudget,
    max_batch: service.maxBatch,
    max_texts_per_request: maxTexts,
    max_body_bytes: maxBodyBytes,
    max_inflight_bytes: maxInflightBytes,
    auth: authToken !== undefined,
    version: VERSION,
  });

  /** Shared by both embedding routes: one trip through the batcher, abandoned if the client hangs up. */
  const embedTexts = async (res: ServerResponse, texts: string[], instruction: string | undefined) => {
    // A client that hangs up stops caring: its texts still waiting are dropped.
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableEnded) abort.abort();
    };
    res.once('close', onClose);
    try {
      return await service.embed({ texts, instruction, signal: abort.signal });
    } finally {
      res.off('close', onClose);
    }
  };

  const routes: Record<string, { method: 'GET' | 'POST'; style: ErrorStyle; auth: boolean; handle: (req: IncomingMessage, res: ServerResponse, body: BodyReservation) => Promise<void> | void }> = {
    '/health': {
      method: 'GET',
      style: 'fastapi',
      auth: false,
      handle: (_req, res) =>
        sendJson(res, draining ? 503 : 200, {
          status: draining ? 'draining' : 'ok',
          model: embedder.modelId,
          execution_provider: embedder.executionProvider,
          in_flight: inFlight,
        }),
    },
    '/info': { method: 'GET', style: 'fastapi', auth: true, handle: (_req, res) => sendJson(res, 200, info()) },
    '/metrics': {
      method: 'GET',
      style: 'fastapi',
      auth: true,
      handle: (_req, res) => sendText(res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8'),
    },
    '/embed': {
      method: 'POST',
      style: 'fastapi',
      auth: true,
      handle: async (req, res, reservation) => {
        const body = parseBody(embedRequestSchema, await readJsonBody(req, maxBodyBytes, reservation), 'texts', maxTexts);
        const result = await embedTexts(res, body.texts, body.instruction ?? undefined);
        sendJson(res, 200, { embeddings: result.vectors.map(vectorToJsonArray), truncated: result.truncated }, resultHeaders(result));
      },
    },
    '/v1/embeddings': {
      method: 'POST',
      style: 'openai',
      auth: true,
      handle: async (req, res, reservation) => {
        const body = parseBody(openAIRequestSchema, await readJsonBody(req, maxBodyBytes, reservation), 'input', maxTexts);
        if (body.dimensions !== undefined && body.dimensions !== embedder.dimensions) {
          throw new HttpError(400, `This model gives ${embedder.dimensions}-dim vectors; "dimensions": ${body.dimensions} is not supported.`);
        }
        const texts = typeof body.input === 'string' ? [body.input] : body.input;
        const result = await embedTexts(res, texts, undefined);
        const encode = body.encoding_format === 'base64' ? vectorToBase64 : vectorToJsonArray;
        sendJson(
          res,
          200,
          {
            object: 'list',
            data: result.vectors.map((vector, index) => ({ object: 'embedding', index, embedding: encode(vector) })),
            model: embedder.modelId,
            usage: { prompt_tokens: result.tokens, total_tokens: result.tokens },
            truncated: result.truncated,
          },
          resultHeaders(result),
        );
      },
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const route = routes[path];
    const style: ErrorStyle = route?.style ?? (path.startsWith('/v1/') ? 'openai' : 'fastapi');
    const counted = route?.method === 'POST';
    if (counted) inFlight++;
    // Held until the answer is sent: the parsed texts live as long as the request does.
    const reservation = bodyBudget.reserve();
    let clientGone = false;
    unanswered.add(res);
    // While draining, each connection answers what it has and then closes, so shutdown ends.
    if (draining) res.setHeader('connection', 'close');
    try {
      if (route === undefined) throw new HttpError(404, `No route ${path}. Routes: POST /embed, POST /v1/embeddings, GET /health, GET /info, GET /metrics.`);
      if (req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) {
        throw new HttpError(405, `${path} takes ${route.method}.`, { allow: route.method });
      }
      if (route.auth) checkBearer(req, authToken);
      await route.handle(req, res, reservation);
    } catch (error) {
      // A client that hung up (mid-body, or while its texts waited) is no server error: nobody is listening.
      clientGone = isAbortError(error) || (res.destroyed && !res.writableFinished) || (req.destroyed && !req.complete);
      if (clientGone) {
        res.destroy();
      } else if (error instanceof HttpError) {
        sendError(res, error, style);
      } else {
        const message = error instanceof Error ? error.message : String(error);
        log(`${req.method} ${path} failed: ${message}`);
        sendError(res, new HttpError(500, message), style);
      }
    } finally {
      reservation.release();
      unanswered.delete(res);
      if (counted) inFlight--;
      if (route !== undefined && clientGone) {
        metrics.clientAborts.inc(1, { route: path });
      } else if (route !== undefined) {
        metrics.requests.inc(1, { route: path, code: String(res.statusCode) });
        if (counted) metrics.requestSeconds.observe((performance.now() - started) / 1000, { route: path });
      }
    }
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  await listen(server, host, options.port ?? 8080).catch(async (error) => {
    await service.close();
    throw error;
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      draining = true;
      for (const res of unanswered) if (!res.headersSent) res.setHeader('connection', 'close');
      const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Node closes idle keep-alive connections on close(); busy ones close after their answer.
      const timer = setTimeout(() => {
        log(`requests still in flight after ${drainTimeoutMs / 1000} s; closing their connections`);
        server.closeAllConnections();
      }, drainTimeoutMs);
      await closed;
      clearTimeout(timer);
      await service.idle();
      await service.close();
    })());

  return { url, host, port, service, close };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const hint =
        error.code === 'EADDRINUSE'
          ? `port ${port} on ${host} is in use (another embedding server?); stop it or pass --port`
          : error.code === 'EADDRNOTAVAIL'
            ? `${host} is not an address of this machine; pass --host 0.0.0.0 to listen on all of them`
            : error.message;
      reject(new CodecartoError(`The embedding server cannot listen on ${host}:${port}: ${hint}.`, { cause: error }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Validates a body against `schema`; a list of texts longer than `maxTexts` is a 413 (too large, so the
 * codecarto clients split it) even before its items are checked.
 */
function parseBody<T>(schema: z.ZodType<T>, body: unknown, listField: string, maxTexts: number): T {
  const list = (body as Record<string, unknown> | null)?.[listField];
  if (Array.isArray(list) && list.length > maxTexts) {
    throw new HttpError(413, `${list.length} texts in one request; this server takes at most ${maxTexts}. Send smaller batches.`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`);
    const example = listField === 'texts' ? '{"texts": ["..."], "instruction"?: "..."}' : '{"input": ["..."], "model"?: "..."}';
    throw new HttpError(400, `Bad request (${problems.slice(0, 3).join('; ')}). Send ${example}.`);
  }
  return parsed.data;
}

function resultHeaders(result: { tokens: number; truncated: number[] }): Record<string, string> {
  return { 'x-codecarto-tokens': String(result.tokens), 'x-codecarto-truncated': String(result.truncated.length) };
}

// ---- command line ----

/** Environment variable for --max-inflight-bytes (the flag wins). */
export const MAX_INFLIGHT_ENV = 'CODECARTO_EMBED_MAX_INFLIGHT_BYTES';

export const EMBED_SERVER_USAGE = `Usage: codecarto embed-server --model <dir> [--port 8080] [--host 127.0.0.1] [--device auto|cuda|cpu]
       [--token-budget N] [--max-batch N] [--auth-token-env VAR] [--max-texts N] [--max-body-mb N]
       [--max-inflight-bytes N[K|M|G]]  (default 4x the body limit; env ${MAX_INFLIGHT_ENV})`;

/** Parses flags, serves until SIGTERM or SIGINT, drains, and returns the exit code. */
export async function embedServerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      device: { type: 'string' },
      'token-budget': { type: 'string' },
      'max-batch': { type: 'string' },
      'auth-token-env': { type: 'string' },
      'max-texts': { type: 'string' },
      'max-body-mb': { type: 'string' },
      'max-inflight-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${EMBED_SERVER_USAGE}\n`);
    return 0;
  }
  if (!values.model) throw new CodecartoError(`--model <dir> is required.\n${EMBED_SERVER_USAGE}`);
  const device = values.device ?? 'auto';
  if (!(DEVICES as readonly string[]).includes(device)) throw new CodecartoError(`Unknown --device "${device}": use auto, cuda or cpu.`);
  let authToken: string | undefined;
  const authVar = values['auth-token-env'];
  if (authVar !== undefined) {
    authToken = process.env[authVar];
    if (!authToken) throw new CodecartoError(`--auth-token-env names ${authVar}, but that environment variable is empty or unset; export the token in it.`);
  }
  const log = (message: string) => process.stderr.write(`[codecarto embed-server] ${message}\n`);
  const host = values.host ?? '127.0.0.1';

  let running: RunningEmbedServer;
  try {
    running = await startEmbedServer({
      modelDir: values.model,
      host,
      port: intFlag('--port', values.port, 0, 65535) ?? 8080,
      device: device as OnnxDevice,
      tokenBudget: intFlag('--token-budget', values['token-budget'], 1, 1 << 24),
      maxBatch: intFlag('--max-batch', values['max-batch'], 1, 4096),
      maxTextsPerRequest: intFlag('--max-texts', values['max-texts'], 1, 100_000),
      maxBodyBytes: mbFlag(values['max-body-mb']),
      maxInflightBytes: byteSize(
        values['max-inflight-bytes'] !== undefined ? '--max-inflight-bytes' : MAX_INFLIGHT_ENV,
        values['max-inflight-bytes'] ?? (process.env[MAX_INFLIGHT_ENV] || undefined),
      ),
      authToken,
      log,
    });
  } catch (error) {
    throw new CodecartoError(`The embedding server did not start. ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const { embedder } = running.service;
  log(
    `listening on ${running.url} (model ${embedder.modelId}, ${embedder.dimensions} dims, max ${embedder.maxInputTokens} tokens, ` +
      `${embedder.executionProvider} execution provider, ${running.service.tokenBudget} tokens and ${running.service.maxBatch} texts per run)`,
  );
  if (!isLoopback(host) && authToken === undefined) {
    log(`warning: listening on ${host} without a bearer token; anyone who can reach this port can use the model (see --auth-token-env)`);
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        log(`${signal} again: exiting without waiting`);
        resolve(1);
        return;
      }
      log(`${signal}: no new connections; finishing requests in flight`);
      running.close().then(
        () => {
          log('stopped');
          resolve(0);
        },
        (error: unknown) => {
          log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

function intFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new CodecartoError(`${name} must be a whole number from ${min} to ${max}; got "${value}".`);
  return n;
}

function mbFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 4096) throw new CodecartoError(`--max-body-mb must be a number of megabytes from 0 to 4096; got "${value}".`);
  return Math.floor(n * 1024 * 1024);
}

/** A byte count: a whole number, optionally with K, M or G (powers of 1024), e.g. 134217728 or 128M. */
export function byteSize(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*(\d+)\s*([kmg])?(?:i?b)?\s*$/i.exec(value);
  const n = match ? Number(match[1]) * 1024 ** ' kmg'.indexOf((match[2] ?? ' ').toLowerCase()) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new CodecartoError(`${name} must be a number of bytes such as 134217728 or 128M; got "${value}".`);
  return n;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
