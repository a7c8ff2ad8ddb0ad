import { Module } from './module';
import { Tensor } from '../tensor/tensor';
import { linearInOut } from '../tensor/functional';
import { normal, zeros } from './init';

/**
 * GPT-2's Conv1D (transformers.pytorch_utils.Conv1D): a linear layer whose weight is stored
 * (in, out), the transpose of nn.Linear's, so that checkpoints load without a transposing table.
 * y = x W + b; x (..., in) -> (..., out).
 */
export class Conv1D extends Module {
  weight: Tensor; // (in, out)
  bias: Tensor; // (out)
  constructor(readonly nf: number, readonly nx: number, std = 0.02) {
    super();
    this.weight = normal([nx, nf], std);
    this.bias = zeros([nf]);
  }
  forward(x: Tensor): Tensor {
    return linearInOut(x, this.weight, this.bias); // (..., nx) -> (..., nf)
  }
}
