// Whole-list gradient utilities, each one native call.
import { native } from '../tensor/native';
import { Tensor } from '../tensor/tensor';

/**
 * Scales all gradients so that their joint p-norm is at most maxNorm, as
 * torch.nn.utils.clip_grad_norm_. Returns the norm before clipping (read from the device).
 */
export function clipGradNorm(params: Tensor[], maxNorm: number, normType = 2): number {
  const t = clipGradNormTensor(params, maxNorm, normType);
  try {
    return t.item();
  } finally {
    t.dispose();
  }
}

/**
 * clipGradNorm without reading the norm: a 0-dim float tensor on the gradients' device (0 when
 * no parameter has a gradient), as torch.nn.utils.clip_grad_norm_ returns it. The clipping
 * coefficient is computed and applied on the device: nothing waits for it.
 */
export function clipGradNormTensor(params: Tensor[], maxNorm: number, normType = 2): Tensor {
  return new Tensor(native.clipGradNorm(params.map((p) => p.handle), maxNorm, normType));
}

/** Clears gradients: to none (the default, as PyTorch) or to zeros. */
export function zeroGrad(params: Tensor[], setToNone = true): void {
  native.zeroGrad(params.map((p) => p.handle), setToNone);
}
