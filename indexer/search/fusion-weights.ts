/**
 * The weight of the semantic list in hybrid search's rank fusion, as calibrated for this index's model
 * on the repository's own history (indexer/history/fusion-calibration.ts). Stored in the index's meta table, so
 * it goes with the vectors it was measured on.
 */
import type { IndexStore } from '../store/store-types.js';

export const FUSION_META_KEY = 'fusion_calibration';

export interface FusionCalibration {
  /** The model whose vectors were measured; another model's vectors start again at weight 1. */
  model_id: string;
  semantic_weight: number;
  /** 'calibrated': chosen by measurement; 'default': plain fusion (weight 1), for the reason given. */
  method: 'calibrated' | 'default';
  reason?: string;
  /** HEAD of the history the queries came from. */
  head?: string;
  /** Queries measured, and how many of the newest were left out (kept for `codecarto eval`). */
  queries: number;
  held_out_newest: number;
  /** MRR@10 of each ranking on those queries; hybrid per semantic weight. */
  mrr_at_10?: { lexical: number; semantic: number; hybrid: Record<string, number> };
  at: string;
}

/** The calibration stored for `modelId`'s vectors, or null. */
export function storedFusion(store: IndexStore, modelId: string): FusionCalibration | null {
  const raw = store.getMeta(FUSION_META_KEY);
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as FusionCalibration;
    return parsed.model_id === modelId && Number.isFinite(parsed.semantic_weight) ? parsed : null;
  } catch {
    return null;
  }
}

/** Hybrid's semantic weight for `modelId`: the calibrated one, else 1 (plain reciprocal rank fusion). */
export function semanticWeightFor(store: IndexStore, modelId: string): number {
  return storedFusion(store, modelId)?.semantic_weight ?? 1;
}
