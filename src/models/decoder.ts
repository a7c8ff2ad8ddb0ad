// What decoder families share: the attention mask as transformers builds it for SDPA (causal,
// padding, sliding window, packed documents), the key-value cache generation writes into, and
// the pooling of sequence classification heads.
import { noGrad } from '../tensor/autograd';
import { arange, empty, zeros } from '../tensor/create';
import { cat } from '../tensor/functional';
import { DType, Device } from '../tensor/dtype';
import { keep } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { LossReduction } from './losses';

export interface DecoderInputs {
  /** (B, T) int64 token ids */
  inputIds: Tensor;
  /** (B, past + T), 1 where a token is real and 0 where it is padding; absent: all real */
  attentionMask?: Tensor | null;
  /**
   * (B, T) int64 positions; absent: past..past+T-1. Without an attention mask and a cache,
   * positions that restart mark packed documents, which then do not attend to each other
   * (transformers' find_packed_sequence_indices).
   */
  positionIds?: Tensor | null;
  /** The key-value cache of earlier tokens (generation); written in place. */
  cache?: KVCache | null;
  /** (B, T) int64 targets; -100 is ignored. Causal LMs shift them inside (as transformers). */
  labels?: Tensor | null;
  /** 'mean' (transformers' default) or 'sum' over the targets (a Trainer normalising over an accumulated batch). */
  lossReduction?: LossReduction;
}

/** Where attention may look: a bool mask (B or 1, 1, Tq, Tk), or none with SDPA's causal flag. */
export interface AttentionPattern {
  mask: Tensor | null;
  isCausal: boolean;
}

/** Positions past..past+T-1 as (1, T) int64. */
export function defaultPositions(T: number, past: number, device: Device): Tensor {
  return arange(past, past + T, 1, { dtype: 'int64', device }).unsqueeze(0);
}

/**
 * transformers' create_causal_mask for SDPA: key j is visible to query i (at absolute position
 * past + i) when j <= past + i, the key is not padding, within the sliding window when there is
 * one (j > past + i - window), and in the same packed document. When only causality applies,
 * no mask is built and SDPA's causal flag (or, for one query, nothing) does the work.
 */
export function attentionPattern(o: {
  attentionMask: Tensor | null | undefined;
  positionIds: Tensor | null | undefined;
  batch: number;
  queries: number;
  past: number;
  slidingWindow?: number | null;
  device: Device;
}): AttentionPattern {
  const Tq = o.queries;
  const Tk = o.past + Tq;
  let padding: Tensor | null = null;
  if (o.attentionMask) {
    const m = o.attentionMask.dtype === 'bool' ? o.attentionMask : o.attentionMask.ne(0); // (B, Tk)
    if (m.size(1) !== Tk) throw new RangeError(`attentionMask has ${m.size(1)} positions; expected ${Tk} (${o.past} cached + ${Tq} new)`);
    if (m.logicalNot().sum().item() !== 0) padding = m;
  }
  let segments: Tensor | null = null;
  if (!o.attentionMask && o.positionIds && o.past === 0) {
    const p = o.positionIds.size(0) === o.batch ? o.positionIds : o.positionIds.expand(o.batch, Tq);
    // a new document starts wherever a position is not its predecessor + 1
    const prev = p.slice(1, 0, Tq - 1).add(1);
    const starts = p.slice(1, 1).ne(prev).long(); // (B, T - 1)
    if (Tq > 1 && starts.sum().item() !== 0) segments = cat([zeros([p.size(0), 1], { dtype: 'int64', device: o.device }), starts.cumsum(1)], 1); // (B, T)
  }
  const window = o.slidingWindow && Tk > o.slidingWindow ? o.slidingWindow : null;
  if (!padding && !segments && window === null) {
    if (Tq === Tk) return { mask: null, isCausal: true };
    if (Tq === 1) return { mask: null, isCausal: false };
  }
  const qi = arange(o.past, Tk, 1, { dtype: 'int64', device: o.device }).view(Tq, 1);
  const kj = arange(0, Tk, 1, { dtype: 'int64', device: o.device }).view(1, Tk);
  let m = kj.le(qi); // (Tq, Tk)
  if (window !== null) m = m.logicalAnd(kj.gt(qi.sub(window)));
  m = m.view(1, 1, Tq, Tk);
  if (padding) m = m.logicalAnd(padding.view(o.batch, 1, 1, Tk));
  if (segments) m = m.logicalAnd(segments.view(o.batch, 1, Tq, 1).eq(segments.view(o.batch, 1, 1, Tq)));
  return { mask: m, isCausal: false };
}

/**
 * Keys and values of earlier tokens, preallocated for maxLength positions per layer and written
 * in place (no growing copies): (B, Hkv, maxLength, D) each. Owned by its creator: dispose().
 */
export class KVCache {
  private readonly k: Tensor[];
  private readonly v: Tensor[];
  /** Positions filled so far (the same for every row: left padding keeps rows aligned). */
  length = 0;
  constructor(
    readonly layers: number,
    readonly batch: number,
    readonly kvHeads: number,
    readonly maxLength: number,
    readonly headDim: number,
    dtype: DType,
    device: Device,
  ) {
    const shape = [batch, kvHeads, maxLength, headDim];
    this.k = [];
    this.v = [];
    try {
      for (let i = 0; i < layers; i++) {
        this.k.push(keep(empty(shape, { dtype, device })));
        this.v.push(keep(empty(shape, { dtype, device })));
      }
    } catch (e) {
      this.dispose(); // what was allocated before memory ran out
      throw e;
    }
  }
  /** Writes T new keys and values of `layer` after the cached ones; returns all of them (views). */
  update(layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const T = k.size(2);
    const end = this.length + T;
    if (end > this.maxLength) throw new RangeError(`KVCache: ${end} positions exceed the cache's ${this.maxLength}`);
    noGrad(() => {
      this.k[layer].narrow(2, this.length, T).copy_(k);
      this.v[layer].narrow(2, this.length, T).copy_(v);
    });
    return { k: this.k[layer].narrow(2, 0, end), v: this.v[layer].narrow(2, 0, end) };
  }
  /** Called once per forward, after every layer wrote its T positions. */
  advance(T: number): void {
    this.length += T;
  }
  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
    this.k.length = 0;
    this.v.length = 0;
  }
}

/**
 * Sequence classification on a decoder scores the last token that is not padding (the rightmost
 * one, so left and right padding both work), as transformers' *ForSequenceClassification.
 * logits (B, T, L) -> (B, L). Without a pad token only a batch of one can be scored.
 */
export function poolLastToken(logits: Tensor, inputIds: Tensor, padTokenId: number | null, architecture: string): Tensor {
  const [B, T, L] = logits.shape;
  let last: Tensor;
  if (padTokenId === null) {
    if (B !== 1) throw new Error(`${architecture}: cannot score a batch of ${B} without a pad token: set config.pad_token_id (for example to the EOS token id)`);
    last = arange(T - 1, T, 1, { dtype: 'int64', device: logits.device });
  } else {
    const nonPad = inputIds.ne(padTokenId).long(); // (B, T)
    last = arange(0, T, 1, { dtype: 'int64', device: logits.device }).mul(nonPad).argmax(-1); // (B)
  }
  return logits.gather(1, last.view(-1, 1, 1).expand(B, 1, L)).squeeze(1); // (B, L)
}
