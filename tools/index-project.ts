import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { indexSummarySchema, SECRET_FILES_LISTED, type IndexSummary } from '../indexer/run/index-summary.js';
import type { IndexWait } from '../indexer/run/index-progress.js';
import type { Workspace } from '../indexer/workspace/workspace.js';

export const indexInput = {
  path: z.string().min(1).max(4096).optional().describe('Repository to index; default: the current project (see `set_project`).'),
  full: z.boolean().optional().describe('Re-read every file and re-embed every chunk instead of only what changed.'),
  wait_seconds: z
    .number({ error: 'wait_seconds must be a number from 0 to 3600' })
    .min(0)
    .max(3600)
    .optional()
    .describe('How long to wait for the run to finish before returning its progress (0-3600, default 45). The run goes on in the background.'),
};

/** The run's summary as indexer/run/index-summary.ts declares it (descriptions included), plus what only the tool says. */
export const indexOutput = {
  ...indexSummarySchema.shape,
  waiting: z
    .object({ what: z.string(), seconds: z.number() })
    .optional()
    .describe('While the run is blocked: what it waits for (an embedding endpoint that refuses, fails or does not answer) and for how many seconds so far.'),
};

/** While a run waits on something, progress notifications repeat this often, so the client sees the wait grow. */
const WAIT_HEARTBEAT_MS = 2_000;

const DEFAULT_WAIT_SECONDS = 45;

export function registerIndexTool(server: McpServer, workspace: Workspace): void {
  server.registerTool(
    'index',
    {
      title: 'Index project',
      description:
        'Index (or refresh) the current project so `search` finds its code. Incremental: only new or changed chunks are embedded. ' +
        'Call it after `set_project` and after large changes. Runs in the background; waits up to wait_seconds, then returns the summary or "still indexing" ' +
        '(call `index` again to keep waiting; a second call joins the running one).',
      inputSchema: indexInput,
      outputSchema: indexOutput,
      annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ path, full, wait_seconds }, extra) => {
      const job = await workspace.startIndex({ path, full });
      const progressToken = extra._meta?.progressToken;
      let unsubscribe = () => {};
      if (progressToken !== undefined) {
        let lastSent = 0;
        let lastProgress = -1;
        const send = (summary: Readonly<IndexSummary>) => {
          lastSent = Date.now();
          // MCP requires progress to increase with every notification; a heartbeat or a phase change
          // with nothing new counted still moves it, by a fraction.
          const counted = summary.files_scanned + summary.chunks_embedded;
          lastProgress = counted > lastProgress ? counted : lastProgress + 0.001;
          void extra
            .sendNotification({
              method: 'notifications/progress',
              params: {
                progressToken,
                progress: lastProgress,
                message: progressMessage(summary, job.progress.waiting),
              },
            })
            .catch(() => {});
        };
        const stop = job.onProgress((summary) => {
          if (Date.now() - lastSent < 200 && summary.state === 'running') return;
          send(summary);
        });
        // A run blocked on an endpoint reports nothing new: say what it waits for, and for how long, meanwhile.
        const heartbeat = setInterval(() => {
          if (job.running && job.progress.waiting && Date.now() - lastSent >= WAIT_HEARTBEAT_MS) send(job.summary);
        }, WAIT_HEARTBEAT_MS / 4);
        unsubscribe = () => {
          stop();
          clearInterval(heartbeat);
        };
      }
      // Cancelling this call cancels the run; a call that merely returns early leaves it running.
      const onCancel = () => job.cancel();
      extra.signal.addEventListener('abort', onCancel, { once: true });
      try {
        const summary = await job.waitFor((wait_seconds ?? DEFAULT_WAIT_SECONDS) * 1000, extra.signal);
        const wait = summary.state === 'running' ? job.progress.waiting : null;
        const structuredContent = { ...summary, ...(wait ? { waiting: { what: wait.what, seconds: Math.round((Date.now() - wait.since) / 1000) } } : {}) };
        // A failed run is an error for the caller, with its summary still attached (what was kept, what to do).
        return { content: [{ type: 'text', text: formatSummary(summary, wait) }], structuredContent, ...(summary.state === 'failed' ? { isError: true } : {}) };
      } finally {
        extra.signal.removeEventListener('abort', onCancel);
        unsubscribe();
      }
    },
  );
}

function progressMessage(s: Readonly<IndexSummary>, wait: IndexWait | null = null): string {
  const waiting = wait ? `; waiting for ${wait.what} for ${Math.round((Date.now() - wait.since) / 1000)} s` : '';
  return `scanned ${s.files_scanned} files, embedded ${s.chunks_embedded} chunks${s.chunks_pending ? `, ${s.chunks_pending} waiting` : ''}${waiting}`;
}

/**
 * Once a run has ended the line is the identity itself (zero terms left out), so a reader can check
 * that every chunk is accounted for: "Chunks: 120 in the index = 100 embedded + 12 shared + 8 unchanged; 3 deleted."
 */
function chunkLine(s: Readonly<IndexSummary>): string {
  const pending = s.chunks_pending ? `, ${s.chunks_pending} texts pending` : '';
  if (s.state === 'running') {
    return `Chunks so far: ${s.chunks_embedded} embedded, ${s.chunks_shared} shared, ${s.chunks_reused} reused, ${s.chunks_deleted} deleted${pending}.`;
  }
  const terms = (
    [
      [s.chunks_embedded, 'embedded'],
      [s.chunks_shared, 'shared (identical text embedded once in this run)'],
      [s.chunks_reused, 'reused'],
      [s.chunks_unchanged, 'unchanged'],
      [s.chunks_unembedded, 'without a vector'],
    ] as const
  )
    .filter(([n]) => n > 0)
    .map(([n, what]) => `${n} ${what}`);
  return `Chunks: ${s.chunks_total} in the index = ${terms.join(' + ') || '0'}; ${s.chunks_deleted} deleted${pending}.`;
}

/** Said only when this run found secrets: what was left out, and where. */
function secretLine(s: Readonly<IndexSummary>): string[] {
  if (s.secret_files.length === 0) return [];
  const files = s.files_skipped.secret ? `${s.files_skipped.secret} files skipped as secret (name or content)` : '';
  const chunks = s.chunks_skipped_secret ? `${s.chunks_skipped_secret} chunks holding a token or password left out` : '';
  return [`Secrets: ${[files, chunks].filter(Boolean).join(', ')}; never stored, embedded or searchable. Found in: ${s.secret_files.join(', ')}${s.secret_files.length >= SECRET_FILES_LISTED ? ` (the first ${SECRET_FILES_LISTED})` : ''}.`];
}

/** `wait`: what a running run is blocked on, said in its first line. */
export function formatSummary(s: Readonly<IndexSummary>, wait: IndexWait | null = null): string {
  const skipped = Object.entries(s.files_skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
  const head =
    s.state === 'running'
      ? `Still indexing (${s.seconds.toFixed(0)} s so far): ${progressMessage(s, wait)}. Call \`index\` again to keep waiting; \`search\` already works on what is indexed.`
      : s.state === 'done'
        ? `Indexed in ${s.seconds.toFixed(1)} s.`
        : s.state === 'cancelled'
          ? 'Indexing was cancelled; everything embedded so far is kept.'
          : `Indexing failed: ${s.error ?? 'unknown error'}`;
  const pad = s.tokens_embedded > 0 ? ` (pad factor ${(s.tokens_padded / s.tokens_embedded).toFixed(2)})` : '';
  return [
    head,
    `Files: ${s.files_scanned} scanned, ${s.files_added} added, ${s.files_changed} changed, ${s.files_removed} removed${skipped ? `; skipped ${skipped}` : ''}.`,
    chunkLine(s),
    ...secretLine(s),
    `Tokens: ${s.tokens_embedded} embedded, ${s.tokens_padded} computed with padding${pad}.`,
  ].join('\n');
}
