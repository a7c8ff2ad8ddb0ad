import { Module } from './module';
import { Tensor } from '../tensor/tensor';
import { dropout, dropoutRows, fusedDropout } from '../tensor/functional';
import type { TokenRows } from './token-rows';

/**
 * Which kernel nn.Dropout draws its masks with:
 * - 'libtorch' (the default): libtorch's dropout, the masks torch.nn.Dropout draws for the same
 *   seed, so a train-mode step can be compared with PyTorch's exactly;
 * - 'fused': fulltune's one-pass CPU kernel (fusedDropout), about 5x faster on the CPU, the same
 *   distribution (tested in test/dropout.test.ts), other masks.
 * libtorch's is the default because a default never trades accuracy for speed (see the README's
 * dropout section for the seed study comparing the two).
 */
export type DropoutImpl = 'libtorch' | 'fused';
export const DROPOUT_IMPLS: readonly DropoutImpl[] = ['libtorch', 'fused'];

let current: DropoutImpl | undefined;

function parseImpl(v: string, where: string): DropoutImpl {
  if ((DROPOUT_IMPLS as readonly string[]).includes(v)) return v as DropoutImpl;
  throw new RangeError(`${where}: expected one of ${DROPOUT_IMPLS.join(', ')}, got ${JSON.stringify(v)}`);
}

/** The kernel nn.Dropout uses: set by setDropoutImpl, else env FULLTUNE_DROPOUT, else 'libtorch'. */
export function getDropoutImpl(): DropoutImpl {
  if (current === undefined) {
    const env = process.env.FULLTUNE_DROPOUT;
    current = env === undefined || env === '' ? 'libtorch' : parseImpl(env, 'FULLTUNE_DROPOUT');
  }
  return current;
}

/** Selects the kernel of every nn.Dropout without its own `impl`; throws RangeError on another name. */
export function setDropoutImpl(impl: DropoutImpl): void {
  current = parseImpl(impl, 'setDropoutImpl');
}

/**
 * torch.nn.Dropout: in train mode zeroes each element with probability p and scales the rest by
 * 1/(1-p); identity in eval mode. Any shape and floating dtype; the output has the input's.
 * `impl` pins this module's kernel; without it the global choice (getDropoutImpl) applies at
 * each call. Throws RangeError for p outside [0, 1) or an unknown impl.
 */
export class Dropout extends Module {
  constructor(
    readonly p: number,
    readonly impl?: DropoutImpl,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: p must be in [0, 1), got ${p}`);
    if (impl !== undefined) parseImpl(impl, 'Dropout: impl');
    else getDropoutImpl(); // a bad FULLTUNE_DROPOUT stops the model's construction, not its first step
  }
  forward(x: Tensor): Tensor {
    // p = 0 still returns a new tensor, so callers may dispose inputs and outputs alike
    const on = this.training && this.p > 0;
    return (this.impl ?? getDropoutImpl()) === 'fused' ? fusedDropout(x, this.p, on) : dropout(x, this.p, on);
  }
  /**
   * forward() of a padded batch's real tokens x (N, ...) (TokenRows.pack): libtorch's kernel
   * draws the masks of the whole padded batch, as forward() on it would, and keeps the real
   * tokens' rows; the fused kernel has no PyTorch masks to match and draws for the N rows alone
   * (other masks, and another generator state, than forward() on the padded batch).
   */
  forwardRows(x: Tensor, rows: TokenRows | null): Tensor {
    const on = this.training && this.p > 0;
    if (rows === null || !on || (this.impl ?? getDropoutImpl()) === 'fused') return this.forward(x);
    return dropoutRows(x, this.p, on, rows.index, rows.batch * rows.length);
  }
}
