import { ModelLoadError } from './errors.js';
import type { ManifestFacts } from './model-registry.js';
import type { ModelManifestInput } from './model-manifest.js';
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
 * codecarto.json for a pulled model: the facts (registry or inferred, then the user's overrides) plus
 * the input/output names read from the graph and the special tokens from the tokenizer. Throws a
 * ModelLoadError naming each field that is still unknown and how to supply it.
 */
export function buildPulledManifest(options: {
  repo: string;
  id: string;
  facts: Partial<ManifestFacts>;
  signature: OnnxSignature;
  tokenizerJson: Record<string, unknown>;
  source: ModelManifestInput['source'];
  /** The user's --manifest fields; they win over everything else. */
  overrides?: Partial<ModelManifestInput>;
}): ModelManifestInput {
  const { repo, signature } = options;
  const { inputs: inputOverrides, output: outputOverride, ...factOverrides } = options.overrides ?? {};
  const facts: Partial<ManifestFacts> = { ...options.facts, ...factOverrides };
  const inputNames = signature.inputs.map((i) => i.name);
  const findInput = (name: string) => inputNames.find((n) => n === name);
  const missing: string[] = [];
  const inputIds = inputOverrides?.input_ids ?? findInput('input_ids');
  const attentionMask = inputOverrides?.attention_mask ?? findInput('attention_mask');
  if (inputIds === undefined) missing.push('"inputs.input_ids" (the graph input holding token ids)');
  if (attentionMask === undefined) missing.push('"inputs.attention_mask"');

  const output =
    outputOverride === undefined
      ? pickOutput(signature.outputs, facts.pooling)
      : (signature.outputs.find((o) => o.name === outputOverride) ?? { name: outputOverride, dims: [] });
  if (output === undefined) missing.push('"output" (the graph output holding the vectors)');
  else if (output.dims.length === 2 && factOverrides.pooling === undefined) facts.pooling = 'none';
  else if (facts.pooling === undefined || facts.pooling === 'none') {
    missing.push('"pooling" ("mean", "cls" or "last": the model outputs per-token vectors and its repository has no 1_Pooling/config.json)');
  }
  const width = output?.dims[output.dims.length - 1];
  if (facts.dims === undefined && typeof width === 'number') facts.dims = width;
  if (facts.dims !== undefined && typeof width === 'number' && width !== facts.dims) {
    throw new ModelLoadError(
      `${repo}'s graph outputs ${width}-dim vectors (${output!.name}) but its manifest says ${facts.dims}. ` +
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

  if (missing.length > 0) {
    const example = JSON.stringify(Object.fromEntries(missing.map((m) => /"([^"]+)"/.exec(m)![1]).map((k) => [k, '...'])));
    throw new ModelLoadError(
      `Cannot write codecarto.json for ${repo}: its repository does not say ${missing.join(', ')}. ` +
        `Supply them from the model card: codecarto models pull ${repo} --manifest '${example}'. ` +
        `The graph's inputs are ${inputNames.join(', ') || '(none)'} and its outputs ${signature.outputs.map((o) => `${o.name} [${o.dims.join(', ')}]`).join(', ') || '(none)'}.`,
    );
  }
  const inputs: Record<string, string> = { input_ids: inputIds!, attention_mask: attentionMask! };
  if (findInput('token_type_ids')) inputs.token_type_ids = 'token_type_ids';
  if (findInput('position_ids')) inputs.position_ids = 'position_ids';
  Object.assign(inputs, inputOverrides);
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
