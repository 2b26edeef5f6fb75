import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ModelLoadError } from './errors/model-load-error.js';

export const MANIFEST_FILE = 'codecarto.json';
export const MODEL_FILE = 'model.onnx';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** The graph inputs a manifest maps, by role. */
export const manifestInputsSchema = z
  .object({
    input_ids: z.string().min(1),
    attention_mask: z.string().min(1),
    /** 1 for tokens that are pooled, 0 for the query instruction and padding (NV-Embed-v2's pool_mask). */
    pool_mask: z.string().min(1).optional(),
    /** Fed with zeros when the graph takes it (an input named token_type_ids is fed even when not declared). */
    token_type_ids: z.string().min(1).optional(),
    /** Fed with 0..length-1 per row when the graph takes it (decoder exports such as Qwen3's; auto-fed like token_type_ids). */
    position_ids: z.string().min(1).optional(),
  })
  .passthrough();

/**
 * The manifest's fields without the cross-field check: zod cannot make a refined object partial, and
 * a codecarto.json shipped in a hub repository is checked field by field before it is merged.
 */
export const manifestFieldsSchema = z
  .object({
    /** Model identity recorded with the vectors; when absent, derived from the directory and file hashes. */
    id: z.string().min(1).optional(),
    dims: z.number().int().positive(),
    /** Longest input in tokens (special tokens and the query instruction included); longer texts are truncated. */
    max_tokens: z.number().int().positive(),
    /** Put before queries; `{task}` is replaced by the task, e.g. "Instruct: {task}\nQuery: ". */
    query_instruction: z.string().default(''),
    default_task: z.string().default(''),
    /** Put before passages (code chunks). */
    passage_prefix: z.string().default(''),
    inputs: manifestInputsSchema,
    /** Name of the graph output holding the vectors: [batch, dims], or [batch, tokens, dims] with pooling. */
    output: z.string().min(1),
    add_bos: z.boolean().default(false),
    add_eos: z.boolean().default(false),
    /** Overrides for the tokenizer's special token ids. */
    bos_token_id: z.number().int().nonnegative().optional(),
    eos_token_id: z.number().int().nonnegative().optional(),
    pad_token_id: z.number().int().nonnegative().optional(),
    /** 'none': the graph pools itself and outputs [batch, dims]. Otherwise pool [batch, tokens, dims] here. */
    pooling: z.enum(['none', 'mean', 'cls', 'last']).default('none'),
    normalize: z.boolean().default(true),
    /**
     * For pooling done here: true pools the query instruction / passage prefix tokens too, as
     * sentence-transformers does (its Pooling include_prompt defaults to true); false leaves them out.
     */
    include_prompt: z.boolean().default(true),
    /** Where a pulled model came from (written by `codecarto models pull`); informational. */
    source: z
      .object({ repo: z.string(), revision: z.string(), commit: z.string().optional(), files: z.array(z.string()).optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

/**
 * codecarto.json: how to feed one ONNX embedding model and read its vectors.
 * Unknown keys are kept (passthrough) so newer manifests still load in older versions.
 */
export const modelManifestSchema = manifestFieldsSchema.superRefine((m, ctx) => {
  if (m.query_instruction !== '' && m.query_instruction.includes('{task}') && m.default_task === '') {
    ctx.addIssue({ code: 'custom', path: ['default_task'], message: 'query_instruction has a {task} placeholder, so default_task must be set' });
  }
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;
/** What a manifest file may omit (defaults filled in by parsing). */
export type ModelManifestInput = z.input<typeof modelManifestSchema>;

export interface ModelDir {
  dir: string;
  modelPath: string;
  tokenizerPath: string;
  /** Present only when the file exists. */
  tokenizerConfigPath: string | undefined;
  manifestPath: string;
  manifest: ModelManifest;
}

/** The instruction text put before a query: `query_instruction` with `{task}` replaced. */
export function formatQueryInstruction(manifest: ModelManifest, task: string = manifest.default_task): string {
  return manifest.query_instruction.split('{task}').join(task);
}

/** Validates a manifest object; the error names each bad field. */
export function parseModelManifest(value: unknown, source = MANIFEST_FILE): ModelManifest {
  const result = modelManifestSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`);
    throw new ModelLoadError(
      `${source} is not a valid codecarto model manifest: ${problems.join('; ')}. ` +
        'Fix those fields (see models/model-manifest.ts for the format: id, dims, max_tokens, query_instruction, default_task, inputs, output, add_bos, add_eos, pooling, normalize).',
      { cause: result.error },
    );
  }
  return result.data;
}

/**
 * Checks that `dir` is a model directory (model.onnx + tokenizer.json + codecarto.json) and reads its
 * manifest. Throws ModelLoadError listing every missing file and what to do about it.
 */
export function loadModelDir(dir: string): ModelDir {
  const abs = resolve(dir);
  if (!existsSync(abs)) {
    throw new ModelLoadError(`Model directory ${abs} does not exist. Pass a directory holding ${MODEL_FILE}, ${TOKENIZER_FILE} and ${MANIFEST_FILE} (e.g. made by \`codecarto models make-test-model <dir>\`).`);
  }
  if (!statSync(abs).isDirectory()) {
    throw new ModelLoadError(`${abs} is a file, not a model directory. Pass the directory holding ${MODEL_FILE}, ${TOKENIZER_FILE} and ${MANIFEST_FILE}.`);
  }
  const modelPath = join(abs, MODEL_FILE);
  const tokenizerPath = join(abs, TOKENIZER_FILE);
  const manifestPath = join(abs, MANIFEST_FILE);
  const missing: string[] = [];
  if (!existsSync(modelPath)) missing.push(`${MODEL_FILE} (export the model to ONNX, e.g. with the NV-Embed-v2 export recipe under models/)`);
  if (!existsSync(tokenizerPath)) missing.push(`${TOKENIZER_FILE} (copy it from the model's Hugging Face repository)`);
  if (!existsSync(manifestPath)) missing.push(`${MANIFEST_FILE} (write the manifest: dims, max_tokens, inputs, output, query_instruction, ...)`);
  if (missing.length > 0) {
    throw new ModelLoadError(`Model directory ${abs} is missing ${missing.join(', ')}.`);
  }
  let text: string;
  try {
    text = readFileSync(manifestPath, 'utf8');
  } catch (err) {
    throw new ModelLoadError(`Cannot read ${manifestPath}: ${(err as Error).message}. Check its permissions.`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${manifestPath} is not valid JSON (${(err as Error).message}). Fix the file.`, { cause: err });
  }
  const manifest = parseModelManifest(json, manifestPath);
  const configPath = join(abs, TOKENIZER_CONFIG_FILE);
  return {
    dir: abs,
    modelPath,
    tokenizerPath,
    tokenizerConfigPath: existsSync(configPath) ? configPath : undefined,
    manifestPath,
    manifest,
  };
}
