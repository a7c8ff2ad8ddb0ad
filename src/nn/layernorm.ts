import { Normalization } from './norm';
import { Tensor } from '../tensor/tensor';
import { layerNorm } from '../tensor/functional';
import { ones, zeros } from './init';

/** torch.nn.LayerNorm over the last dimension, keys `weight` and `bias` (none with `bias: false`, as LayerNorm(bias=False)). */
export class LayerNorm extends Normalization {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly dim: number, readonly eps = 1e-5, opts: { bias?: boolean } = {}) {
    super();
    this.weight = ones([dim]);
    this.bias = opts.bias === false ? null : zeros([dim]);
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, [this.dim], this.weight, this.bias, this.eps);
  }
}
