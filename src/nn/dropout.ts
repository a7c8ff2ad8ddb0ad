import { Module } from './module';
import { Tensor } from '../tensor/tensor';
import { fusedDropout } from '../tensor/functional';

/**
 * torch.nn.Dropout: active in train mode, identity in eval mode. Uses the fused kernel
 * (see fusedDropout): the same distribution as PyTorch's, drawn faster, with other masks.
 */
export class Dropout extends Module {
  constructor(readonly p: number) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: p must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor {
    // p = 0 still returns a new tensor, so callers may dispose inputs and outputs alike
    return fusedDropout(x, this.p, this.training && this.p > 0);
  }
}
