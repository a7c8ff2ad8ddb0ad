// Batches with dynamic padding, and the samplers that order them.
import { Tensor } from '../tensor/tensor';
import { Feature } from './features';
import { Task } from './tasks';
import { CollateContext, taskSpec } from './specs';
import { empty, randperm } from '../tensor/create';
import { tidy } from '../tensor/scope';

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

/** A small seeded PRNG (mulberry32): what masked-lm collation draws each feature's targets with. */
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

export type SamplerKind = 'random' | 'sequential' | 'group-by-length';

/**
 * The order of one epoch, as transformers' Trainer draws it for the same seed:
 * - 'sequential': 0..n-1 (SequentialSampler);
 * - 'random': torch.randperm(n) from a generator seeded with seed + epoch (accelerate's
 *   SeedableRandomSampler, which the Trainer's RandomSampler becomes);
 * - 'group-by-length': LengthGroupedSampler: a permutation from `generator`, cut into
 *   megabatches of min(n / (4 x batchSize), 50) batches (at least 1), each sorted by length,
 *   longest first (ties keep their order), then the longest megabatch's first row swapped with
 *   the first. `generator`: a seed, a CPU generator state, or absent: the default CPU generator,
 *   advanced (transformers draws it there, at the start of each epoch).
 * `batchSize` is what one optimizer step takes (with accumulation, transformers' batch size x
 * gradient_accumulation_steps).
 */
export function epochOrder(kind: SamplerKind, n: number, seed: number, epoch: number, batchSize: number, lengths: ArrayLike<number>, generator?: number | Buffer): number[] {
  if (kind === 'sequential' || n === 0) return Array.from({ length: n }, (_, i) => i);
  if (kind === 'random') return permutationOf(n, seed + epoch);
  const p = permutationOf(n, generator);
  const mega = Math.max(1, Math.min(Math.floor(n / (batchSize * 4)), 50)) * batchSize;
  const groups: number[][] = [];
  for (let i = 0; i < n; i += mega) groups.push(p.slice(i, i + mega).sort((a, b) => lengths[b] - lengths[a]));
  // the longest batch of all goes first, so that memory runs out at once if it will
  let best = 0;
  groups.forEach((g, i) => {
    if (lengths[g[0]] > lengths[groups[best][0]]) best = i;
  });
  const [g0, gb] = [groups[0], groups[best]];
  [g0[0], gb[0]] = [gb[0], g0[0]];
  return groups.flat();
}

function permutationOf(n: number, generator?: number | Buffer): number[] {
  return tidy(() => Array.from(randperm(n, generator).toArray() as BigInt64Array, Number));
}

/**
 * What a PyTorch DataLoader draws from the default CPU generator when a pass over it starts (a
 * training epoch, an evaluation): its workers' base seed, torch.empty((), dtype=torch.int64)
 * .random_(). fulltune has no workers, but draws it too, so that the dropout masks after it are
 * transformers' Trainer's.
 */
export function dataLoaderDraw(): void {
  tidy(() => {
    empty([], { dtype: 'int64' }).random_();
  });
}
