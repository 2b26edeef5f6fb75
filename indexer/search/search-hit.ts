import { z } from 'zod';
import { orNull } from '../workspace/or-null.js';

/** One search result: the search tool's `results` items, and SearchHit is its z.infer. Field names are the MCP contract. */
export const searchHitSchema = z.object({
  path: z.string(),
  start_line: z.number(),
  end_line: z.number(),
  language: z.string(),
  symbol: orNull(z.string(), 'the code is not inside a named symbol'),
  kind: z.string(),
  score: z.number(),
  snippet: z.string(),
});
export type SearchHit = z.infer<typeof searchHitSchema>;
