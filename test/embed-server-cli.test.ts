import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestModel } from '../models/test-model.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

/** The built `codecarto embed-server` as a process: start-up failures, and SIGTERM with a request in flight. */

interface Spawned {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
}

function spawnCli(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exit };
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('codecarto embed-server (the built CLI)', () => {
  let modelDir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    modelDir = join(tempDir('embed-cli-model'), 'nv-embed-test');
    await makeTestModel(modelDir);
  });

  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('--device cuda without a loadable CUDA provider fails at start, says why and points to docs/gb10.md', async () => {
    const run = spawnCli(['embed-server', '--model', modelDir, '--port', '0', '--device', 'cuda']);
    children.push(run.child);
    expect(await run.exit).toBe(1);
    const stderr = run.stderr();
    expect(stderr).toMatch(/The embedding server did not start/);
    expect(stderr).toMatch(/CUDA execution provider could not load/);
    expect(stderr).toMatch(/Failed to load shared library/); // onnxruntime's own reason
    expect(stderr).toMatch(/docs\/gb10\.md/);
    expect(stderr).not.toMatch(/listening on/);
  });

  it('refuses an --auth-token-env naming an unset variable', async () => {
    const run = spawnCli(['embed-server', '--model', modelDir, '--port', '0', '--auth-token-env', 'CODECARTO_TEST_UNSET_TOKEN']);
    children.push(run.child);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/CODECARTO_TEST_UNSET_TOKEN.*empty or unset/);
  });

  it('takes the in-flight body budget from CODECARTO_EMBED_MAX_INFLIGHT_BYTES or --max-inflight-bytes (the flag wins)', async () => {
    const env = { CODECARTO_EMBED_MAX_INFLIGHT_BYTES: '512K' };
    const fromEnv = spawnCli(['embed-server', '--model', modelDir, '--port', '0', '--max-body-mb', '1'], env);
    children.push(fromEnv.child);
    expect(await fromEnv.exit).toBe(1);
    expect(fromEnv.stderr()).toMatch(/in-flight body budget \(524288 bytes\) is smaller than the per-request body limit \(1048576 bytes\)/);
    const fromFlag = spawnCli(['embed-server', '--model', modelDir, '--port', '0', '--max-body-mb', '1', '--max-inflight-bytes', '768K'], env);
    children.push(fromFlag.child);
    expect(await fromFlag.exit).toBe(1);
    expect(fromFlag.stderr()).toMatch(/in-flight body budget \(786432 bytes\)/);
    const bad = spawnCli(['embed-server', '--model', modelDir, '--port', '0', '--max-inflight-bytes', 'lots']);
    children.push(bad.child);
    expect(await bad.exit).toBe(1);
    expect(bad.stderr()).toMatch(/--max-inflight-bytes must be a number of bytes/);
  });

  it('on SIGTERM stops taking connections, answers the request in flight, and exits 0', async () => {
    const run = spawnCli(['embed-server', '--model', modelDir, '--port', '0', '--device', 'cpu', '--auth-token-env', 'CODECARTO_TEST_TOKEN'], {
      CODECARTO_TEST_TOKEN: 'sigterm-token',
    });
    children.push(run.child);
    const port = Number(await waitFor('the listening line', () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(run.stderr())?.[1]));
    const headers = { authorization: 'Bearer sigterm-token' };

    // A request whose body is half sent: in flight from the server's point of view.
    const texts = Array.from({ length: 24 }, (_, i) => `function step${i}(state) { return state.items.map((x) => x * ${i}); }`);
    const body = Buffer.from(JSON.stringify({ texts }));
    let finishBody = () => {};
    const answer = new Promise<{ status: number; connection: string | undefined; json: { embeddings: number[][] } }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/embed', method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': body.length } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, json: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, body.length >> 1));
      finishBody = () => req.end(body.subarray(body.length >> 1));
    });
    await waitFor('the request to be in flight', async () => {
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers })).text();
      return /^codecarto_embed_in_flight_requests 1$/m.test(metrics) ? true : undefined;
    });

    run.child.kill('SIGTERM');
    await waitFor('the drain message', () => (/SIGTERM: no new connections/.test(run.stderr()) ? true : undefined));
    // New connections are refused while the old request is still being answered.
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    expect(run.child.exitCode).toBeNull();

    finishBody();
    const result = await answer;
    expect(result.status).toBe(200);
    expect(result.connection).toBe('close');
    expect(result.json.embeddings).toHaveLength(texts.length);
    expect(result.json.embeddings[0]).toHaveLength(4096);
    expect(await run.exit).toBe(0);
    expect(run.stderr()).toMatch(/stopped/);
  });
});
