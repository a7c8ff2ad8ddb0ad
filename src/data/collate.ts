// Batches with dynamic padding, and the samplers that order them.
import { tensor } from '../tensor/create';
import { Tensor } from '../tensor/tensor';
import { Feature } from './features';
import { Task } from './tasks';

export interface Batch {
  inputIds: Tensor; // (B, T) int64
  attentionMask: Tensor; // (B, T) int64
  tokenTypeIds: Tensor | null; // (B, T) int64
  /** (B, T) int64: positions restarting at each packed document; null: 0..T-1 */
  positionIds?: Tensor | null;
  labels: Tensor | null; // (B) int64 | (B, L) float | (B) float | (B, T) int64
  startPositions: Tensor | null; // (B) int64, QA
  endPositions: Tensor | null;
  /** non-ignored targets in this batch: what the loss is normalised by across accumulation */
  numItems: number;
}

/** Pads features to the longest in the batch (rounded up to padToMultipleOf). */
export function collate(features: Feature[], task: Task, padId: number, padToMultipleOf = 1): Batch {
  const B = features.length;
  let T = Math.max(...features.map((f) => f.ids.length));
  T = Math.ceil(T / padToMultipleOf) * padToMultipleOf;
  const ids = new Float64Array(B * T).fill(padId);
  const mask = new Float64Array(B * T);
  const anyTT = features.some((f) => f.tt);
  const tt = anyTT ? new Float64Array(B * T) : null;
  const tokLabels = task === 'token-classification' ? new Float64Array(B * T).fill(-100) : null;
  features.forEach((f, b) => {
    f.ids.forEach((id, t) => {
      ids[b * T + t] = id;
      mask[b * T + t] = 1;
    });
    if (tt && f.tt) f.tt.forEach((v, t) => (tt[b * T + t] = v));
    if (tokLabels && Array.isArray(f.label)) (f.label as number[]).forEach((v, t) => (tokLabels[b * T + t] = v));
  });
  const i64 = (a: Float64Array, shape: number[]) => tensor(a, { shape, dtype: 'int64' });
  const hasLabels = features[0].label !== undefined || features[0].start !== undefined;
  let labels: Tensor | null = null;
  let numItems = B;
  if (hasLabels && task !== 'question-answering') {
    if (task === 'token-classification') {
      labels = i64(tokLabels!, [B, T]);
      numItems = tokLabels!.reduce((n, v) => n + (v !== -100 ? 1 : 0), 0);
    } else if (task === 'multi-label') {
      const L = (features[0].label as number[]).length;
      labels = tensor(Float32Array.from(features.flatMap((f) => f.label as number[])), { shape: [B, L] });
      numItems = B * L;
    } else if (task === 'regression') {
      labels = tensor(Float32Array.from(features.map((f) => f.label as number)), { shape: [B] });
    } else {
      labels = i64(Float64Array.from(features.map((f) => f.label as number)), [B]);
    }
  }
  const qa = hasLabels && task === 'question-answering';
  return {
    inputIds: i64(ids, [B, T]),
    attentionMask: i64(mask, [B, T]),
    tokenTypeIds: tt ? i64(tt, [B, T]) : null,
    labels,
    startPositions: qa ? i64(Float64Array.from(features.map((f) => f.start!)), [B]) : null,
    endPositions: qa ? i64(Float64Array.from(features.map((f) => f.end!)), [B]) : null,
    numItems,
  };
}

/** A small seeded PRNG (mulberry32): the data order depends on nothing but the seed and epoch. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function permutation(n: number, rand: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

export type SamplerKind = 'random' | 'sequential' | 'group-by-length';

/**
 * The order of one epoch: sequential, a seeded shuffle, or Hugging Face's group_by_length
 * (shuffle, cut into megabatches of 50 batches, sort each by length, longest batch first).
 */
export function epochOrder(kind: SamplerKind, n: number, seed: number, epoch: number, batchSize: number, lengths: ArrayLike<number>): number[] {
  if (kind === 'sequential') return Array.from({ length: n }, (_, i) => i);
  const rand = prng((seed * 1000003 + epoch) >>> 0);
  const p = permutation(n, rand);
  if (kind === 'random') return p;
  const mega = 50 * batchSize;
  const groups: number[][] = [];
  for (let i = 0; i < n; i += mega) groups.push(p.slice(i, i + mega).sort((a, b) => lengths[b] - lengths[a]));
  // the longest batch of all goes first, so that memory runs out at once if it will
  let best = 0;
  groups.forEach((g, i) => {
    if (lengths[g[0]] > lengths[groups[best][0]]) best = i;
  });
  if (best !== 0) {
    const [g0, gb] = [groups[0], groups[best]];
    [g0[0], gb[0]] = [gb[0], g0[0]];
  }
  return groups.flat();
}
