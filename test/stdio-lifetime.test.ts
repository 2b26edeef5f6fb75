/**
 * Issue 16.6: the MCP server never outlives a dead transport. Over real stdio: a line that is not JSON, or
 * not JSON-RPC, gets the standard JSON-RPC error answer and the server goes on answering; a line past the
 * 10 MiB limit (which the SDK's transport answers by closing itself) ends the process with a non-zero
 * status and a stderr line saying what happened and what to do.
 * Regression: with the SDK's StdioServerTransport alone, bad lines got no answer, and after an 11 MiB line
 * the process stayed alive and answered nothing.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cliPath, tempDir } from './helpers/stdio-client.js';

interface RawServer {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  /** Every JSON line the server wrote to stdout so far. */
  messages: () => Record<string, any>[];
  /** Resolves with the first stdout message that `match` accepts (within `ms`). */
  next: (match: (m: Record<string, any>) => boolean, ms?: number) => Promise<Record<string, any>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcessWithoutNullStreams[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function startRaw(): RawServer {
  const home = tempDir('life-home');
  dirs.push(home);
  const child = spawn(process.execPath, [cliPath, 'mcp'], { env: { ...process.env, CODECARTO_HOME: home, CODECARTO_WATCH: 'off' }, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  const waiters: { match: (m: Record<string, any>) => boolean; resolve: (m: Record<string, any>) => void }[] = [];
  const messages: Record<string, any>[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) !== -1) {
      const message = JSON.parse(out.slice(0, nl)) as Record<string, any>;
      out = out.slice(nl + 1);
      messages.push(message);
      for (const w of waiters.splice(0)) (w.match(message) ? w.resolve(message) : waiters.push(w));
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // A write after the server has gone fails with EPIPE: that is what the test provokes, not an error of the test.
  child.stdin.on('error', () => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const next = (match: (m: Record<string, any>) => boolean, ms = 20_000) =>
    new Promise<Record<string, any>>((resolve, reject) => {
      const seen = messages.find(match);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`no matching answer within ${ms} ms; stderr:\n${err}`)), ms);
      waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  return { child, stderr: () => err, messages: () => messages, next, exit };
}

const send = (server: RawServer, line: string) => server.child.stdin.write(`${line}\n`);

async function initialize(server: RawServer): Promise<void> {
  send(server, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }));
  await server.next((m) => m.id === 1 && m.result !== undefined);
  send(server, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
}

describe('the stdio transport', () => {
  it('answers a line that is not JSON with Parse error and one that is not JSON-RPC with Invalid Request, then keeps answering', async () => {
    const server = startRaw();
    await initialize(server);

    send(server, '{not json');
    const parseError = await server.next((m) => m.error?.code === -32700);
    expect(parseError).toMatchObject({ jsonrpc: '2.0', error: { code: -32700, message: expect.stringMatching(/^Parse error: line 3 on stdin is not JSON/) } });
    // No id could be read; the MCP schema makes it optional (a null id fails the SDK client's schema).
    expect(parseError).not.toHaveProperty('id');

    send(server, JSON.stringify({ jsonrpc: '2.0', id: 7, params: {} }));
    expect(await server.next((m) => m.id === 7)).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32600, message: expect.stringMatching(/^Invalid Request/) } });
    send(server, '[1, 2, 3]');
    await server.next((m) => m.error?.code === -32600 && m.id === undefined);

    send(server, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
    const list = await server.next((m) => m.id === 2);
    expect(list.result.tools.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['set_project', 'index', 'search', 'status']));
    send(server, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'no/such/method' }));
    expect((await server.next((m) => m.id === 3)).error.code).toBe(-32601);

    expect(server.stderr()).toMatch(/Parse error: line 3 on stdin is not JSON.*answered with JSON-RPC error -32700/);
    expect(server.stderr()).toMatch(/Invalid Request: line 4 .*answered with JSON-RPC error -32600/);
    // Nothing but JSON-RPC ever reaches stdout.
    for (const m of server.messages()) expect(m.jsonrpc).toBe('2.0');

    server.child.stdin.end();
    expect(await server.exit).toEqual({ code: 0, signal: null });
  });

  it('exits non-zero within seconds after a line over 10 MiB, saying what happened and what to do', async () => {
    const server = startRaw();
    await initialize(server);
    const started = Date.now();
    const line = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'search', arguments: { query: 'x'.repeat(11 * 1024 * 1024) } } });
    send(server, line);
    const exit = await Promise.race([server.exit, new Promise<'alive'>((resolve) => setTimeout(() => resolve('alive'), 15_000))]);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(server.stderr()).toMatch(/the MCP connection broke: a message on stdin ran past 10\.\d MiB without a line end \(the limit is 10\.0 MiB\)/);
    expect(server.stderr()).toMatch(/Exiting with status 1 so that the client can start a new server/);
    expect(server.messages().some((m) => m.id === 9)).toBe(false);
  });

  it('exits non-zero when stdout is gone (the client died without closing stdin)', async () => {
    const server = startRaw();
    await initialize(server);
    server.child.stdout.destroy();
    // The answer to this request cannot be written: EPIPE on stdout ends the connection.
    send(server, JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/list' }));
    const exit = await Promise.race([server.exit, new Promise<'alive'>((resolve) => setTimeout(() => resolve('alive'), 15_000))]);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(server.stderr()).toMatch(/the MCP connection broke: writing stdout failed: .*EPIPE/);
  });
});
