import { ModelLoadError } from './errors/model-load-error.js';
import type { ManifestFacts } from './model-registry.js';
import { manifestFieldsSchema, manifestInputsSchema, type ModelManifestInput } from './model-manifest.js';
import type { OnnxSignature, OnnxValueInfo } from './onnx-signature.js';

/** The JSON files of a repository that say how a model embeds (each absent when the repository lacks it). */
export interface RepoMetadata {
  /** config.json (transformers). */
  config?: Record<string, unknown>;
  /** 1_Pooling/config.json (sentence-transformers). */
  pooling?: Record<string, unknown>;
  /** sentence_bert_config.json. */
  sentenceBert?: Record<string, unknown>;
  /** config_sentence_transformers.json (prompts). */
  sentenceTransformers?: Record<string, unknown>;
  /** modules.json (lists a Normalize module when the model normalizes). */
  modules?: unknown;
  tokenizerConfig?: Record<string, unknown>;
}

/** Files worth fetching to infer a manifest for a repository the registry does not know. */
export const METADATA_FILES = {
  config: 'config.json',
  pooling: '1_Pooling/config.json',
  sentenceBert: 'sentence_bert_config.json',
  sentenceTransformers: 'config_sentence_transformers.json',
  modules: 'modules.json',
} as const;

/**
 * Facts for a repository the registry does not know, from its sentence-transformers and transformers
 * metadata. What cannot be inferred is left out; `buildPulledManifest` names it.
 */
export function inferFacts(meta: RepoMetadata): Partial<ManifestFacts> {
  const facts: Partial<ManifestFacts> = {};
  const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined);
  const config = meta.config ?? {};
  facts.dims = num(meta.pooling?.word_embedding_dimension) ?? num(config.hidden_size) ?? num(config.d_model) ?? num(config.n_embd);
  // RoBERTa-family position tables carry two extra rows (padding offset) that no input can use.
  const positions = num(config.max_position_embeddings);
  const roberta = typeof config.model_type === 'string' && /roberta/.test(config.model_type);
  const modelMax = num(meta.tokenizerConfig?.model_max_length);
  facts.max_tokens =
    num(meta.sentenceBert?.max_seq_length) ??
    (positions !== undefined ? (roberta ? positions - 2 : positions) : undefined) ??
    (modelMax !== undefined && modelMax < 1_000_000 ? modelMax : undefined);
  const p = meta.pooling;
  if (p !== undefined) {
    if (p.pooling_mode_cls_token === true) facts.pooling = 'cls';
    else if (p.pooling_mode_lasttoken === true) facts.pooling = 'last';
    else if (p.pooling_mode_mean_tokens === true) facts.pooling = 'mean';
    if (typeof p.include_prompt === 'boolean') facts.include_prompt = p.include_prompt;
  }
  if (Array.isArray(meta.modules)) {
    facts.normalize = meta.modules.some((m) => typeof (m as { type?: unknown })?.type === 'string' && /Normalize$/.test((m as { type: string }).type));
    // A model without a Normalize module is still compared by cosine; normalizing keeps its ranking.
    if (!facts.normalize) facts.normalize = true;
  }
  const prompts = meta.sentenceTransformers?.prompts;
  if (prompts !== null && typeof prompts === 'object') {
    const table = prompts as Record<string, unknown>;
    const text = (key: string): string | undefined => (typeof table[key] === 'string' ? (table[key] as string) : undefined);
    const query = text('query');
    const passage = text('document') ?? text('passage') ?? text('corpus');
    // Literal braces would read as a {task} placeholder.
    if (query !== undefined && !query.includes('{task}')) facts.query_instruction = query;
    if (passage !== undefined) facts.passage_prefix = passage;
  }
  return facts;
}

/** A codecarto.json found in the repository being pulled: the fields it gives, already checked. */
export interface ShippedManifest {
  /** How messages name it, e.g. "codecarto.json in acme/x". */
  name: string;
  fields: Partial<ModelManifestInput>;
}

// Every field optional (the graph and the metadata fill the rest), each one that is given checked.
const shippedSchema = manifestFieldsSchema.partial().extend({ inputs: manifestInputsSchema.partial().optional() });
/** The pull records its own identity (repository@commit) and provenance, so a stale copied id cannot mix two versions' vectors. */
const PULL_OWNED = new Set(['id', 'source']);

/**
 * Reads a codecarto.json shipped in a hub repository. Throws a ModelLoadError naming the file and each
 * bad field, except fields in `overridden` (the user's --manifest replaces them, which is the way out).
 */
export function parseShippedManifest(text: string, name: string, overridden: readonly string[] = []): ShippedManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${name} is not valid JSON (${(err as Error).message}). Fix the file in the repository, or pull a --revision where it is valid.`, { cause: err });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ModelLoadError(`${name} is not a codecarto model manifest: it holds ${Array.isArray(json) ? 'an array' : String(json)}, not a JSON object. Fix the file in the repository.`);
  }
  const result = shippedSchema.safeParse(json);
  const allIssues = result.success ? [] : result.error.issues;
  const issues = allIssues.filter((issue) => !overridden.includes(String(issue.path[0])) && !PULL_OWNED.has(String(issue.path[0])));
  if (issues.length > 0) {
    const keys = [...new Set(issues.map((issue) => String(issue.path[0] ?? '')))].filter((k) => k !== '');
    throw new ModelLoadError(
      `${name} is not a valid codecarto model manifest: ${issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ')}. ` +
        `Fix ${keys.length === 1 ? 'that field' : 'those fields'} in the repository's file, or pull with --manifest '${JSON.stringify(Object.fromEntries(keys.map((k) => [k, '...'])))}' (it wins over the shipped file).`,
      { cause: result.error },
    );
  }
  // The raw values, not the parsed ones: parsing fills defaults (pooling "none") that would hide inferred facts.
  // What is left of a bad value is only what --manifest replaces, so it is dropped.
  const bad = allIssues.map((issue) => issue.path.map(String));
  const isBad = (...path: string[]) => bad.some((b) => b.length === path.length && b.every((part, i) => part === path[i]));
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (PULL_OWNED.has(key) || isBad(key)) continue;
    fields[key] = key === 'inputs' ? Object.fromEntries(Object.entries(value as object).filter(([role]) => !isBad(key, role))) : value;
  }
  return { name, fields: fields as Partial<ModelManifestInput> };
}

/**
 * The tokens the tokenizer's post-processor puts around a single text ([CLS] ... [SEP], <s> ... </s>):
 * codecarto encodes without special tokens and adds them itself, as add_bos/add_eos.
 */
export function specialTokensOf(tokenizerJson: Record<string, unknown>): { bos?: number; eos?: number } {
  const post = tokenizerJson.post_processor as Record<string, unknown> | null | undefined;
  return fromProcessor(post);
}

function fromProcessor(post: Record<string, unknown> | null | undefined): { bos?: number; eos?: number } {
  if (post === null || post === undefined) return {};
  const pairId = (value: unknown): number | undefined => (Array.isArray(value) && typeof value[1] === 'number' ? value[1] : undefined);
  switch (post.type) {
    case 'BertProcessing':
    case 'RobertaProcessing':
      return { bos: pairId(post.cls), eos: pairId(post.sep) };
    case 'Sequence': {
      const found: { bos?: number; eos?: number } = {};
      for (const inner of (post.processors as Record<string, unknown>[] | undefined) ?? []) Object.assign(found, fromProcessor(inner));
      return found;
    }
    case 'TemplateProcessing': {
      const single = (post.single as Record<string, { id?: string }>[] | undefined) ?? [];
      const specials = (post.special_tokens as Record<string, { ids?: number[] }> | undefined) ?? {};
      const at = single.findIndex((piece) => 'Sequence' in piece);
      const idOf = (piece: Record<string, { id?: string }> | undefined): number | undefined => {
        const name = piece?.SpecialToken?.id;
        const ids = name === undefined ? undefined : specials[name]?.ids;
        return ids?.length === 1 ? ids[0] : undefined;
      };
      if (at < 0) return {};
      // Only one token on each side fits add_bos/add_eos; more would need a prefix in the manifest.
      return { bos: at === 1 ? idOf(single[0]) : undefined, eos: single.length - at - 1 === 1 ? idOf(single[at + 1]) : undefined };
    }
    default:
      return {};
  }
}

/**
 * The graph's output to read. A sentence-transformers export's `sentence_embedding` wins: it is the
 * model's own pooling (and any layers after it). Otherwise per-token vectors when the facts name a
 * pooling, else a pooled [batch, dims] output.
 */
function pickOutput(outputs: OnnxValueInfo[], pooling: ManifestFacts['pooling']): OnnxValueInfo | undefined {
  const rank = (n: number) => outputs.filter((o) => o.dims.length === n);
  // pooler_output is BERT's tanh head for next-sentence prediction, not a sentence embedding.
  const pooled = rank(2).filter((o) => o.name !== 'pooler_output');
  const perToken = rank(3);
  const byName = (list: OnnxValueInfo[], name: string) => list.find((o) => o.name === name);
  const sentence = byName(pooled, 'sentence_embedding');
  if (sentence !== undefined) return sentence;
  if (pooling === undefined || pooling === 'none') {
    return byName(pooled, 'sentence_embedding') ?? pooled[0] ?? byName(perToken, 'last_hidden_state') ?? perToken[0];
  }
  return byName(perToken, 'last_hidden_state') ?? perToken[0] ?? byName(pooled, 'sentence_embedding') ?? pooled[0];
}

/**
 * codecarto.json for a pulled model: the facts (registry or inferred, then a codecarto.json shipped in
 * the repository, then the user's overrides, each winning over the ones before) plus the input/output
 * names read from the graph and the special tokens from the tokenizer. The result is checked against
 * the graph: a stated input or output it lacks, an input nobody feeds, or a width it does not output is
 * refused, naming who said it. Throws a ModelLoadError naming each field that is still unknown and how to supply it.
 */
export function buildPulledManifest(options: {
  repo: string;
  id: string;
  facts: Partial<ManifestFacts>;
  signature: OnnxSignature;
  tokenizerJson: Record<string, unknown>;
  source: ModelManifestInput['source'];
  /** The repository's own codecarto.json; its fields win over the registry's and the inferred ones. */
  shipped?: ShippedManifest;
  /** The user's --manifest fields; they win over everything else. */
  overrides?: Partial<ModelManifestInput>;
}): ModelManifestInput {
  const { repo, signature } = options;
  const { inputs: userInputs, output: userOutput, ...userFacts } = options.overrides ?? {};
  const { inputs: shippedInputs, output: shippedOutput, ...shippedFacts } = options.shipped?.fields ?? {};
  const facts: Partial<ManifestFacts> = { ...options.facts, ...shippedFacts, ...userFacts };
  /** What a person wrote down (shipped or --manifest), as opposed to what was inferred. */
  const stated: Partial<ModelManifestInput> = { ...shippedFacts, ...userFacts };
  const declaredInputs: Record<string, unknown> = { ...shippedInputs, ...userInputs };
  const outputName = userOutput ?? shippedOutput;
  /** Where a stated value came from, for messages. */
  const from = (inUser: boolean): string => (inUser ? 'from --manifest' : `from ${options.shipped?.name ?? 'the registry'}`);
  const inputFrom = (role: string) => from(userInputs?.[role as 'input_ids'] !== undefined);

  const inputNames = signature.inputs.map((i) => i.name);
  const outputList = () => signature.outputs.map((o) => `${o.name} [${o.dims.join(', ')}]`).join(', ') || '(none)';
  const findInput = (name: string) => inputNames.find((n) => n === name);
  const missing: string[] = [];
  const contradictions: string[] = [];
  const inputIds = (declaredInputs.input_ids as string | undefined) ?? findInput('input_ids');
  const attentionMask = (declaredInputs.attention_mask as string | undefined) ?? findInput('attention_mask');
  if (inputIds === undefined) missing.push('"inputs.input_ids" (the graph input holding token ids)');
  if (attentionMask === undefined) missing.push('"inputs.attention_mask"');

  let output: OnnxValueInfo | undefined;
  if (outputName === undefined) output = pickOutput(signature.outputs, facts.pooling);
  else {
    output = signature.outputs.find((o) => o.name === outputName);
    if (output === undefined) contradictions.push(`output is "${outputName}" (${from(userOutput !== undefined)}), which the graph does not produce`);
  }
  if (outputName === undefined && output === undefined) missing.push('"output" (the graph output holding the vectors)');
  else if (output !== undefined && output.dims.length === 2 && stated.pooling === undefined) facts.pooling = 'none';
  else if (output !== undefined && output.dims.length === 3 && stated.pooling === 'none') {
    contradictions.push(`pooling is "none" (${from('pooling' in userFacts)}) but ${output.name} holds per-token vectors [${output.dims.join(', ')}]: it needs "mean", "cls" or "last"`);
  } else if (output !== undefined && (facts.pooling === undefined || facts.pooling === 'none')) {
    missing.push('"pooling" ("mean", "cls" or "last": the model outputs per-token vectors and its repository has no 1_Pooling/config.json)');
  }
  const width = output?.dims[output.dims.length - 1];
  if (facts.dims === undefined && typeof width === 'number') facts.dims = width;
  if (facts.dims !== undefined && typeof width === 'number' && width !== facts.dims) {
    const who = 'dims' in userFacts ? '--manifest' : 'dims' in shippedFacts ? options.shipped!.name : 'its manifest';
    throw new ModelLoadError(
      `${repo}'s graph outputs ${width}-dim vectors (${output!.name}) but ${who} says ${facts.dims}. ` +
        `If the graph is right, pull with --manifest '{"dims":${width}}'; else choose another ONNX file with --file.`,
    );
  }
  if (facts.dims === undefined) missing.push('"dims" (the vector size)');
  if (facts.max_tokens === undefined) missing.push('"max_tokens" (longest input in tokens)');

  const specials = specialTokensOf(options.tokenizerJson);
  // Unknown repositories: add what the tokenizer would add; known ones say so in their facts.
  facts.add_bos ??= specials.bos !== undefined;
  facts.add_eos ??= specials.eos !== undefined;
  if (facts.add_bos && facts.bos_token_id === undefined && specials.bos !== undefined) facts.bos_token_id = specials.bos;
  if (facts.add_eos && facts.eos_token_id === undefined && specials.eos !== undefined) facts.eos_token_id = specials.eos;

  const inputs: Record<string, unknown> = { input_ids: inputIds, attention_mask: attentionMask };
  if (findInput('token_type_ids')) inputs.token_type_ids = 'token_type_ids';
  if (findInput('position_ids')) inputs.position_ids = 'position_ids';
  Object.assign(inputs, declaredInputs);
  // The same rules OnnxEmbedder applies when it loads the model, checked before anything is installed.
  for (const role of FED_ROLES) {
    const name = inputs[role];
    if (name !== undefined && !inputNames.includes(name as string) && (role in declaredInputs)) {
      contradictions.push(`inputs.${role} is "${name}" (${inputFrom(role)}), which the graph does not take`);
    }
  }
  const fed = new Set([...FED_ROLES.map((role) => inputs[role]), 'token_type_ids', 'position_ids']);
  const unfed = inputNames.filter((name) => !fed.has(name));
  if (unfed.length > 0 && inputIds !== undefined && attentionMask !== undefined) {
    contradictions.push(`the graph takes ${unfed.map((n) => `"${n}"`).join(', ')}, which no manifest input maps (e.g. --manifest '{"inputs":{"pool_mask":"${unfed[0]}"}}')`);
  }
  if (contradictions.length > 0) {
    throw new ModelLoadError(
      `${repo}'s model.onnx does not match its manifest: ${contradictions.join('; ')}. ` +
        `The graph's inputs are ${inputNames.join(', ') || '(none)'} and its outputs ${outputList()}. ` +
        `Pull with --manifest '{...}' naming the right ones (it wins over ${options.shipped === undefined ? 'what was inferred' : `${options.shipped.name} and what was inferred`}), or choose another ONNX file with --file.`,
    );
  }

  if (missing.length > 0) {
    const example = JSON.stringify(Object.fromEntries(missing.map((m) => /"([^"]+)"/.exec(m)![1]).map((k) => [k, '...'])));
    throw new ModelLoadError(
      `Cannot write codecarto.json for ${repo}: its repository does not say ${missing.join(', ')}. ` +
        `Supply them from the model card: codecarto models pull ${repo} --manifest '${example}'. ` +
        `The graph's inputs are ${inputNames.join(', ') || '(none)'} and its outputs ${outputList()}.`,
    );
  }
  return {
    id: options.id,
    ...facts,
    dims: facts.dims!,
    max_tokens: facts.max_tokens!,
    inputs: inputs as ModelManifestInput['inputs'],
    output: output!.name,
    source: options.source,
  };
}

/** The input roles OnnxEmbedder feeds (token_type_ids and position_ids also by their usual names). */
const FED_ROLES = ['input_ids', 'attention_mask', 'pool_mask', 'token_type_ids', 'position_ids'] as const;
