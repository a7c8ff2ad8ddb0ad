import { Tensor } from '../../tensor/tensor';

/**
 * The padding mask as scaled dot product attention takes it: bool (B, 1, 1, T), true where a
 * key may be attended. Null when nothing is padded, as Hugging Face's SDPA path does (it lets
 * libtorch pick its unmasked kernel).
 */
export function attentionMask(mask: Tensor | null | undefined): Tensor | null {
  if (!mask) return null;
  const m = mask.dtype === 'bool' ? mask : mask.ne(0); // (B, T)
  if (m.logicalNot().sum().item() === 0) return null;
  const [B, T] = m.shape;
  return m.view(B, 1, 1, T);
}
