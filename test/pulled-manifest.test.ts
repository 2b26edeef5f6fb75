import { describe, expect, it } from 'vitest';
import { buildPulledManifest, inferFacts, specialTokensOf } from '../models/pulled-manifest.js';

describe('manifests for pulled models', () => {
  it('reads the tokens a tokenizer adds around a text from each post-processor kind', () => {
    expect(specialTokensOf({ post_processor: { type: 'BertProcessing', cls: ['[CLS]', 101], sep: ['[SEP]', 102] } })).toEqual({ bos: 101, eos: 102 });
    expect(specialTokensOf({ post_processor: { type: 'RobertaProcessing', cls: ['<s>', 0], sep: ['</s>', 2] } })).toEqual({ bos: 0, eos: 2 });
    // Qwen3-Embedding style: byte-level then a template that appends <|endoftext|>.
    const qwen = {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel' },
        {
          type: 'TemplateProcessing',
          single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 0 } }],
          special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [151643], tokens: ['<|endoftext|>'] } },
        },
      ],
    };
    expect(specialTokensOf({ post_processor: qwen })).toEqual({ bos: undefined, eos: 151643 });
    expect(specialTokensOf({ post_processor: null })).toEqual({});
  });

  it('infers facts from sentence-transformers and transformers metadata', () => {
    expect(
      inferFacts({
        config: { model_type: 'xlm-roberta', hidden_size: 1024, max_position_embeddings: 514 },
        pooling: { pooling_mode_cls_token: true, include_prompt: false },
        sentenceTransformers: { prompts: { query: 'query: ', passage: 'passage: ' } },
      }),
    ).toMatchObject({ dims: 1024, max_tokens: 512, pooling: 'cls', include_prompt: false, query_instruction: 'query: ', passage_prefix: 'passage: ' });
    expect(inferFacts({ pooling: { pooling_mode_lasttoken: true }, tokenizerConfig: { model_max_length: 1e30 } })).toEqual({ dims: undefined, max_tokens: undefined, pooling: 'last' });
  });

  it('refuses a registry dims that the graph contradicts, saying how to override', () => {
    const build = () =>
      buildPulledManifest({
        repo: 'acme/x',
        id: 'acme/x@main',
        facts: { dims: 384, max_tokens: 512, pooling: 'mean' },
        signature: {
          inputs: [{ name: 'input_ids', dims: ['batch', 'seq'] }, { name: 'attention_mask', dims: ['batch', 'seq'] }],
          outputs: [{ name: 'last_hidden_state', dims: ['batch', 'seq', 768] }],
        },
        tokenizerJson: {},
        source: undefined,
      });
    expect(build).toThrow(/outputs 768-dim vectors \(last_hidden_state\) but its manifest says 384.*--manifest '\{"dims":768\}'/);
  });
});
