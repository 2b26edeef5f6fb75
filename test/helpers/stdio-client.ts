import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI, as `npm start` and the `codecarto` bin run it (`npm test` builds first). */
export const cliPath = join(repoRoot, 'dist', 'src', 'cli.js');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `codecarto-${prefix}-`));
}

/** A private copy of a real third-party tree installed by `npm ci`, so tests can edit it. */
export function copyThirdPartyTree(relativeToNodeModules: string, prefix = 'tree'): string {
  const dest = join(tempDir(prefix), 'repo');
  cpSync(join(repoRoot, 'node_modules', relativeToNodeModules), dest, { recursive: true });
  return dest;
}

export interface StdioSession {
  client: Client;
  stderr: () => string;
  close: () => Promise<void>;
}

/** Spawns `codecarto mcp` and connects the real SDK client over stdio. */
export async function connectStdio(env: Record<string, string>, args: string[] = ['mcp']): Promise<StdioSession> {
  return connectStdioWith(process.execPath, [cliPath, ...args], env);
}

/** Spawns `command args` (a client configuration's entry, as written) and connects the real SDK client over stdio. */
export async function connectStdioWith(command: string, args: string[], env: Record<string, string>): Promise<StdioSession> {
  const transport = new StdioClientTransport({
    command,
    args,
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'codecarto-test', version: '0.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}
