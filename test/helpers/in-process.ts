import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Config } from '../../src/config.js';
import { createServer, type ServerDeps } from '../../src/server.js';

export type Structured = Record<string, any>;
export type ToolResult = { isError?: boolean; content: { text: string }[]; structuredContent: Structured };

export interface InProcessSession {
  client: Client;
  call: (name: string, args?: Record<string, unknown>) => Promise<ToolResult>;
  close: () => Promise<void>;
}

/** createServer() connected to a real SDK client over an in-memory transport. */
export async function connectInProcess(config: Partial<Config> & { home: string }, deps: Omit<ServerDeps, 'config'> = {}): Promise<InProcessSession> {
  const { server, close } = await createServer({
    config: { defaultProvider: undefined, project: undefined, ...config },
    log: () => {},
    ...deps,
  });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: 'test', version: '0' });
  await client.connect(clientTransport);
  return {
    client,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 })) as ToolResult,
    close: async () => {
      await client.close();
      await close();
    },
  };
}

/** Calls `probe` until `accept` says yes or `ms` pass; returns the last value (the caller asserts on it). */
export async function pollUntil<T>(probe: () => Promise<T>, accept: (value: T) => boolean, ms = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
