// Activation checkpointing (transformers' gradient_checkpointing_enable, torch.utils.checkpoint
// in its reentrant form): a checkpointed block keeps its input instead of its activations, and
// the backward pass runs the block again, from the generator state it first ran with, so that
// dropout draws the same masks and the gradients are those of an ordinary backward.
//
// libtorch runs a backward pass in one native call that JS cannot enter, so the recomputation is
// driven from JS: while a session records, checkpoint() runs its block without autograd and
// returns the output as a leaf that collects its gradient (cutting the graph there);
// session.backward(loss) runs the ordinary backward down to the last cut, then each block again
// in reverse order, passing each block's input gradient on to the block before it.
import { enableGrad, isGradEnabled, noGrad } from '../tensor/autograd';
import { native } from '../tensor/native';
import { keep, tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';

interface Segment {
  /** the block's input (own handle, kept) */
  input: Tensor;
  inputNeedsGrad: boolean;
  /** its other inputs (masks, rotary tables, ...) with own handles on their tensors, kept */
  extra: unknown;
  /** the leaf the rest of the forward pass was built on (own handle, kept) */
  output: Tensor;
  fn: (x: Tensor, extra: unknown) => Tensor;
  /** the generator states before the block first ran, per device */
  rng: [string, Buffer][];
}

let current: CheckpointSession | null = null;

/** One forward and backward pass with checkpointed blocks. Dispose it after backward(). */
export class CheckpointSession {
  private segments: Segment[] = [];
  /**
   * @param rerun wraps each recomputation as the forward pass was wrapped (autocast)
   */
  constructor(private readonly rerun: <T>(f: () => T) => T = (f) => f()) {}

  /** Runs fn (a forward pass) with this session recording its checkpointed blocks. */
  record<T>(fn: () => T): T {
    const prev = current;
    current = this;
    try {
      return fn();
    } finally {
      current = prev;
    }
  }

  /** @internal checkpoint() while recording */
  add<E>(x: Tensor, extra: E, fn: (x: Tensor, extra: E) => Tensor): Tensor {
    const devices = new Set<string>(['cpu', x.device]);
    const rng = [...devices].map((d) => [d, native.rngState(d)] as [string, Buffer]);
    // no graph inside the block; and libtorch's products only, as the recomputation (with
    // gradients) will use: the few-row decode kernels (used without gradients) round otherwise
    const decode = native.setDecodeMatmul(false);
    let y: Tensor;
    try {
      y = noGrad(() => fn(x, extra)); // (B, T, C)
    } finally {
      native.setDecodeMatmul(decode);
    }
    y.requiresGrad_(true);
    this.segments.push({ input: keep(x.share()), inputNeedsGrad: x.requiresGrad, extra: mapTensors(extra, (t) => keep(t.share())), output: keep(y.share()), fn: fn as Segment['fn'], rng });
    return y;
  }

  /** loss.backward(), then each checkpointed block again, last first. */
  backward(loss: Tensor, gradient?: Tensor): void {
    loss.backward(gradient);
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i];
      const g = s.output.grad;
      if (!g) continue; // the rest of the pass did not use this block's output
      const now = s.rng.map(([d]) => [d, native.rngState(d)] as [string, Buffer]);
      try {
        for (const [d, st] of s.rng) native.setRngState(d, st);
        tidy(() => {
          const x = s.input.detach().requiresGrad_(s.inputNeedsGrad);
          const y = enableGrad(() => this.rerun(() => s.fn(x, s.extra)));
          // retained: tensors the blocks share (DeBERTa's relative embeddings) are backpropagated through once per block
          y.backward(g, { retainGraph: true });
          const gx = x.grad;
          if (gx) s.input.backward(gx, { retainGraph: true });
        });
      } finally {
        for (const [d, st] of now) native.setRngState(d, st);
        g.dispose();
        // done with this block: its kept input, output (and the output's gradient) go now
        release(s);
        this.segments.splice(i, 1);
      }
    }
  }

  dispose(): void {
    for (const s of this.segments) release(s);
    this.segments = [];
  }
}

/**
 * fn(x, extra) as a checkpointed block when a CheckpointSession is recording with gradients
 * enabled (training with gradient checkpointing); otherwise simply fn(x, extra). x is the hidden
 * state (B, T, C) the block transforms; extra holds its other inputs (tensors, in arrays or plain
 * objects), which the session keeps for the recomputation whatever the caller disposes. fn must
 * take every tensor it reads through x and extra (or from its module's parameters), and depend
 * on nothing else that changes before the backward pass but the generators.
 */
export function checkpoint<E>(x: Tensor, extra: E, fn: (x: Tensor, extra: E) => Tensor): Tensor {
  if (current === null || !isGradEnabled()) return fn(x, extra);
  return current.add(x, extra, fn);
}

function release(s: Segment): void {
  s.input.dispose();
  s.output.dispose();
  mapTensors(s.extra, (t) => (t.dispose(), t));
}

/** v with each tensor in it (at any depth of arrays and plain objects) replaced by f(tensor). */
function mapTensors(v: unknown, f: (t: Tensor) => Tensor): unknown {
  if (v instanceof Tensor) return f(v);
  if (Array.isArray(v)) return v.map((e) => mapTensors(e, f));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, mapTensors(e, f)]));
  }
  return v;
}
