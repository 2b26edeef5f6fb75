import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

/**
 * A tool's raw input shape as a strict object: the SDK would wrap a raw shape in z.object, which drops
 * unknown keys silently, so a misspelt argument (`top_k` for `k`) would look accepted and do nothing.
 * The message names the accepted arguments; tools/list publishes `additionalProperties: false`.
 */
export function strictInput(toolName: string, shape: z.ZodRawShape): z.ZodObject {
  const accepted = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
      const known = accepted.length > 0 ? `accepted are ${accepted.join(', ')}` : 'it takes no arguments';
      return `Unknown argument${issue.keys.length > 1 ? 's' : ''} ${keys} for ${toolName}: ${known}.`;
    },
  });
}

/**
 * The server as the tools/ register functions see it: every raw-shape inputSchema they pass becomes a
 * strict object, so each tool (and any tool added later) refuses unknown arguments without its own code.
 */
export function withStrictInputs(server: McpServer): McpServer {
  const registerTool = ((name: string, config: { inputSchema?: unknown }, callback: unknown) => {
    const { inputSchema } = config;
    const strict = isRawShape(inputSchema) ? strictInput(name, inputSchema) : inputSchema;
    return (server.registerTool as (...args: unknown[]) => unknown)(name, { ...config, inputSchema: strict }, callback);
  }) as McpServer['registerTool'];
  return new Proxy(server, {
    get: (target, property, receiver) => (property === 'registerTool' ? registerTool : Reflect.get(target, property, receiver)),
  });
}

/** A plain object of zod schemas (what the tools/ files declare), not a zod schema itself. */
function isRawShape(value: unknown): value is z.ZodRawShape {
  if (typeof value !== 'object' || value === null || value instanceof z.ZodType) return false;
  return Object.values(value).every((field) => field instanceof z.ZodType);
}
