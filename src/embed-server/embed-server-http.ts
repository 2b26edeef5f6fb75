/**
 * node:http plumbing for the embedding server: bounded JSON bodies, bearer tokens, error bodies in the
 * shape each client reads (FastAPI's `detail` for /embed, OpenAI's `error` for /v1), compact vectors.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BodyReservation } from './body-budget.js';

/** An answer other than 200, with the sentence the client sees. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export type ErrorStyle = 'fastapi' | 'openai';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(res, status, typeof body === 'string' ? body : JSON.stringify(body), 'application/json', headers);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError, style: ErrorStyle): void {
  const body =
    style === 'openai'
      ? { error: { message: error.message, type: openAIErrorType(error.status), param: null, code: null } }
      : { detail: error.message };
  sendJson(res, error.status, body, error.headers);
}

function openAIErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 413 || status < 500) return 'invalid_request_error';
  return 'server_error';
}

/**
 * Reads a JSON body of at most `limit` bytes. A larger body is still read to its end (and dropped) so that
 * the client, which may still be sending, gets the 413 instead of a reset connection; one claiming to be
 * far larger is refused at once.
 *
 * With a `reservation`, the body's bytes come out of the server-wide budget: by Content-Length before a byte
 * is read (refused at once with 503 + Retry-After when it does not fit), else as chunks arrive (a chunked
 * body that outgrows the budget is dropped, read to its end and answered the same). The caller releases it.
 */
export async function readJsonBody(req: IncomingMessage, limit: number, reservation?: BodyReservation): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  const hasDeclared = req.headers['content-length'] !== undefined && Number.isFinite(declared);
  const tooLarge = (size: string) =>
    new HttpError(413, `The request body is ${size}, over this server's limit of ${limit} bytes; send fewer or shorter texts per request.`);
  if (hasDeclared && declared > limit * 8) {
    req.resume();
    throw new HttpError(413, tooLarge(`${declared} bytes`).message, { connection: 'close' });
  }
  // Bytes past `limit` are never kept, so no request needs more of the budget than `limit`.
  if (reservation && hasDeclared && !reservation.growTo(Math.min(declared, limit))) {
    // The connection stays open and the body is drained unkept, so the client reads the 503, not a reset.
    req.resume();
    throw busy(reservation, declared);
  }
  let chunks: Buffer[] = [];
  let size = 0;
  let overBudget = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit * 8) throw new HttpError(413, tooLarge(`over ${limit * 8} bytes`).message, { connection: 'close' });
    if (size > limit || overBudget) continue;
    if (reservation && !reservation.growTo(size)) {
      overBudget = true;
      chunks = [];
      reservation.release();
      continue;
    }
    chunks.push(chunk);
  }
  if (size > limit) throw tooLarge(`${size} bytes`);
  if (overBudget && reservation) throw busy(reservation, size);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `The request body is not valid JSON (${(error as Error).message}).`);
  }
}

/** How long a client refused for the body budget waits: embedding runs free the budget within seconds. */
const BUSY_RETRY_AFTER_S = 1;

function busy(reservation: BodyReservation, bytes: number): HttpError {
  const { budget } = reservation;
  return new HttpError(
    503,
    `The server is busy: ${budget.inUse} bytes of request bodies are in flight and ${bytes} more would pass its limit of ${budget.limit}. ` +
      `Retry after ${BUSY_RETRY_AFTER_S} s, or send smaller batches.`,
    { 'retry-after': String(BUSY_RETRY_AFTER_S) },
  );
}

/** Checks `Authorization: Bearer <token>` in constant time; does nothing when no token is configured. */
export function checkBearer(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined) return;
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  const challenge = { 'www-authenticate': 'Bearer' };
  if (!match) throw new HttpError(401, 'This server needs "Authorization: Bearer <token>".', challenge);
  // Hashing first makes both sides the same length, as timingSafeEqual requires.
  const given = createHash('sha256').update(match[1]).digest();
  const expected = createHash('sha256').update(token).digest();
  if (!timingSafeEqual(given, expected)) throw new HttpError(401, 'The bearer token is wrong.', challenge);
}

/** float32 values need 9 significant digits to round-trip; the default double printing writes ~17. */
export function vectorToJsonArray(vector: Float32Array): number[] {
  const out = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = Number(vector[i].toPrecision(9));
  return out;
}

/** OpenAI's `encoding_format: "base64"`: the little-endian float32 bytes. */
export function vectorToBase64(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}
