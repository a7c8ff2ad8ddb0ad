// Optimizers over parameter groups; the math of a step is one native call.
import { native } from '../tensor/native';
import { Tensor } from '../tensor/tensor';
import { keep } from '../tensor/scope';
import { noGrad } from '../tensor/autograd';
import { full, zerosLike } from '../tensor/create';
import { zeroGrad } from './grad';

export interface ParamGroup {
  params: Tensor[];
  /** Overrides the optimizer's learning rate for this group. */
  lr?: number;
  /** Overrides the optimizer's weight decay for this group. */
  weightDecay?: number;
}

interface Group {
  params: Tensor[];
  lr: number;
  weightDecay: number;
}

function groupsOf(p: Tensor[] | ParamGroup[], lr: number, weightDecay: number): Group[] {
  if (p.length === 0) throw new Error('optimizer got an empty parameter list');
  const gs: ParamGroup[] = p[0] instanceof Tensor ? [{ params: p as Tensor[] }] : (p as ParamGroup[]);
  return gs.map((g) => ({ params: g.params, lr: g.lr ?? lr, weightDecay: g.weightDecay ?? weightDecay }));
}

export abstract class Optimizer {
  readonly groups: Group[];
  protected constructor(params: Tensor[] | ParamGroup[], lr: number, weightDecay: number) {
    if (!(lr >= 0)) throw new RangeError(`invalid learning rate ${lr}`);
    this.groups = groupsOf(params, lr, weightDecay);
  }
  /**
   * One update of every parameter with a gradient. skipIf: a one-element float32 tensor on the
   * parameters' device; where it holds 1 the update is skipped and the state left as it was
   * (a non-finite loss or an fp16 overflow). AdamW decides that on the device, without reading
   * the flag (the fused kernel's found_inf); SGD reads it.
   */
  abstract step(skipIf?: Tensor): void;
  /** Sets every group's learning rate (schedulers call this before step()). */
  setLr(lr: number | number[]): void {
    this.groups.forEach((g, i) => (g.lr = typeof lr === 'number' ? lr : lr[i]));
  }
  get lr(): number[] {
    return this.groups.map((g) => g.lr);
  }
  zeroGrad(setToNone = true): void {
    zeroGrad(
      this.groups.flatMap((g) => g.params),
      setToNone,
    );
  }
  /** Frees the optimizer's state tensors. */
  abstract dispose(): void;
  /** Each parameter's state tensors by name (exp_avg, exp_avg_sq, step; momentum_buffer), for checkpoints. */
  abstract stateOf(): Map<Tensor, Record<string, Tensor>>;
  /** Scalar state besides the tensors (restored by loadScalars). */
  scalars(): Record<string, number | boolean> {
    return {};
  }
  loadScalars(_s: Record<string, number | boolean>): void {}
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Decoupled weight decay (default 0.01, as torch.optim.AdamW). */
  weightDecay?: number;
  maximize?: boolean;
}

/** torch.optim.AdamW(fused=True): the same kernel, so the same numbers. */
export class AdamW extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly maximize: boolean;
  /** Per group, parallel to params: first and second moments and the step count (float32 scalars, as PyTorch). */
  readonly state: { expAvg: Tensor[]; expAvgSq: Tensor[]; steps: Tensor[] }[];

  constructor(params: Tensor[] | ParamGroup[], o: AdamWOptions = {}) {
    super(params, o.lr ?? 1e-3, o.weightDecay ?? 1e-2);
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.maximize = o.maximize ?? false;
    this.state = noGrad(() =>
      this.groups.map((g) => ({
        expAvg: g.params.map((p) => keep(zerosLike(p))),
        expAvgSq: g.params.map((p) => keep(zerosLike(p))),
        steps: g.params.map((p) => keep(full([], 0, { dtype: 'float32', device: p.device }))),
      })),
    );
  }

  step(skipIf?: Tensor): void {
    native.adamwStep(
      this.groups.map((g, i) => ({
        params: g.params.map((p) => p.handle),
        expAvg: this.state[i].expAvg.map((t) => t.handle),
        expAvgSq: this.state[i].expAvgSq.map((t) => t.handle),
        steps: this.state[i].steps.map((t) => t.handle),
        lr: g.lr,
        weightDecay: g.weightDecay,
      })),
      this.betas[0],
      this.betas[1],
      this.eps,
      this.maximize,
      skipIf?.handle,
    );
  }

  dispose(): void {
    for (const s of this.state) for (const t of [...s.expAvg, ...s.expAvgSq, ...s.steps]) t.dispose();
  }

  stateOf(): Map<Tensor, Record<string, Tensor>> {
    const m = new Map<Tensor, Record<string, Tensor>>();
    this.groups.forEach((g, i) =>
      g.params.forEach((p, j) => m.set(p, { exp_avg: this.state[i].expAvg[j], exp_avg_sq: this.state[i].expAvgSq[j], step: this.state[i].steps[j] })),
    );
    return m;
  }
}

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** torch.optim.SGD (coupled weight decay, optional momentum and Nesterov). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  private readonly buffers: Tensor[][] | null;
  private first = true;

  constructor(params: Tensor[] | ParamGroup[], o: SGDOptions = {}) {
    super(params, o.lr ?? 1e-3, o.weightDecay ?? 0);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new RangeError('Nesterov momentum requires a momentum and zero dampening');
    }
    this.buffers = this.momentum === 0 ? null : noGrad(() => this.groups.map((g) => g.params.map((p) => keep(zerosLike(p)))));
  }

  step(skipIf?: Tensor): void {
    let stepped = false;
    this.groups.forEach((g, i) => {
      stepped =
        native.sgdStep(
          g.params.map((p) => p.handle),
          this.buffers ? this.buffers[i].map((b) => b.handle) : null,
          g.lr,
          this.momentum,
          this.dampening,
          g.weightDecay,
          this.nesterov,
          this.first,
          skipIf?.handle,
        ) || stepped;
    });
    if (stepped) this.first = false;
  }

  dispose(): void {
    for (const bs of this.buffers ?? []) for (const b of bs) b.dispose();
  }

  stateOf(): Map<Tensor, Record<string, Tensor>> {
    const m = new Map<Tensor, Record<string, Tensor>>();
    if (this.buffers) this.groups.forEach((g, i) => g.params.forEach((p, j) => m.set(p, { momentum_buffer: this.buffers![i][j] })));
    return m;
  }
  scalars(): Record<string, number | boolean> {
    return { first: this.first };
  }
  loadScalars(s: Record<string, number | boolean>): void {
    this.first = s.first as boolean;
  }
}
