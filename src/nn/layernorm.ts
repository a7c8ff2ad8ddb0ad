import { Normalization } from './norm';
import { Tensor } from '../tensor/tensor';
import { layerNorm } from '../tensor/functional';
import { ones, zeros } from './init';

/** torch.nn.LayerNorm over the last dimension, keys `weight` and `bias`. */
export class LayerNorm extends Normalization {
  weight: Tensor;
  bias: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = ones([dim]);
    this.bias = zeros([dim]);
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, [this.dim], this.weight, this.bias, this.eps);
  }
}
