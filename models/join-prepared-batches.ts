import type { PreparedBatch } from './onnx-embedder.js';

/**
 * Joins prepared batches (e.g. one per text, tokenized when its request arrived) into one batch padded
 * to the longest row, so texts of several requests share one model run without being tokenized again.
 * Rows keep their order: row i of the result is the i-th row over `parts`, in order.
 */
export function joinPreparedBatches(parts: readonly PreparedBatch[], padTokenId: number): PreparedBatch {
  const batch = parts.reduce((sum, part) => sum + part.batch, 0);
  const length = Math.max(1, ...parts.map((part) => part.length));
  const inputIds = new BigInt64Array(batch * length).fill(BigInt(padTokenId));
  const attentionMask = new BigInt64Array(batch * length);
  const poolMask = new BigInt64Array(batch * length);
  const tokenCounts: number[] = [];
  const truncated: boolean[] = [];
  let row = 0;
  for (const part of parts) {
    for (let r = 0; r < part.batch; r++, row++) {
      const from = r * part.length;
      const count = part.tokenCounts[r];
      // Rows are right-padded, so a row's real tokens are its first `count` positions.
      inputIds.set(part.inputIds.subarray(from, from + count), row * length);
      attentionMask.set(part.attentionMask.subarray(from, from + count), row * length);
      poolMask.set(part.poolMask.subarray(from, from + count), row * length);
      tokenCounts.push(count);
      truncated.push(part.truncated[r]);
    }
  }
  return { batch, length, inputIds, attentionMask, poolMask, tokenCounts, truncated };
}
