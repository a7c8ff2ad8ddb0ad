// ZeRO stage 1 (DeepSpeed; PyTorch's ZeroRedundancyOptimizer): each rank of a data-parallel
// group keeps and updates the optimizer state of its share of the parameters only, then every
// parameter is sent from the rank that updated it to all the others (one all-gather of the
// updated shares per step). Gradients are still summed in full on every rank (clipping sees the
// whole gradient); the update of each parameter is the one the unsharded optimizer makes.
import { noGrad } from '../tensor/autograd';
import { itemSize } from '../tensor/dtype';
import { cat } from '../tensor/functional';
import { zeros } from '../tensor/create';
import { tidy, keep } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { Optimizer, ParamGroup } from '../train/optimizer';
import { ProcessGroup } from './process-group';

export class ShardedOptimizer extends Optimizer {
  /** the optimizer of this rank's share (its groups parallel to this one's, some maybe empty) */
  readonly inner: Optimizer;
  /** owner rank of each parameter, in the order of this.groups' params */
  readonly owners: Map<Tensor, number>;
  private readonly shares: Tensor[][];
  private readonly longest: number;

  /**
   * @param groups every parameter, in groups (weight decay, learning rate) as the unsharded optimizer gets them
   * @param make the unsharded optimizer's constructor, given the groups of this rank's share
   * @param lr the learning rate of groups that set none (the unsharded optimizer's)
   */
  constructor(
    groups: ParamGroup[],
    readonly pg: ProcessGroup,
    make: (groups: ParamGroup[]) => Optimizer,
    lr: number,
  ) {
    super(groups, lr, 0);
    const all = this.groups.flatMap((g) => g.params);
    const dtypes = new Set(all.map((p) => `${p.dtype} ${p.device}`));
    if (dtypes.size > 1) throw new Error(`--shard-optimizer: the parameters must share one dtype and device, got ${[...dtypes].join(', ')}`);
    // ZeroRedundancyOptimizer's partition: largest first, each to the rank holding the least so far
    const load = new Array<number>(pg.worldSize).fill(0);
    this.owners = new Map();
    for (const p of [...all].sort((a, b) => b.numel() - a.numel())) {
      const r = load.indexOf(Math.min(...load));
      this.owners.set(p, r);
      load[r] += p.numel();
    }
    // each rank's share in parameter order: the layout of its slot in the all-gather
    this.shares = Array.from({ length: pg.worldSize }, (_, r) => all.filter((p) => this.owners.get(p) === r));
    this.longest = Math.max(...load);
    this.inner = make(this.groups.map((g) => ({ params: g.params.filter((p) => this.owners.get(p) === pg.rank), lr: g.lr, weightDecay: g.weightDecay })));
  }

  setLr(lr: number | number[]): void {
    super.setLr(lr);
    this.inner.setLr(this.groups.map((g) => g.lr));
  }

  /** This rank's update of its share, then every share from its owner to all ranks (skipIf: as Optimizer.step). */
  step(skipIf?: Tensor): void {
    this.inner.step(skipIf);
    const mine = this.shares[this.pg.rank];
    noGrad(() =>
      tidy(() => {
        const dtype = this.groups[0].params[0].dtype;
        const device = this.groups[0].params[0].device;
        const parts = mine.map((p) => p.reshape([-1]));
        const used = mine.reduce((n, p) => n + p.numel(), 0);
        if (used < this.longest) parts.push(zeros([this.longest - used], { dtype, device }));
        const flat = cat(parts, 0); // (longest)
        const gathered = this.pg.allGather(flat);
        this.shares.forEach((share, r) => {
          if (r === this.pg.rank) return;
          let off = 0;
          for (const p of share) {
            p.copy_(gathered[r].narrow(0, off, p.numel()).view(...p.shape));
            off += p.numel();
          }
        });
        for (const g of gathered) g.dispose();
      }),
    );
  }

  dispose(): void {
    this.inner.dispose();
  }

  /** This rank's state only (a checkpoint loads into it what belongs to this rank). */
  stateOf(): Map<Tensor, Record<string, Tensor>> {
    return this.inner.stateOf();
  }

  /**
   * Every parameter's state, gathered from its owner (a collective: every rank calls it, and
   * gets all of it; the caller disposes the tensors): what a checkpoint saves, in the unsharded
   * optimizer's layout, so that it resumes sharded or not. While a checkpoint is written every
   * rank holds the whole state for a moment (one state name at a time in the all-gather).
   */
  gatherState(): Map<Tensor, Record<string, Tensor>> {
    const own = this.inner.stateOf();
    const names = [...new Set([...own.values()].flatMap((s) => Object.keys(s)))];
    const keys = this.pg.allGatherObject(names).find((n) => n.length > 0) ?? [];
    const out = new Map<Tensor, Record<string, Tensor>>();
    const wire = this.groups[0].params[0].dtype === 'float64' ? 'float64' : 'float32'; // every state value exactly
    noGrad(() => {
      for (const key of keys) {
        // one all-gather per state tensor name: each share's tensors of that name, flattened
        const sizeOf = (p: Tensor, k: string) => (k === 'step' ? 1 : p.numel());
        const longest = Math.max(...this.shares.map((s) => s.reduce((n, p) => n + sizeOf(p, key), 0)));
        const flat = tidy(() => {
          const parts = this.shares[this.pg.rank].map((p) => own.get(p)![key].to(wire).reshape([-1]));
          const used = parts.reduce((n, t) => n + t.numel(), 0);
          if (used < longest) parts.push(zeros([longest - used], { dtype: wire, device: this.groups[0].params[0].device }));
          return cat(parts, 0);
        });
        const gathered = this.pg.allGather(flat);
        flat.dispose();
        // the views in between go with the scope; only the copies are kept
        tidy(() =>
          this.shares.forEach((share, r) => {
            let off = 0;
            for (const p of share) {
              const n = sizeOf(p, key);
              const like = key === 'step' ? [] : [...p.shape];
              const t = keep(gathered[r].narrow(0, off, n).reshape(like).to(key === 'step' ? 'float32' : p.dtype).clone());
              off += n;
              const rec = out.get(p) ?? {};
              rec[key] = t;
              out.set(p, rec);
            }
          }),
        );
        for (const g of gathered) g.dispose();
      }
    });
    return out;
  }

  /** Bytes of optimizer state this rank holds. */
  stateBytes(): number {
    return optimizerStateBytes(this.inner);
  }

  scalars(): Record<string, number | boolean> {
    return this.inner.scalars();
  }
  loadScalars(s: Record<string, number | boolean>): void {
    this.inner.loadScalars(s);
  }
}

/** Bytes of an optimizer's state tensors. */
export function optimizerStateBytes(o: Optimizer): number {
  let n = 0;
  for (const s of o.stateOf().values()) for (const t of Object.values(s)) n += t.numel() * itemSize(t.dtype);
  return n;
}
