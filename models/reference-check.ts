import { cosineSimilarity } from './vector-math.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelLoadError } from './errors/model-load-error.js';
import { OnnxEmbedder, type OnnxDevice } from './onnx-embedder.js';

/** reference.json as the export recipe writes it; only the fields read here. */
const referenceSchema = z.object({
  min_cosine: z.number().default(0.999),
  texts: z
    .array(
      z.object({
        purpose: z.enum(['passage', 'query']),
        text: z.string(),
        input_ids: z.array(z.number().int()).optional(),
        embedding: z.array(z.number()),
      }),
    )
    .min(1),
});

export interface ReferenceCheck {
  ok: boolean;
  texts: number;
  worst_cosine: number;
  min_cosine: number;
  /** Execution provider the embedder actually used. */
  execution_provider: 'cuda' | 'cpu';
  /** Texts whose token ids differ from the ones PyTorch was given (tokenizer or instruction mismatch). */
  token_mismatches: number;
  detail: string;
}

/**
 * Embeds the texts of the model directory's reference.json with codecarto's onnx embedder and compares them
 * with the PyTorch vectors the export recipe stored: the end-to-end check of export, tokenizer, instruction,
 * pool mask and execution provider together.
 */
export async function checkAgainstReference(modelDir: string, device: OnnxDevice): Promise<ReferenceCheck> {
  const path = join(modelDir, 'reference.json');
  let reference;
  try {
    reference = referenceSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new ModelLoadError(`Cannot use ${path} (${(err as Error).message}); run the export recipe again to write it.`, { cause: err });
  }
  const embedder = await OnnxEmbedder.create({ modelDir, device });
  try {
    let worst = 1;
    let mismatches = 0;
    for (const purpose of ['passage', 'query'] as const) {
      const items = reference.texts.filter((t) => t.purpose === purpose);
      if (items.length === 0) continue;
      const prepared = embedder.prepareBatch(items.map((t) => t.text), purpose);
      items.forEach((item, row) => {
        if (item.input_ids === undefined) return;
        const ids = Array.from(prepared.inputIds.subarray(row * prepared.length, row * prepared.length + prepared.tokenCounts[row]), Number);
        if (ids.length !== item.input_ids.length || ids.some((id, i) => id !== item.input_ids![i])) mismatches++;
      });
      const { embeddings } = await embedder.embed({ texts: items.map((t) => t.text), purpose });
      embeddings.forEach((vector, i) => (worst = Math.min(worst, cosineSimilarity(vector, items[i].embedding))));
    }
    const ok = worst >= reference.min_cosine && mismatches === 0;
    const detail = ok
      ? `${reference.texts.length} reference texts match PyTorch on ${embedder.executionProvider} (worst cosine ${worst.toFixed(6)})`
      : `reference texts do not match PyTorch on ${embedder.executionProvider}: worst cosine ${worst.toFixed(6)} (need ${reference.min_cosine})` +
        (mismatches > 0 ? `, ${mismatches} texts tokenized differently (check tokenizer.json and codecarto.json's add_bos/add_eos/query_instruction)` : '');
    return { ok, texts: reference.texts.length, worst_cosine: worst, min_cosine: reference.min_cosine, execution_provider: embedder.executionProvider, token_mismatches: mismatches, detail };
  } finally {
    await embedder.close();
  }
}

