// Activations by the names Hugging Face configs use (`hidden_act`): a closed set.
import { Tensor } from '../tensor/tensor';

export const ACTIVATIONS = {
  gelu: (x: Tensor) => x.gelu('none'),
  gelu_new: (x: Tensor) => x.gelu('tanh'),
  gelu_pytorch_tanh: (x: Tensor) => x.gelu('tanh'),
  relu: (x: Tensor) => x.relu(),
  silu: (x: Tensor) => x.silu(),
  swish: (x: Tensor) => x.silu(),
  tanh: (x: Tensor) => x.tanh(),
} as const;

export type Activation = keyof typeof ACTIVATIONS;

export function activation(name: string): (x: Tensor) => Tensor {
  const f = (ACTIVATIONS as Record<string, (x: Tensor) => Tensor>)[name];
  if (!f) throw new Error(`unknown activation '${name}' (expected one of ${Object.keys(ACTIVATIONS).join(', ')})`);
  return f;
}
