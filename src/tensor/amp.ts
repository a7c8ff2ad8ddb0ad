// Mixed precision: autocast regions (as torch.autocast) and dynamic loss scaling (as
// torch.amp.GradScaler), on libtorch's own kernels.
import { DType, dtypeCode } from './dtype';
import { native } from './native';
import { full } from './create';
import { keep } from './scope';
import { Tensor } from './tensor';

/** Runs fn with autocast on for `device` (ops listed by libtorch run in `dtype`). Synchronous. */
export function autocast<T>(device: 'cpu' | 'cuda', dtype: DType, fn: () => T): T {
  const [prevOn, prevDtype] = native.enterAutocast(device, dtypeCode(dtype));
  try {
    const r = fn();
    if (r instanceof Promise) throw new TypeError('autocast(fn): fn must be synchronous');
    return r;
  } finally {
    native.exitAutocast(device, prevOn, prevDtype);
  }
}

export interface GradScalerState {
  scale: number;
  growthTracker: number;
}

/** Dynamic loss scaling for float16: scale the loss, unscale the gradients, skip steps that overflowed. */
export class GradScaler {
  private readonly scaleT: Tensor;
  private readonly tracker: Tensor;
  private readonly foundInf: Tensor;
  constructor(
    device: string,
    readonly o = { initScale: 65536, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000 },
  ) {
    const d = device as 'cpu';
    this.scaleT = keep(full([], o.initScale, { dtype: 'float32', device: d }));
    this.tracker = keep(full([], 0, { dtype: 'int32', device: d }));
    this.foundInf = keep(full([], 0, { dtype: 'float32', device: d }));
  }
  get scale(): number {
    return this.scaleT.item();
  }
  scaleLoss(loss: Tensor): Tensor {
    return loss.mul(this.scaleT);
  }
  /** Unscales the gradients in place; true when any was inf or NaN (then skip the optimizer step). */
  unscale(params: Tensor[]): boolean {
    return this.unscaleOnDevice(params).item() !== 0;
  }
  /**
   * unscale without reading the result: the scaler's own one-element float32 flag, 1 when a
   * gradient was inf or NaN, for Optimizer.step(skipIf). Valid until the next unscale; not to
   * be disposed by the caller.
   */
  unscaleOnDevice(params: Tensor[]): Tensor {
    this.foundInf.zero_();
    const inv = this.scaleT.reciprocal();
    native.ampUnscale(params.map((p) => p.handle), inv.handle, this.foundInf.handle);
    inv.dispose();
    return this.foundInf;
  }
  /** After the step (taken or skipped): back off on overflow, grow after growthInterval clean steps. */
  update(): void {
    const o = this.o;
    native.ampUpdateScale(this.scaleT.handle, this.tracker.handle, this.foundInf.handle, o.growthFactor, o.backoffFactor, o.growthInterval);
  }
  state(): GradScalerState {
    return { scale: this.scaleT.item(), growthTracker: this.tracker.item() };
  }
  load(s: GradScalerState): void {
    this.scaleT.fill_(s.scale);
    this.tracker.fill_(s.growthTracker);
  }
  dispose(): void {
    for (const t of [this.scaleT, this.tracker, this.foundInf]) t.dispose();
  }
}
