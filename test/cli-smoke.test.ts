import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, tempDir } from './helpers/stdio-client.js';

/** Sends raw JSON-RPC lines to `codecarto mcp`, each request after the previous answer, and returns every stdout line. */
async function rawSession(env: Record<string, string>, messages: ({ id?: number } & Record<string, unknown>)[]): Promise<{ stdout: string[]; stderr: string; exitCode: number | null }> {
  const child = spawn(process.execPath, [cliPath, 'mcp'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiters = new Map<number, () => void>();
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const line of stdout.split('\n')) {
      const id = /"id":(\d+)/.exec(line)?.[1];
      if (id) waiters.get(Number(id))?.();
    }
  });
  for (const message of messages) {
    const answered = message.id === undefined ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(message.id!, resolve));
    child.stdin.write(JSON.stringify(message) + '\n');
    await answered;
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.stdin.end();
  return { stdout: stdout.split('\n').filter((l) => l.length > 0), stderr, exitCode: await exited };
}

describe('the codecarto binary', () => {
  it('prints usage and version', () => {
    const help = spawnSync(process.execPath, [cliPath, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/codecarto \[mcp\]/);
    const bad = spawnSync(process.execPath, [cliPath, 'frobnicate'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Unknown command "frobnicate"/);
  });

  it('writes only JSON-RPC to stdout, logs to stderr, and exits when stdin closes', async () => {
    const home = tempDir('smoke-home');
    const repo = join(tempDir('smoke-repo'), 'repo');
    mkdirSync(repo, { recursive: true });
    writeFileSync(join(repo, 'hello.py'), 'def greet_user(name):\n    return f"hello {name}"\n');
    const { stdout, stderr, exitCode } = await rawSession(
      { CODECARTO_HOME: home },
      [
        { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'set_project', arguments: { path: repo } } },
        { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'index', arguments: { wait_seconds: 60 } } },
        { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'search', arguments: { query: 'greet user' } } },
      ],
    );
    expect(exitCode).toBe(0);
    for (const line of stdout) expect(JSON.parse(line).jsonrpc).toBe('2.0');
    const search = JSON.parse(stdout.find((l) => JSON.parse(l).id === 4)!);
    expect(search.result.structuredContent.mode).toBe('lexical');
    // Lexical for want of an embedding provider is said plainly.
    expect(search.result.structuredContent.note).toMatch(/Provider "none" has no embedding model/);
    expect(search.result.structuredContent.results[0].path).toBe('hello.py');
    expect(stderr).toMatch(/\[codecarto\] MCP server ready/);
  });
});
