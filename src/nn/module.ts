// Module: a tree of layers whose attribute paths are the checkpoint keys.
// `this.attention = new BertAttention(...)` inside `this.layer[0]` yields
// `encoder.layer.0.attention...` with nobody typing a key string. Tensor-valued fields are
// parameters; buffers are marked with buffer(). Fields starting with `_` are private state.
import { DType, Device, isFloating } from '../tensor/dtype';
import { Tensor } from '../tensor/tensor';
import { noGrad } from '../tensor/autograd';
import { keep } from '../tensor/scope';

const BUFFER = Symbol('fulltune.buffer');
type Marked = Tensor & { [BUFFER]?: { persistent: boolean } };

/** Marks t as a buffer (state that is not trained); non-persistent buffers stay out of stateDict. */
export function buffer(t: Tensor, opts: { persistent?: boolean } = {}): Tensor {
  (t as Marked)[BUFFER] = { persistent: opts.persistent ?? true };
  return keep(t);
}

function isBuffer(t: Tensor): boolean {
  return (t as Marked)[BUFFER] !== undefined;
}
function isPersistent(t: Tensor): boolean {
  return (t as Marked)[BUFFER]?.persistent ?? true;
}

export class StateDictError extends Error {
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: Mismatch[],
    where = 'loadStateDict',
  ) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
    for (const m of mismatched) {
      parts.push(`wrong shape for ${m.key}: expected [${m.expected.join(', ')}], got [${m.actual.join(', ')}]`);
    }
    super(`${where}: ${parts.join('; ')}`);
    this.name = 'StateDictError';
  }
}

export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

type Mismatch = { key: string; expected: number[]; actual: number[] };

/** How a set of source keys lines up with a module's state (see Module.matchState). */
export interface StateMatch {
  /** each target tensor once (tied keys share one), with the source key that fills it */
  plan: [Tensor, string][];
  /** the module's keys no source provides */
  missing: string[];
  /** source keys the module does not have */
  unexpected: string[];
  mismatched: Mismatch[];
}

export abstract class Module {
  /** Train mode enables dropout; set by train()/eval() on the whole tree. */
  training = true;

  /** Direct children, in declaration order, by attribute name. */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (k.startsWith('_')) continue;
      if (v instanceof Module) out.push([k, v]);
    }
    return out;
  }

  /** This module's own tensors (parameters and buffers) by attribute name. */
  protected ownTensors(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (k.startsWith('_')) continue;
      if (v instanceof Tensor) out.push([k, v]);
    }
    return out;
  }

  /** Every module below and including this one, with its dotted path. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, m] of this.namedChildren()) out.push(...m.namedModules(prefix ? `${prefix}.${k}` : k));
    return out;
  }

  private namedTensors(pick: (t: Tensor) => boolean, dedupe: boolean): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [k, t] of m.ownTensors()) {
        if (!pick(t)) continue;
        if (dedupe && seen.has(t)) continue; // tied weights: the first path names them
        seen.add(t);
        out.push([path ? `${path}.${k}` : k, t]);
      }
    }
    return out;
  }

  /** Trainable tensors with their checkpoint keys; a tied tensor appears once, under its first key. */
  namedParameters(): [string, Tensor][] {
    return this.namedTensors((t) => !isBuffer(t), true);
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  namedBuffers(): [string, Tensor][] {
    return this.namedTensors(isBuffer, true);
  }

  /** Groups of keys naming the same tensor (tied weights), first key first. */
  tiedKeys(): string[][] {
    const byTensor = new Map<Tensor, string[]>();
    for (const [k, t] of this.namedTensors(() => true, false)) {
      const ks = byTensor.get(t);
      if (ks) ks.push(k);
      else byTensor.set(t, [k]);
    }
    return [...byTensor.values()].filter((ks) => ks.length > 1);
  }

  /**
   * Gives the tensor at `key` its own copy, so that it no longer shares storage with the keys it
   * was tied to (a checkpoint that stores tied keys with different values keeps both, as
   * transformers does). Returns the new tensor.
   */
  untie(key: string): Tensor {
    const dot = key.lastIndexOf('.');
    const owner = dot < 0 ? this : this.namedModules().find(([p]) => p === key.slice(0, dot))?.[1];
    const name = key.slice(dot + 1);
    const fields = owner as unknown as Record<string, Tensor> | undefined;
    const old = fields?.[name];
    if (!owner || !(old instanceof Tensor)) throw new Error(`untie: the model has no tensor '${key}'`);
    const own = noGrad(() => keep(old.clone()));
    if (old.requiresGrad) own.requiresGrad = true;
    if (isBuffer(old)) (own as Marked)[BUFFER] = (old as Marked)[BUFFER];
    fields![name] = own;
    return own;
  }

  /**
   * Parameters and persistent buffers by key, as PyTorch's state_dict (tied tensors appear
   * under every key; savers drop the aliases). The tensors are the module's own: do not dispose.
   */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedTensors((t) => !isBuffer(t) || isPersistent(t), false));
  }

  /**
   * Lines up source keys (with their shapes) against this module's state: which target each
   * fills, and every missing, unexpected and wrongly shaped key. A tied key is satisfied by
   * any one of its aliases, and tied targets are planned once.
   */
  matchState(sources: Map<string, number[]>): StateMatch {
    const own = this.stateDict();
    const aliasOf = new Map<string, string[]>();
    for (const group of this.tiedKeys()) for (const k of group) aliasOf.set(k, group);
    const m: StateMatch = { plan: [], missing: [], unexpected: [...sources.keys()].filter((k) => !own.has(k)), mismatched: [] };
    const planned = new Set<Tensor>();
    for (const [key, target] of own) {
      const src = [key, ...(aliasOf.get(key) ?? [])].find((k) => sources.has(k));
      if (src === undefined) {
        m.missing.push(key);
        continue;
      }
      if (planned.has(target)) continue;
      const a = sources.get(src)!;
      const e = [...target.shape];
      if (a.length !== e.length || a.some((d, i) => d !== e[i])) m.mismatched.push({ key, expected: e, actual: a });
      else {
        m.plan.push([target, src]);
        planned.add(target);
      }
    }
    return m;
  }

  /**
   * Copies tensors into this module's parameters and buffers. Strict (the default): every key
   * must be present, none unexpected, every shape equal; the error names every offender.
   * Tied keys are satisfied by any one of their aliases.
   */
  loadStateDict(sd: Map<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const { plan, missing, unexpected, mismatched } = this.matchState(new Map([...sd].map(([k, t]) => [k, [...t.shape]])));
    if (mismatched.length || (strict && (missing.length || unexpected.length))) {
      throw new StateDictError(strict ? missing : [], strict ? unexpected : [], mismatched);
    }
    noGrad(() => {
      for (const [target, src] of plan) target.copy_(sd.get(src)!);
    });
    return { missing, unexpected };
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Moves or casts every parameter and buffer (casts touch floating tensors only); tied weights stay tied. */
  to(target: Device | DType): this {
    const isDevice = target === 'cpu' || target.startsWith('cuda');
    const moved = new Map<Tensor, Tensor>();
    noGrad(() => {
      for (const [, t] of this.namedTensors(() => true, true)) {
        if (!isDevice && !isFloating(t.dtype)) continue;
        const m = keep(t.to(target));
        if (t.requiresGrad) m.requiresGrad = true;
        if (isBuffer(t)) (m as Marked)[BUFFER] = (t as Marked)[BUFFER];
        moved.set(t, m);
      }
    });
    for (const [, mod] of this.namedModules()) {
      const fields = mod as unknown as Record<string, Tensor>;
      for (const [k, t] of mod.ownTensors()) {
        const m = moved.get(t);
        if (m) fields[k] = m;
      }
    }
    for (const old of moved.keys()) old.dispose();
    return this;
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.namedTensors(() => true, true)) t.dispose();
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel(), 0);
  }
}

/** An indexed list of modules: children named 0, 1, 2, ... as nn.ModuleList. */
export class ModuleList<M extends Module> extends Module {
  private readonly _items: M[];
  constructor(items: M[]) {
    super();
    this._items = items;
  }
  get length(): number {
    return this._items.length;
  }
  at(i: number): M {
    return this._items[i];
  }
  [Symbol.iterator](): Iterator<M> {
    return this._items[Symbol.iterator]();
  }
  namedChildren(): [string, Module][] {
    return this._items.map((m, i) => [String(i), m]);
  }
}
