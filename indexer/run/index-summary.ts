import { z } from 'zod';

/** At most this many paths in `secret_files`, so a repository full of fixtures cannot flood an answer. */
export const SECRET_FILES_LISTED = 20;

/**
 * What one index run did: the `index` tool's outputSchema, and IndexSummary is its z.infer (DESIGN.md,
 * `index` structuredContent). Field names and descriptions are the MCP contract.
 *
 * The chunk counts: when a run ends (done, failed or cancelled)
 *   chunks_total = chunks_embedded + chunks_shared + chunks_reused + chunks_unchanged + chunks_unembedded
 * (every chunk in the index is in exactly one); while it runs, chunks_total is 0 and the others count what
 * happened so far. The secret counts: indexer/prepare/secrets/secret-scanner.ts decides what is a secret.
 */
export const indexSummarySchema = z.object({
  state: z.enum(['done', 'running', 'cancelled', 'failed']),
  files_scanned: z.number(),
  files_added: z.number(),
  files_changed: z.number(),
  files_removed: z.number(),
  /** Keyed by reason: binary, too_large, secret, ignored, ... */
  files_skipped: z
    .record(z.string(), z.number())
    .describe(
      'Files seen but not indexed, by reason. "secret": a credential file name (.env, *.pem, id_rsa, ...) or content with key material or a ' +
        'credential file format (private key block, service-account JSON, Docker registry auths, kubeconfig credentials); nothing of such a file is stored, embedded or searchable.',
    ),
  chunks_skipped_secret: z
    .number()
    .describe(
      'Chunks left out, in this run, of files that are otherwise indexed, because each holds a token or password (GitHub, npm, Slack, Stripe, AWS, Azure, a ' +
        'high-entropy password/secret/token assignment, ...). Only those chunks go, so the rest of a long source file stays searchable; they are never stored, embedded or searchable.',
    ),
  secret_files: z
    .array(z.string())
    .describe(`Paths (at most ${SECRET_FILES_LISTED}) where this run found secrets, the whole file or some chunks left out. Remove the secret, or list the file in .codecartoignore.`),
  chunks_total: z.number().describe('Chunks in the index after the run, in every file; = embedded + shared + reused + unchanged + unembedded once the run ends.'),
  chunks_embedded: z
    .number()
    .describe('Chunk texts embedded in this run, one chunk per distinct text (texts whose chunks the same run deleted are left out; their tokens are not).'),
  chunks_shared: z.number().describe('Chunks whose text is identical to a chunk embedded in this run, so they share its vector instead of being embedded again.'),
  chunks_reused: z.number().describe('Chunks of added or changed files whose text already had a vector from an earlier run.'),
  chunks_unchanged: z.number().describe('Chunks of files this run did not rewrite, keeping the vector they had (with provider "none": all their chunks).'),
  chunks_unembedded: z
    .number()
    .describe(
      'Chunks left without a vector: with provider "none" every chunk of an added or changed file (lexical search only); otherwise chunks whose text a failed or cancelled run did not reach.',
    ),
  chunks_deleted: z.number().describe('Chunks removed with removed files (chunks of changed files are replaced, not counted here).'),
  /** Chunk texts still waiting for a vector (non-zero while running, or after a failure). */
  chunks_pending: z.number(),
  /** Real tokens sent to the model. */
  tokens_embedded: z.number(),
  /** Tokens the model computes when each request is padded to its longest text. */
  tokens_padded: z.number(),
  seconds: z.number(),
  /** When failed: what happened and what to do. */
  error: z.string().optional(),
});
export type IndexSummary = z.infer<typeof indexSummarySchema>;
export type IndexState = IndexSummary['state'];

export function emptySummary(): IndexSummary {
  return {
    state: 'running',
    files_scanned: 0,
    files_added: 0,
    files_changed: 0,
    files_removed: 0,
    files_skipped: {},
    chunks_skipped_secret: 0,
    secret_files: [],
    chunks_total: 0,
    chunks_embedded: 0,
    chunks_shared: 0,
    chunks_reused: 0,
    chunks_unchanged: 0,
    chunks_unembedded: 0,
    chunks_deleted: 0,
    tokens_embedded: 0,
    tokens_padded: 0,
    chunks_pending: 0,
    seconds: 0,
  };
}
