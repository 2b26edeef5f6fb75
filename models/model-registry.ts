import { CODE_SEARCH_TASK } from './query-instruction.js';
import type { ModelManifestInput } from './model-manifest.js';

/**
 * What a manifest says about a model's behaviour, written by hand from its model card. The graph's
 * input and output names are not here: `models pull` reads them from the downloaded model.onnx.
 * BOS/EOS ids may be left out when the tokenizer.json's post-processor adds them ([CLS]/[SEP], <s>/</s>).
 */
export type ManifestFacts = Pick<
  ModelManifestInput,
  | 'dims'
  | 'max_tokens'
  | 'pooling'
  | 'normalize'
  | 'include_prompt'
  | 'query_instruction'
  | 'default_task'
  | 'passage_prefix'
  | 'add_bos'
  | 'add_eos'
  | 'bos_token_id'
  | 'eos_token_id'
  | 'pad_token_id'
>;

export interface KnownModel {
  /** Install name: `$CODECARTO_HOME/models/<name>`, and what `set_project(model: ...)` takes. */
  name: string;
  /** Hugging Face repository holding the ONNX export and the tokenizer. */
  repo: string;
  revision: string;
  summary: string;
  /** ONNX file in the repository (installed as model.onnx). Absent when the model cannot be pulled. */
  onnxFile?: string;
  /** External-data files of that ONNX file; installed beside model.onnx under their own names, which the graph references. */
  externalData?: string[];
  /** Approximate download, for `models list`. */
  downloadMb?: number;
  /** Pinned SHA-256 (hex) per repository path; checked in addition to the hub's X-Linked-Etag. */
  sha256?: Record<string, string>;
  facts: ManifestFacts;
  /** Where each fact comes from, and what was not checked. */
  provenance: string;
  /** Set when there is no ONNX file to pull: what to do instead. */
  notPullable?: string;
}


/**
 * Known models. Facts come from the model cards as of 2025 (no hub access when this was written):
 * revisions are "main" and no SHA-256 is pinned, so integrity rests on the hub's X-Linked-Etag (the
 * SHA-256 of every LFS file) and git blob ids for small files. If a repository moves a file, the pull
 * fails with a 404 naming it; `--file` picks another ONNX file in the same repository.
 */
export const KNOWN_MODELS: readonly KnownModel[] = [
  {
    name: 'all-minilm-l6-v2',
    repo: 'sentence-transformers/all-MiniLM-L6-v2',
    revision: 'main',
    summary: 'tiny general-purpose English model, fast on any CPU (384 dims)',
    onnxFile: 'onnx/model.onnx',
    downloadMb: 90,
    facts: {
      dims: 384,
      max_tokens: 256,
      pooling: 'mean',
      normalize: true,
      add_bos: true,
      add_eos: true,
    },
    provenance:
      'Card: 384 dims, mean pooling then normalization, input truncated at 256 word pieces, no prefixes. ' +
      'onnx/model.onnx is the sentence-transformers ONNX backend export (transformer only, last_hidden_state).',
  },
  {
    name: 'jina-embeddings-v2-base-code',
    repo: 'jinaai/jina-embeddings-v2-base-code',
    revision: 'main',
    summary: 'code-specific model, 30 programming languages, 8k context (768 dims)',
    onnxFile: 'onnx/model.onnx',
    downloadMb: 640,
    facts: {
      dims: 768,
      max_tokens: 8192,
      pooling: 'mean',
      normalize: true,
      add_bos: true,
      add_eos: true,
    },
    provenance:
      'Card: 768 dims, mean pooling, 8192-token sequences (ALiBi), no query or passage prefixes, cosine similarity. ' +
      'The onnx/model.onnx path is from the repository listing as remembered, not checked here.',
  },
  {
    name: 'bge-small-en-v1.5',
    repo: 'BAAI/bge-small-en-v1.5',
    revision: 'main',
    summary: 'strong small English retriever (384 dims)',
    onnxFile: 'onnx/model.onnx',
    downloadMb: 130,
    facts: {
      dims: 384,
      max_tokens: 512,
      pooling: 'cls',
      normalize: true,
      query_instruction: 'Represent this sentence for searching relevant passages: ',
      passage_prefix: '',
      add_bos: true,
      add_eos: true,
    },
    provenance:
      'Card: 384 dims, CLS pooling then normalization, max length 512, query instruction ' +
      '"Represent this sentence for searching relevant passages: " for short-query retrieval, none for passages.',
  },
  {
    name: 'nomic-embed-text-v1.5',
    repo: 'nomic-ai/nomic-embed-text-v1.5',
    revision: 'main',
    summary: 'strong retriever with 8k context, task prefixes (768 dims)',
    onnxFile: 'onnx/model.onnx',
    downloadMb: 550,
    facts: {
      dims: 768,
      max_tokens: 8192,
      pooling: 'mean',
      normalize: true,
      query_instruction: 'search_query: ',
      passage_prefix: 'search_document: ',
      add_bos: true,
      add_eos: true,
    },
    provenance:
      'Card: 768 dims (Matryoshka; full size used), mean pooling then normalization, 8192 tokens, ' +
      'prefixes "search_query: " for queries and "search_document: " for documents.',
  },
  {
    name: 'qwen3-embedding-0.6b',
    repo: 'onnx-community/Qwen3-Embedding-0.6B-ONNX',
    revision: 'main',
    summary: 'Qwen3-Embedding 0.6B, instruction-aware multilingual retriever incl. code (1024 dims)',
    onnxFile: 'onnx/model.onnx',
    externalData: ['onnx/model.onnx_data'],
    downloadMb: 2400,
    facts: {
      dims: 1024,
      // The card allows 32k tokens; chunks are far shorter and 8k bounds memory on a laptop.
      max_tokens: 8192,
      pooling: 'last',
      normalize: true,
      query_instruction: 'Instruct: {task}\nQuery:',
      default_task: CODE_SEARCH_TASK,
      passage_prefix: '',
      add_bos: false,
      add_eos: true,
      // <|endoftext|>: the card's tokenizer appends it and last-token pooling reads it.
      eos_token_id: 151643,
      pad_token_id: 151643,
    },
    provenance:
      'Card (Qwen/Qwen3-Embedding-0.6B): 1024 dims (MRL), last-token pooling, normalization, queries as ' +
      '"Instruct: {task}\\nQuery:{query}", documents without instruction, <|endoftext|> (151643) appended. ' +
      'The ONNX export is fp32 with external data; smaller precisions in its onnx/ folder can be chosen with --file.',
  },
  {
    name: 'nv-embed-v2',
    repo: 'nvidia/NV-Embed-v2',
    revision: 'main',
    summary: 'NV-Embed-v2 7B (4096 dims): DGX or export recipe; no ONNX on the hub',
    facts: {
      dims: 4096,
      max_tokens: 32768,
      pooling: 'none',
      normalize: true,
      query_instruction: 'Instruct: {task}\nQuery: ',
      default_task: CODE_SEARCH_TASK,
      passage_prefix: '',
      add_bos: true,
      add_eos: true,
    },
    provenance:
      'Card: 4096 dims, latent-attention pooling inside the model (instruction tokens masked out), ' +
      'queries as "Instruct: {task}\\nQuery: ", max length 32768, Mistral-7B tokenizer.',
    notPullable:
      'nvidia/NV-Embed-v2 is published as PyTorch weights with custom code, not as ONNX, so it cannot be pulled. ' +
      'Export it with the recipe in models/nv-embed-v2/ (see its README), which writes model.onnx, tokenizer.json and ' +
      'codecarto.json; put that directory at $CODECARTO_HOME/models/nv-embed-v2/ or pass its path as model. ' +
      'Or serve it on the DGX and use provider "dgx".',
  },
];

/** The known model with this install name or repository (case-insensitive). */
export function findKnownModel(spec: string, registry: readonly KnownModel[] = KNOWN_MODELS): KnownModel | undefined {
  const key = spec.toLowerCase();
  return registry.find((m) => m.name.toLowerCase() === key || m.repo.toLowerCase() === key);
}
