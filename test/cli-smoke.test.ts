import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, tempDir } from './helpers/stdio-client.js';

/** Sends raw JSON-RPC lines to `codecarto mcp` and returns every stdout line it wrote. */
async function rawSession(env: Record<string, string>, messages: object[], expectResponses: number): Promise<{ stdout: string[]; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, 'mcp'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; stderr: ${stderr}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const responses = stdout.split('\n').filter((l) => l.includes('"id"')).length;
      if (responses >= expectResponses) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  for (const m of messages) child.stdin.write(JSON.stringify(m) + '\n');
  await done;
  child.stdin.end();
  await new Promise((resolve) => child.on('exit', resolve));
  return { stdout: stdout.split('\n').filter((l) => l.length > 0), stderr };
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
    const { stdout, stderr } = await rawSession(
      { CODECARTO_HOME: home },
      [
        { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'set_project', arguments: { path: repo } } },
        { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'index', arguments: { wait_seconds: 60 } } },
        { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'search', arguments: { query: 'greet user' } } },
      ],
      4,
    );
    for (const line of stdout) expect(JSON.parse(line).jsonrpc).toBe('2.0');
    const search = JSON.parse(stdout.find((l) => JSON.parse(l).id === 4)!);
    expect(search.result.structuredContent.mode).toBe('lexical');
    expect(search.result.structuredContent.results[0].path).toBe('hello.py');
    expect(stderr).toMatch(/\[codecarto\] MCP server ready/);
  });
});
