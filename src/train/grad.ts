// Whole-list gradient utilities, each one native call.
import { native } from '../tensor/native';
import { Tensor } from '../tensor/tensor';

/**
 * Scales all gradients so that their joint p-norm is at most maxNorm, as
 * torch.nn.utils.clip_grad_norm_. Returns the norm before clipping.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number, normType = 2): number {
  return native.clipGradNorm(params.map((p) => p.handle), maxNorm, normType);
}

/** Clears gradients: to none (the default, as PyTorch) or to zeros. */
export function zeroGrad(params: Tensor[], setToNone = true): void {
  native.zeroGrad(params.map((p) => p.handle), setToNone);
}
