import { Module } from './module';
import { Tensor } from '../tensor/tensor';
import { linear } from '../tensor/functional';
import { normal, zeros } from './init';

/** y = x W^T + b, W (out, in): torch.nn.Linear, keys `weight` and `bias`. */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  /**
   * `weight`: an existing (out, in) matrix to share (tied output embeddings) instead of a new one.
   * A new one is drawn from normal(0, std), truncated at +-cutoff * std when `cutoff` is given.
   */
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; std?: number; cutoff?: number; weight?: Tensor } = {}) {
    super();
    this.weight = opts.weight ?? normal([outFeatures, inFeatures], opts.std ?? 0.02, opts.cutoff);
    this.bias = opts.bias === false ? null : zeros([outFeatures]);
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias); // (..., in) -> (..., out)
  }
}
