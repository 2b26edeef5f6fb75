/**
 * Each contract is declared once (issue 17.4): tools/list publishes the indexer's own zod schemas, the saved
 * settings and the CLI flags use set_project's rules, and the HTTP embedders start from one defaults module
 * (the search hit, indexer/search/search-hit.ts, is left to the search tests). Guards the drift of parallel
 * declarations: the saved settings schema accepted any string as an endpoint while set_project refused it,
 * and the index summary's fields were written out three times.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptySummary, indexSummarySchema } from '../indexer/run/index-summary.js';
import { readProjectFile } from '../indexer/workspace/project-catalog.js';
import { projectSettingsSchema, settingsInputSchema } from '../indexer/workspace/project-settings.js';
import { projectStateSchema } from '../indexer/workspace/project-state-schema.js';
import { fusionStateSchema, indexingProgressSchema, knownProjectSchema, lastIndexRunSchema, providerHealthSchema, watchInfoSchema } from '../indexer/workspace/status-schema.js';
import { DgxEmbedder } from '../models/dgx-embedder.js';
import { HTTP_EMBEDDER_DEFAULTS } from '../models/http-embedder-defaults.js';
import { OpenAIEmbedder } from '../models/openai-embedder.js';
import { settingsFromFlagValues } from '../src/provider-options.js';
import { connectInProcess, type InProcessSession } from './helpers/in-process.js';
import { tempDir } from './helpers/stdio-client.js';

type JsonSchema = { properties: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[] };

/** Key order aside, the same JSON. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
  );
}

function propertiesOf(schema: z.ZodType): Record<string, JsonSchema> {
  return (z.toJSONSchema(schema) as unknown as JsonSchema).properties;
}

/** Each property of `schema` is published, as it is, in `published`. */
function expectPublished(published: Record<string, JsonSchema>, schema: z.ZodType): void {
  const own = propertiesOf(schema);
  expect(Object.keys(own).length).toBeGreaterThan(0);
  for (const [key, property] of Object.entries(own)) expect(canonical(published[key]), key).toEqual(canonical(property));
}

describe('contracts declared once', () => {
  let session: InProcessSession;
  let tools: Record<string, { inputSchema: JsonSchema; outputSchema: JsonSchema }>;
  const home = tempDir('contracts-home');

  beforeAll(async () => {
    session = await connectInProcess({ home });
    const listed = await session.client.listTools();
    tools = Object.fromEntries(listed.tools.map((t) => [t.name, t as unknown as { inputSchema: JsonSchema; outputSchema: JsonSchema }]));
  });

  afterAll(async () => {
    await session?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('set_project publishes the saved settings schema: same rules, messages and descriptions', () => {
    expectPublished(tools.set_project.inputSchema.properties, settingsInputSchema);
    expect(Object.keys(settingsInputSchema.shape)).toEqual(Object.keys(projectSettingsSchema.shape));
    // The descriptions are the saved schema's own, not set_project's copy.
    expect(propertiesOf(projectSettingsSchema).dgx_endpoint).toMatchObject({ description: expect.stringContaining('DGX embedding endpoint') });
  });

  it('a saved setting, a flag and an argument obey one rule', () => {
    const bad = 'ftp://dgx/embed';
    const refused = settingsInputSchema.shape.dgx_endpoint.safeParse(bad);
    expect(refused.success).toBe(false);
    expect(projectSettingsSchema.safeParse({ provider: 'dgx', dgx_endpoint: bad }).success).toBe(false);
    const flags = settingsFromFlagValues({ 'dgx-endpoint': bad });
    expect(flags.problems).toEqual([expect.stringContaining(refused.error!.issues[0]!.message)]);

    // project.json holding what set_project would refuse is not trusted as settings.
    const dataDir = join(home, 'projects', 'hand-written');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'project.json'), JSON.stringify({ root: '/r', settings: { provider: 'dgx', dgx_endpoint: bad } }));
    expect(readProjectFile(dataDir)).toMatchObject({ root: '/r', settings: null });
    writeFileSync(join(dataDir, 'project.json'), JSON.stringify({ root: '/r', settings: { provider: 'dgx', dgx_endpoint: 'http://127.0.0.1:9/embed', batch_size: 48 } }));
    expect(readProjectFile(dataDir)?.settings).toEqual({ provider: 'dgx', dgx_endpoint: 'http://127.0.0.1:9/embed', batch_size: 48 });
  });

  it('the output schemas are the indexer\'s: index summary, project state, status parts', () => {
    expectPublished(tools.index.outputSchema.properties, indexSummarySchema);
    expect(indexSummarySchema.safeParse(emptySummary()).success).toBe(true);
    expectPublished(tools.set_project.outputSchema.properties, projectStateSchema);

    const status = tools.status.outputSchema.properties;
    expect(canonical(status.projects.items)).toEqual(canonical(stripSchemaKey(z.toJSONSchema(knownProjectSchema))));
    expect(canonical(status.health)).toEqual(canonical(stripSchemaKey(z.toJSONSchema(providerHealthSchema))));
    expect(canonical(status.watching)).toEqual(canonical(stripSchemaKey(z.toJSONSchema(watchInfoSchema))));
    for (const [key, schema] of [
      ['indexing', indexingProgressSchema],
      ['last_index', lastIndexRunSchema],
      ['fusion', fusionStateSchema],
    ] as const) {
      expect(canonical(status[key]!.anyOf![0]), key).toEqual(canonical(stripSchemaKey(z.toJSONSchema(schema))));
    }
    for (const key of ['model', 'dims', 'stale_files', 'last_indexed', 'files', 'chunks'] as const) {
      expect(canonical(status[key]), key).toEqual(canonical(propertiesOf(projectStateSchema)[key]));
    }
  });
});

function stripSchemaKey(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = schema;
  return rest;
}

describe('HTTP embedder defaults', () => {
  it('dgx and openai embedders built without sizes or times start from HTTP_EMBEDDER_DEFAULTS', async () => {
    const embedders = [new DgxEmbedder({ endpoint: 'http://127.0.0.1:9/embed' }), new OpenAIEmbedder({ baseUrl: 'http://127.0.0.1:9', model: 'm' })];
    try {
      for (const embedder of embedders) {
        expect(embedder.maxBatchSize).toBe(HTTP_EMBEDDER_DEFAULTS.batchSize);
        expect(embedder.tokenBudget).toBe(HTTP_EMBEDDER_DEFAULTS.tokenBudget);
        expect(embedder.maxParallelCalls).toBe(HTTP_EMBEDDER_DEFAULTS.maxParallelCalls);
        expect(embedder.requestTimeoutMs).toBe(HTTP_EMBEDDER_DEFAULTS.requestTimeoutMs);
      }
    } finally {
      await Promise.all(embedders.map((e) => e.close()));
    }
  });
});
