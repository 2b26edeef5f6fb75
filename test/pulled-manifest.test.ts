import { describe, expect, it } from 'vitest';
import { buildPulledManifest, inferFacts, parseShippedManifest, specialTokensOf } from '../models/pulled-manifest.js';

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

  it('reads a shipped codecarto.json as the fields it gives, without filling defaults that would hide inferred facts', () => {
    const shipped = parseShippedManifest(JSON.stringify({ max_tokens: 48, id: 'copied', source: { repo: 'elsewhere' }, inputs: { pool_mask: 'pm' } }), 'the codecarto.json shipped in acme/x');
    // No pooling "none", query_instruction "" etc.: only what the file says, less the pull's own id and source.
    expect(shipped.fields).toEqual({ max_tokens: 48, inputs: { pool_mask: 'pm' } });
    expect(() => parseShippedManifest('{"dims": 3', 'the codecarto.json shipped in acme/x')).toThrow(/the codecarto.json shipped in acme\/x is not valid JSON/);
    expect(() => parseShippedManifest('[1]', 'the codecarto.json shipped in acme/x')).toThrow(/is not a codecarto model manifest: it holds an array/);
    const bad = () => parseShippedManifest('{"pooling":"max","inputs":{"input_ids":""}}', 'F');
    expect(bad).toThrow(/^F is not a valid codecarto model manifest: .*pooling: Invalid option/);
    expect(bad).toThrow(/inputs.input_ids: Too small.*--manifest '\{("inputs":"\.\.\.",?|"pooling":"\.\.\.",?){2}\}'/);
    // A field the user's --manifest replaces is not an error, and its bad value is dropped.
    expect(parseShippedManifest('{"pooling":"max","dims":8}', 'F', ['pooling']).fields).toEqual({ dims: 8 });
  });

  it('refuses a stated output the graph lacks and a graph input no manifest field feeds', () => {
    const signature = {
      inputs: [{ name: 'input_ids', dims: ['batch', 'seq'] }, { name: 'attention_mask', dims: ['batch', 'seq'] }, { name: 'pool_mask', dims: ['batch', 'seq'] }],
      outputs: [{ name: 'embeddings', dims: ['batch', 16] }],
    };
    const build = (fields: object, overrides?: object) =>
      buildPulledManifest({ repo: 'acme/x', id: 'acme/x@main', facts: { max_tokens: 64 }, signature, tokenizerJson: {}, source: undefined, shipped: { name: 'SHIPPED', fields }, overrides });
    expect(() => build({ output: 'sentence_embedding', inputs: { pool_mask: 'pool_mask' } })).toThrow(/output is "sentence_embedding" \(from SHIPPED\), which the graph does not produce/);
    expect(() => build({})).toThrow(/the graph takes "pool_mask", which no manifest input maps/);
    expect(build({ inputs: { pool_mask: 'pool_mask' } })).toMatchObject({ dims: 16, pooling: 'none', output: 'embeddings', inputs: { pool_mask: 'pool_mask' } });
    expect(() => build({ dims: 8, inputs: { pool_mask: 'pool_mask' } })).toThrow(/outputs 16-dim vectors \(embeddings\) but SHIPPED says 8/);
  });
});
