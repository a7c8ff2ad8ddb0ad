// Free functions over tensors: the torch.nn.functional of fulltune.
import { native } from './native';
import { Tensor } from './tensor';
import { DType, Device, dtypeCode } from './dtype';

type Reduction = 'mean' | 'sum' | 'none';
const h = (t: Tensor | null | undefined): number | null => (t ? t.handle : null);

export function cat(ts: Tensor[], dim = 0): Tensor {
  return new Tensor(native.cat(ts.map((t) => t.handle), dim));
}
export function stack(ts: Tensor[], dim = 0): Tensor {
  return new Tensor(native.stack(ts.map((t) => t.handle), dim));
}
/** cond ? a : b, elementwise with broadcasting. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.where(cond.handle, a.handle, b.handle));
}
export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}
export function bmm(a: Tensor, b: Tensor): Tensor {
  return a.bmm(b);
}
/**
 * torch.nn.functional.linear: x (..., in) @ weight^T + bias; weight (out, in), bias (out).
 * Float32 CPU products of at most 8 rows with no gradient recorded (a decode step) go through
 * fulltune's bandwidth-bound kernels (see setDecodeMatmul); the rest through libtorch.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return new Tensor(native.linear(x.handle, weight.handle, h(bias)));
}
export function softmax(x: Tensor, dim: number): Tensor {
  return x.softmax(dim);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return x.logSoftmax(dim);
}
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return x.gelu(approximate);
}
export function relu(x: Tensor): Tensor {
  return x.relu();
}
export function tanh(x: Tensor): Tensor {
  return x.tanh();
}
export function layerNorm(x: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return new Tensor(native.layerNorm(x.handle, normalizedShape, h(weight), h(bias), eps));
}
/**
 * libtorch's dropout (torch.nn.functional.dropout): zeroes elements with probability p and
 * scales the rest by 1/(1-p) when training; identity otherwise. For a given manualSeed the masks
 * are PyTorch's. Any shape and floating dtype; RangeError for p outside [0, 1].
 */
/**
 * transformers' LlamaRMSNorm in one native call: weight * (x.float() * rsqrt(mean(x.float()^2, -1)
 * + eps)).to(x.dtype). x (..., C), weight (C). TypeError when the weight does not fit x.
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  return new Tensor(native.rmsNorm(x.handle, weight.handle, eps));
}
/**
 * transformers' apply_rotary_pos_emb for one of q or k, in one native call:
 * x * cos + rotate_half(x) * sin; x (B, H, T, D), cos and sin (B or 1, T, D). TypeError for other shapes.
 */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return new Tensor(native.applyRotary(x.handle, cos.handle, sin.handle));
}
/**
 * y = bias + x @ weight with the weight stored (in, out) (transformers' Conv1D: one addmm over
 * x's rows). x (..., in), weight (in, out), bias (out) -> (..., out). TypeError when they do not fit.
 */
export function linearInOut(x: Tensor, weight: Tensor, bias: Tensor): Tensor {
  return new Tensor(native.linearInOut(x.handle, weight.handle, bias.handle));
}
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return new Tensor(native.dropout(x.handle, p, training));
}
/**
 * Dropout through fulltune's fused CPU kernel (one pass; each element's keep flag is a hash of a
 * seed drawn from libtorch's generator and the element's index): about 5x faster than dropout()
 * on the CPU, the same distribution (test/dropout.test.ts), other masks than PyTorch's for the
 * same seed. nn.Dropout uses it when setDropoutImpl('fused') or FULLTUNE_DROPOUT=fused.
 * float16, bfloat16, float32 and float64 (scaled in double); native_dropout on CUDA.
 * RangeError for p outside [0, 1].
 */
export function fusedDropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return new Tensor(native.fusedDropout(x.handle, p, training));
}
/**
 * dropout() of x (N, ...) when x holds the rows at `index` (N, int64) of a (total, ...) tensor
 * whose other rows were never computed (a padded batch's real tokens, TokenRows): the masks and
 * the generator's state after are those dropout() gives the whole tensor, so each row gets what
 * it would get there. Throws RangeError for p outside [0, 1].
 */
export function dropoutRows(x: Tensor, p: number, training: boolean, index: Tensor, total: number): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return new Tensor(native.dropoutRows(x.handle, p, training, index.handle, total));
}
/**
 * scaledDotProductAttention() for the first query of each sequence alone: q (B, H, 1, D) is
 * query position 0 against k, v (B, H, T, D); mask bool (true = may attend) or additive,
 * broadcastable to (B, H, 1, T). In train mode (dropoutP > 0) its probabilities get the masks
 * attention over all T queries would draw for that row, and the generator is left where that
 * attention leaves it. float32 or float64 on the CPU, outside autocast, where
 * attentionFirstQueryExact says so; otherwise an Error. Returns (B, H, 1, D).
 */
export function attentionFirstQuery(q: Tensor, k: Tensor, v: Tensor, o: { attnMask?: Tensor | null; dropoutP?: number; scale?: number | null } = {}): Tensor {
  return new Tensor(native.attentionFirstQuery(q.handle, k.handle, v.handle, h(o.attnMask), o.dropoutP ?? 0, o.scale ?? null));
}
/** Whether attentionFirstQuery reproduces attention dropout for tensors of that dtype and device. */
export function attentionFirstQueryExact(dtype: DType, device: Device): boolean {
  return device === 'cpu' && native.attentionFirstQueryExact(dtypeCode(dtype));
}
/** Rows of weight (V, C) at indices; rows at paddingIdx get no gradient. */
export function embedding(weight: Tensor, indices: Tensor, paddingIdx: number | null = null): Tensor {
  return new Tensor(native.embedding(weight.handle, indices.handle, paddingIdx ?? -1));
}
export interface AttentionOptions {
  /** bool (true = may attend) or additive float, broadcastable to (B, H, Tq, Tk). */
  attnMask?: Tensor | null;
  dropoutP?: number;
  isCausal?: boolean;
  /** Defaults to 1/sqrt(head dim). */
  scale?: number | null;
  /** Grouped-query attention: k and v have fewer heads (a divisor of q's), shared without being repeated. */
  enableGqa?: boolean;
}
/** softmax(q k^T * scale + mask) v; q (B, H, Tq, D), k and v (B, H, Tk, D) (or (B, Hkv, Tk, D) with enableGqa). torch's F.scaled_dot_product_attention. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  return new Tensor(
    native.scaledDotProductAttention(q.handle, k.handle, v.handle, h(o.attnMask), o.dropoutP ?? 0, o.isCausal ?? false, o.scale ?? null, o.enableGqa ?? false),
  );
}
/**
 * numSamples draws per row of probs (R, V) or (V) (non-negative weights, not all zero) from the
 * default generator (manualSeed): torch.multinomial. int64 (R, numSamples).
 */
export function multinomial(probs: Tensor, numSamples: number, replacement = false): Tensor {
  return new Tensor(native.multinomial(probs.handle, numSamples, replacement));
}
export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
  labelSmoothing?: number;
}
/** logits (N, C) or (N, C, d...), target class indices (N) or probabilities (N, C). */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  return new Tensor(
    native.crossEntropy(logits.handle, target.handle, h(o.weight), o.reduction ?? 'mean', o.ignoreIndex ?? -100, o.labelSmoothing ?? 0),
  );
}
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.mseLoss(input.handle, target.handle, reduction));
}
export function bceWithLogits(
  logits: Tensor,
  target: Tensor,
  o: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  return new Tensor(native.bceWithLogits(logits.handle, target.handle, h(o.weight), h(o.posWeight), o.reduction ?? 'mean'));
}

/**
 * Whether few-row float32 products on the CPU (at most 8 rows, as in a decode step of batch up to
 * 8, with no gradient recorded) in linear() and linearInOut() use fulltune's AVX2 kernels, which
 * read the weight at close to memory bandwidth (MKL's sgemm reaches about a third of it for these
 * shapes). On by default where available (decodeMatmulAvailable()); env FULLTUNE_DECODE_MATMUL=0
 * turns it off at start. Off, every product is libtorch's, bitwise as PyTorch computes it;
 * on, they differ from it by round-off (summation order). Process-wide.
 */
export function setDecodeMatmul(enabled: boolean): void {
  if (typeof enabled !== 'boolean') throw new TypeError(`setDecodeMatmul: expected a boolean, got ${typeof enabled}`);
  native.setDecodeMatmul(enabled);
}
/** Whether this build and CPU have the decode kernels (x86-64 with AVX2 and FMA). */
export function decodeMatmulAvailable(): boolean {
  return native.decodeMatmulAvailable();
}
{
  const v = process.env.FULLTUNE_DECODE_MATMUL;
  if (v !== undefined && v !== '') {
    if (v !== '0' && v !== '1') throw new Error(`FULLTUNE_DECODE_MATMUL must be 0 or 1, got ${JSON.stringify(v)}`);
    native.setDecodeMatmul(v === '1');
  }
}
