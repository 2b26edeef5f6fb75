/**
 * IEEE 754 half precision, the on-disk format of stored vectors: half the bytes of float32, and HNSW
 * recall after a rebuild from it stays within the float32 figure (docs/performance.md, "float16 vectors").
 * Node 20 has no Float16Array, so both directions are done by hand.
 */

import { endianness } from 'node:os';

const LITTLE_ENDIAN = endianness() === 'LE';
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds to the nearest half (ties to even); overflow saturates to ±Infinity, as a cast would. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit bit, rounding to nearest even.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1) !== 0) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1) !== 0) ? 1 : 0));
}

/** Every half's float32 value, so decoding is one table read per component. */
const HALF_TO_FLOAT = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) table[h] = mant === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return table;
})();

/** Little-endian half-precision bytes of a vector. */
export function encodeHalf(vector: ArrayLike<number>): Buffer {
  const buf = Buffer.allocUnsafe(vector.length * 2);
  for (let i = 0; i < vector.length; i++) buf.writeUInt16LE(toHalf(vector[i]), i * 2);
  return buf;
}

/**
 * Cosine similarity of a half-precision vector (little-endian bytes) to `unitQuery` (length 1), read in one
 * pass without decoding it into an array: rescoring a search's candidates reads ~300 such vectors, and
 * decoding each first took most of the time. Four partial sums let the loop's adds run in parallel.
 */
export function halfCosine(blob: Uint8Array, unitQuery: Float32Array): number {
  const n = blob.length >>> 1;
  if (n !== unitQuery.length) throw new Error(`halfCosine: the vector has ${n} dims, the query ${unitQuery.length}`);
  // A view reads the halves in place where the platform is little-endian and the bytes are 2-aligned.
  const halves = LITTLE_ENDIAN && blob.byteOffset % 2 === 0 ? new Uint16Array(blob.buffer, blob.byteOffset, n) : halvesOf(blob);
  const q = unitQuery;
  let d0 = 0, d1 = 0, d2 = 0, d3 = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a = HALF_TO_FLOAT[halves[i]], b = HALF_TO_FLOAT[halves[i + 1]], c = HALF_TO_FLOAT[halves[i + 2]], d = HALF_TO_FLOAT[halves[i + 3]];
    d0 += a * q[i];
    d1 += b * q[i + 1];
    d2 += c * q[i + 2];
    d3 += d * q[i + 3];
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (; i < n; i++) {
    const a = HALF_TO_FLOAT[halves[i]];
    d0 += a * q[i];
    s0 += a * a;
  }
  return (d0 + d1 + d2 + d3) / (Math.sqrt(s0 + s1 + s2 + s3) || 1);
}

function halvesOf(blob: Uint8Array): Uint16Array {
  const out = new Uint16Array(blob.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = blob[2 * i] | (blob[2 * i + 1] << 8);
  return out;
}

export function decodeHalf(blob: Uint8Array): Float32Array {
  const n = blob.length >>> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = HALF_TO_FLOAT[blob[2 * i] | (blob[2 * i + 1] << 8)];
  return out;
}

/** The vector as it reads back after a round trip through float16. */
export function roundToHalf(vector: ArrayLike<number>): Float32Array {
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = HALF_TO_FLOAT[toHalf(vector[i])];
  return out;
}
