// Parameter creation and Hugging Face's initialisation (normal(0, initializer_range), zero
// biases, LayerNorm to ones and zeros). Parameters are kept: their module owns them.
//
// Inside deferInit(), parameters get memory but no values: fromPretrained builds the model
// that way, fills what the checkpoint has, and initialises only the rest (as transformers
// does), instead of drawing millions of random numbers only to overwrite them.
import { noGrad } from '../tensor/autograd';
import * as create from '../tensor/create';
import { keep } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';

type Init = (t: Tensor) => void;
const pending = new WeakMap<Tensor, Init>();
let deferring = 0;
/** Where parameters made now live: fromPretrained's dtype and device (float32 on the CPU by default). */
let placement: create.CreateOptions = {};

/**
 * Runs fn (a model's construction) with parameters left uninitialised, made directly in
 * `where`'s dtype and on its device: a bfloat16 model on a GPU never holds a float32 copy in
 * host memory.
 */
export function deferInit<T>(fn: () => T, where: create.CreateOptions = {}): T {
  deferring++;
  const before = placement;
  placement = { ...placement, ...where };
  try {
    return fn();
  } finally {
    deferring--;
    placement = before;
  }
}

/** Runs a deferred initialisation (no-op for a parameter that was initialised at creation). */
export function initialize(t: Tensor): void {
  const init = pending.get(t);
  if (!init) return;
  pending.delete(t);
  noGrad(() => init(t));
}

/** A parameter of `shape`, initialised by `init` now, or later when deferred. */
export function param(shape: number[], init: Init): Tensor {
  const t = keep(create.empty(shape, placement));
  if (deferring > 0) pending.set(t, init);
  else noGrad(() => init(t));
  t.requiresGrad = true;
  return t;
}

/**
 * A parameter drawn from normal(0, std), or with `cutoff` from the normal truncated at
 * +-cutoff * std (torch.nn.init.trunc_normal_, as transformers' ModernBERT initialises).
 */
export function normal(shape: number[], std: number, cutoff?: number): Tensor {
  if (cutoff !== undefined) return param(shape, (t) => t.truncNormal_(0, std, -cutoff * std, cutoff * std));
  return param(shape, (t) => t.normal_(0, std));
}
export function zeros(shape: number[]): Tensor {
  return param(shape, (t) => t.zero_());
}
export function ones(shape: number[]): Tensor {
  return param(shape, (t) => t.fill_(1));
}
