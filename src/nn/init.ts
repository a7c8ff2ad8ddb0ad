// Parameter creation and Hugging Face's initialisation (normal(0, initializer_range), zero
// biases, LayerNorm to ones and zeros). Parameters are kept: their module owns them.
import { noGrad } from '../tensor/autograd';
import * as create from '../tensor/create';
import { keep } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';

function param(t: Tensor): Tensor {
  keep(t);
  t.requiresGrad = true;
  return t;
}
/** A parameter drawn from normal(0, std). */
export function empty(shape: number[], std: number): Tensor {
  return param(noGrad(() => create.empty(shape).normal_(0, std)));
}
export function zeros(shape: number[]): Tensor {
  return param(create.zeros(shape));
}
export function ones(shape: number[]): Tensor {
  return param(create.ones(shape));
}
