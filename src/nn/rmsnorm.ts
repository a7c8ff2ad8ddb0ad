import { Tensor } from '../tensor/tensor';
import { rmsNorm } from '../tensor/functional';
import { Normalization } from './norm';
import { ones } from './init';

/**
 * Root-mean-square normalisation over the last dimension, key `weight`: transformers'
 * LlamaRMSNorm, computed in float32 and cast back before the weight, as there:
 * weight * (x / sqrt(mean(x^2) + eps)).to(x.dtype).
 */
export class RMSNorm extends Normalization {
  weight: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.weight = ones([dim]);
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps); // (..., C): one native call
  }
}
