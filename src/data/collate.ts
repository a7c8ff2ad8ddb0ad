// Batches with dynamic padding, and the samplers that order them.
import { Tensor } from '../tensor/tensor';
import { Feature } from './features';
import { Task } from './tasks';
import { CollateContext, taskSpec } from './specs';

export interface Batch {
  inputIds: Tensor; // (B, T) int64
  /** (B, T) int64, 1 for real tokens; null: every token is real (packed causal-lm batches) */
  attentionMask: Tensor | null;
  tokenTypeIds: Tensor | null; // (B, T) int64
  /** (B, T) int64: positions restarting at each packed document; null: 0..T-1 */
  positionIds?: Tensor | null;
  labels: Tensor | null; // (B) int64 | (B, L) float | (B) float | (B, T) int64
  startPositions: Tensor | null; // (B) int64, QA
  endPositions: Tensor | null;
  /** non-ignored targets in this batch: what the loss is normalised by across accumulation */
  numItems: number;
}

/** Pads features into a batch for a task (its spec's collate); ctx: for tasks that draw targets per batch (masked-lm). */
export function collate(features: Feature[], task: Task, padId: number, ctx?: CollateContext): Batch {
  return taskSpec(task).collate(features, padId, ctx);
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
