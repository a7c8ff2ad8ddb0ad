import { Tensor } from '../tensor/tensor';
import { native } from '../tensor/native';

/**
 * A padded batch's real tokens as rows, the layout of transformers' unpadded attention paths
 * (`_upad_input`, FlashAttention's varlen inputs): per-token layers (linear, LayerNorm,
 * activations, dropout) run on the N real tokens instead of all B x T positions, and attention
 * pads them back for its product. A plain object, so that gradient checkpointing keeps its
 * tensors (src/nn/checkpoint.ts).
 *
 * Used where only real tokens' states are read: a real token's state is the padded layout's
 * (padding is masked out of every key, and each per-token layer sees its row alone) up to
 * float32 rounding, since products over N rows may round differently from products over B x T;
 * libtorch's dropout draws the padded layout's masks (Dropout.forwardRows), so the generator
 * ends where it would. Padded positions are never computed.
 */
export interface TokenRows {
  /** (N) int64: b * T + t of each real token, in order */
  index: Tensor;
  /** (B) int64: where each row's first token lands among the N */
  first: Tensor;
  batch: number;
  length: number;
}

/**
 * The real tokens of a (B, T) padding mask (1 or true where real), or null when unpadding saves
 * nothing (no padding) or cannot serve a first-token reader (a row that starts with padding:
 * left padding). One host read of the mask's counts.
 */
export function tokenRows(mask: Tensor | null | undefined): TokenRows | null {
  if (!mask || mask.ndim !== 2) return null;
  const r = native.tokenRows(mask.handle);
  if (r === undefined) return null;
  const [B, T] = mask.shape;
  return { index: new Tensor(r[0]), first: new Tensor(r[1]), batch: B, length: T };
}

/** (B, T, ...) -> (N, ...): the real tokens' rows. */
export function packRows(x: Tensor, rows: TokenRows): Tensor {
  const [B, T, ...rest] = x.shape;
  return x.reshape(B * T, ...rest).indexSelect(0, rows.index);
}

/** (N, ...) -> (B, T, ...): the rows back in place, zeros at padded positions. */
export function padRows(x: Tensor, rows: TokenRows): Tensor {
  const [, ...rest] = x.shape;
  return new Tensor(native.padRows(x.handle, rows.index.handle, rows.batch * rows.length)).view(rows.batch, rows.length, ...rest);
}

/** (N, ...) -> (B, 1, ...): each row's first token (what poolers and classification heads read). */
export function firstRows(x: Tensor, rows: TokenRows): Tensor {
  return x.indexSelect(0, rows.first).unsqueeze(1);
}
