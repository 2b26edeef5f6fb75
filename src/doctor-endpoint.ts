export interface EndpointReport {
  url: string;
  ok: boolean;
  /** HTTP status, or null when nothing answered. */
  status: number | null;
  /** Size of the vector the endpoint returned for a one-text request. */
  dims: number | null;
  ms: number;
  detail: string;
  /** `GET /info` of a `codecarto embed-server` (model, execution provider in use), when it answers. */
  info: Record<string, unknown> | null;
}

export interface EndpointProbeOptions {
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Sent as `Authorization: Bearer <apiKey>` (an embed-server started with --auth-token-env). */
  apiKey?: string;
}

/**
 * Sends one seed-protocol request (`{"texts": [...]}`) with a short timeout and says what came back.
 * Never retries and never throws: a doctor reports, it does not wait out a restart.
 */
export async function probeEndpoint(url: string, options: EndpointProbeOptions = {}): Promise<EndpointReport> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const doFetch = options.fetch ?? fetch;
  const auth: Record<string, string> = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  const started = performance.now();
  const ms = (): number => Math.round(performance.now() - started);
  const report = (ok: boolean, detail: string, status: number | null = null, dims: number | null = null): EndpointReport =>
    ({ url, ok, status, dims, ms: ms(), detail, info: null });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return report(false, `"${url}" is not a URL; pass the full endpoint, e.g. http://192.168.1.159:8080/embed`);
  }
  let response: Response;
  try {
    response = await doFetch(parsed, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ texts: ['def ping(): return "pong"'] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return report(false, unreachable(err, parsed, timeoutMs));
  }
  const text = await response.text().catch(() => '');
  if (response.status === 401 || response.status === 403) {
    return report(false, `${parsed.host} wants a bearer token (HTTP ${response.status}): pass --api-key-env <VAR> naming the variable that holds it`, response.status);
  }
  if (!response.ok) {
    return report(false, `${parsed.host} answered HTTP ${response.status}: ${text.slice(0, 200).trim() || response.statusText}`, response.status);
  }
  let dims: number | null = null;
  try {
    const body = JSON.parse(text) as { embeddings?: unknown };
    const first = Array.isArray(body.embeddings) ? body.embeddings[0] : undefined;
    if (Array.isArray(first)) dims = first.length;
  } catch {
    // reported below
  }
  if (dims === null) {
    return report(false, `${parsed.host} answered HTTP ${response.status} but not with {"embeddings": [[...]]}: is ${parsed.pathname} the embedding endpoint?`, response.status);
  }
  const result = report(true, `answered in ${ms()} ms with a ${dims}-dim vector`, response.status, dims);
  result.info = await fetchInfo(parsed, doFetch, timeoutMs, auth);
  return result;
}

async function fetchInfo(endpoint: URL, doFetch: typeof fetch, timeoutMs: number, headers: Record<string, string>): Promise<Record<string, unknown> | null> {
  try {
    const response = await doFetch(new URL('/info', endpoint), { headers, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return null;
    const body = (await response.json()) as unknown;
    return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null; // the FastAPI seed server has no /info; that is fine
  }
}

function unreachable(err: unknown, url: URL, timeoutMs: number): string {
  const error = err as Error & { cause?: { code?: string; message?: string } };
  if (error.name === 'TimeoutError' || error.name === 'AbortError') {
    return `no answer from ${url.host} within ${timeoutMs} ms (server busy, or a firewall drops the packets)`;
  }
  const code = error.cause?.code;
  if (code === 'ECONNREFUSED') return `connection refused by ${url.host}: nothing listens there; start the embedding server (docs/gb10.md)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host ${url.hostname} not found (${code}); check the address`;
  return `cannot reach ${url.host}: ${code ?? error.cause?.message ?? error.message}`;
}
