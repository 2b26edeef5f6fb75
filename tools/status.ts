import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { projectStateSchema } from '../indexer/workspace/project-state-schema.js';
import {
  fusionStateSchema,
  indexingProgressSchema,
  knownProjectSchema,
  lastIndexRunSchema,
  providerHealthSchema,
  watchInfoSchema,
  type KnownProject,
} from '../indexer/workspace/status-schema.js';
import type { NoProjectStatus, Workspace } from '../indexer/workspace/workspace.js';
import { orNull } from './or-null.js';
import { formatProjectState } from './project-state-format.js';

const stateFields = projectStateSchema.shape;

/**
 * With a project, every field describes it. With none (project null), only `projects`, `problems` and
 * `notes` are there: the known projects and how to choose one. Every part is a schema of indexer/workspace/
 * (the project state's fields, status-schema.ts), optional here because a status without a project has none.
 */
export const statusOutput = {
  project: orNull(z.string(), 'no project is chosen: see projects and notes'),
  provider: stateFields.provider.optional(),
  model: stateFields.model.optional(),
  dims: stateFields.dims.optional(),
  /** The health's execution_provider. */
  device: providerHealthSchema.shape.execution_provider.optional(),
  files: stateFields.files.optional(),
  chunks: stateFields.chunks.optional(),
  chunks_with_vectors: stateFields.chunks_with_vectors.optional(),
  indexing: orNull(indexingProgressSchema, 'no index run is going').optional(),
  last_index: orNull(lastIndexRunSchema, 'no index run finished in this process').optional(),
  stale_files: stateFields.stale_files.optional(),
  last_indexed: stateFields.last_indexed.optional(),
  watching: watchInfoSchema.optional(),
  projects: z.array(knownProjectSchema),
  health: providerHealthSchema.optional(),
  /** How hybrid search weighs the semantic list for this model (null: not measured yet, plain fusion). */
  fusion: orNull(fusionStateSchema, 'not measured yet: plain rank fusion').optional(),
  /** What is wrong with the server's configuration or the project's settings, and how to fix it; empty when nothing is. */
  problems: z.array(z.string()),
  notes: z.array(z.string()),
};

export function registerStatusTool(server: McpServer, workspace: Workspace): void {
  server.registerTool(
    'status',
    {
      title: 'Index status',
      description:
        'Show the current project, its provider and model, how much is indexed, whether an index run is going, stale files, and whether the embedding provider is reachable. ' +
        'Use it to check progress or to diagnose why search finds nothing.',
      inputSchema: {},
      outputSchema: statusOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (_args, extra) => {
      const status = await workspace.status(extra.signal);
      if (status.state === null) return noProjectStatus(status);
      const { state, health, indexing, last_index, watching, fusion, projects, problems } = status;
      const structured = {
        project: state.project,
        provider: state.provider,
        model: state.model,
        dims: state.dims,
        device: health.execution_provider,
        files: state.files,
        chunks: state.chunks,
        chunks_with_vectors: state.chunks_with_vectors,
        indexing,
        last_index,
        stale_files: state.stale_files,
        last_indexed: state.last_indexed,
        watching,
        projects,
        health,
        fusion,
        problems,
        // The problems lead the workspace's notes; listed once, under `problems`.
        notes: state.notes.filter((note) => !problems.includes(note)),
      };
      const lines = [formatProjectState(state), `Provider health: ${health.ok ? 'ok' : 'PROBLEM'}: ${health.detail}`];
      if (indexing) lines.push(`Indexing: ${indexing.files_scanned} files scanned, ${indexing.chunks_embedded} chunks embedded, ${indexing.chunks_pending} waiting (${indexing.seconds.toFixed(0)} s).`);
      if (last_index?.error) lines.push(`Last index failed: ${last_index.error}`);
      if (fusion) {
        lines.push(
          fusion.method === 'calibrated'
            ? `Hybrid search: semantic list weighted ${fusion.semantic_weight} (calibrated on ${fusion.queries} history queries).`
            : `Hybrid search: plain rank fusion (${fusion.reason ?? 'not calibrated'}).`,
        );
      }
      if (watching.runs > 0 || watching.pending) lines.push(`Background re-index runs: ${watching.runs}${watching.pending ? ' (changes pending)' : ''}`);
      if (projects.length > 1) {
        lines.push('', `Known projects (${projects.length}):`);
        for (const p of projects) lines.push(formatKnownProject(p));
      }
      return { content: [{ type: 'text', text: lines.join('\n') }], structuredContent: structured };
    },
  );
}

/** Status before any project is chosen: not an error, but the known projects and how to pick one. */
function noProjectStatus({ projects, problems }: NoProjectStatus) {
  const choose =
    'No project is chosen. Call `set_project` with the path of a repository' +
    (projects.length > 0 ? ' (one of the known projects below, or a new one)' : '') +
    ', or start the server on one with `codecarto mcp --project <path>` (or CODECARTO_PROJECT).';
  const structured = { project: null, projects, problems, notes: [choose] };
  const lines = [...problems.map((p) => `Problem: ${p}`), choose];
  if (projects.length > 0) {
    lines.push('', `Known projects (${projects.length}):`);
    for (const p of projects) lines.push(formatKnownProject(p));
  }
  return { content: [{ type: 'text' as const, text: lines.join('\n') }], structuredContent: structured };
}

function formatKnownProject(p: KnownProject): string {
  const size = p.bytes >= 1 << 20 ? `${(p.bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(p.bytes / 1024)} KiB`;
  const counts = p.files === null ? '' : `${p.files} files, ${p.chunks ?? 0} chunks, `;
  return `${p.current ? '* ' : '  '}${p.project}  (${p.provider ?? 'unknown provider'}; ${counts}${size}; last index ${p.last_indexed ?? 'never'}${p.open ? `; watching ${p.watching}` : ''})`;
}
