// A group of processes that train together, on libtorch's c10d (native/distributed.cc): a
// TCPStore rendezvous and ProcessGroupGloo, as torch.distributed.init_process_group('gloo')
// makes them. Collectives block until every rank has joined in; a rank that is gone or does not
// join within the timeout makes them fail on the others with an Error naming this rank, never
// hang.
import { native } from '../tensor/native';
import { Tensor } from '../tensor/tensor';
import { tensor } from '../tensor/create';
import { LaunchEnv, readLaunchEnv } from './env';

export type ReduceOp = 'sum' | 'max' | 'min' | 'product';

export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  /** address of the rendezvous store (rank 0's machine, or torchrun's) */
  masterAddr: string;
  masterPort: number;
  /** how long the rendezvous and every collective may wait for the other ranks; default 60 s */
  timeoutSeconds?: number;
  /** the store is served by a launcher (torchrun's agent), not by rank 0 */
  agentStore?: boolean;
  /** a restarted group's attempt number: its keys do not meet the failed attempt's */
  attempt?: number;
  localRank?: number;
  localWorldSize?: number;
}

/** The key a non-finite number travels under in allGatherObject's JSON. */
const NONFINITE = '__fulltune_nonfinite__';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

/** The default bucket of the gradient all-reduce: DistributedDataParallel's bucket_cap_mb (25). */
export const BUCKET_BYTES = 25 * 2 ** 20;
/** DDP's first, smaller bucket (torch.distributed._DEFAULT_FIRST_BUCKET_BYTES): communication starts early. */
export const FIRST_BUCKET_BYTES = 2 ** 20;

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
  readonly timeoutSeconds: number;
  private id: number | null;

  private constructor(o: ProcessGroupOptions, id: number) {
    this.rank = o.rank;
    this.worldSize = o.worldSize;
    this.localRank = o.localRank ?? o.rank;
    this.localWorldSize = o.localWorldSize ?? o.worldSize;
    this.timeoutSeconds = o.timeoutSeconds ?? 60;
    this.id = id;
  }

  /** Whether this build of the addon has Gloo (its headers were found when it was compiled). */
  static available(): boolean {
    return native.distAvailable();
  }

  /**
   * Joins the group: blocks until all worldSize ranks have joined (or the timeout passes).
   * Errors: a MASTER_PORT in use on rank 0, an unreachable store, ranks missing at the timeout.
   */
  static init(o: ProcessGroupOptions): ProcessGroup {
    const timeout = o.timeoutSeconds ?? 60;
    if (!(timeout > 0)) throw new RangeError(`timeoutSeconds must be positive, got ${timeout}`);
    const where = `rank ${o.rank} of ${o.worldSize}`;
    const isServer = !o.agentStore && o.rank === 0;
    let id: number;
    try {
      id = native.distInit(o.rank, o.worldSize, o.masterAddr, o.masterPort, Math.round(timeout * 1000), isServer, `fulltune/attempt_${o.attempt ?? 0}/`, LOOPBACK.test(o.masterAddr) ? '127.0.0.1' : '');
    } catch (e) {
      const msg = (e as Error).message;
      if (/EADDRINUSE|address already in use/i.test(msg)) {
        throw new Error(`${where}: MASTER_PORT ${o.masterPort} is in use on this machine: choose a free port (MASTER_PORT=...) or stop what holds it`);
      }
      if (/timeout|timed out/i.test(msg)) {
        throw new Error(`${where}: the other ranks did not join within ${timeout} s at ${o.masterAddr}:${o.masterPort} (is every rank started, with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE?): ${firstLine(msg)}`);
      }
      throw new Error(`${where}: could not join the process group at ${o.masterAddr}:${o.masterPort}: ${firstLine(msg)}`);
    }
    return new ProcessGroup(o, id);
  }

  /** The group a launcher (torchrun, or `fulltune train --nproc-per-node`) describes; null for one process. */
  static fromEnv(o: { timeoutSeconds?: number; env?: NodeJS.ProcessEnv } = {}): ProcessGroup | null {
    const e: LaunchEnv | null = readLaunchEnv(o.env);
    if (!e) return null;
    return ProcessGroup.init({ ...e, attempt: e.restartCount, timeoutSeconds: o.timeoutSeconds });
  }

  /** @internal the native group's id */
  handle(): number {
    if (this.id === null) throw new Error('the process group is destroyed');
    return this.id;
  }

  /** @internal Runs a collective; failures name this rank and the likely cause. */
  run<T>(what: string, f: (id: number) => T, timeoutSeconds = this.timeoutSeconds): T {
    const id = this.handle();
    try {
      return f(id);
    } catch (e) {
      // a caller's mistake (a non-contiguous tensor, a bad root) is not a peer's failure
      if ((e as Error).name === 'TypeError') throw e;
      const msg = firstLine((e as Error).message);
      const cause = /timeout|timed out/i.test(msg) ? `another rank did not take part within ${timeoutSeconds} s (stopped, hung or slower than the timeout)` : 'another rank is gone (it exited or was killed) or the connection failed';
      throw new Error(`rank ${this.rank} of ${this.worldSize}: ${what} failed: ${cause}: ${msg}`);
    }
  }

  /**
   * Each tensor replaced in place by its own reduction over the ranks (contiguous tensors).
   * timeoutSeconds: this collective's own bound (default the group's).
   */
  allReduce(tensors: Tensor[], op: ReduceOp = 'sum', o: { timeoutSeconds?: number } = {}): void {
    const t = o.timeoutSeconds ?? this.timeoutSeconds;
    this.run('all-reduce', (id) => native.distAllReduce(id, tensors.map((x) => x.handle), op, Math.round(t * 1000)), t);
  }

  /** Reduces plain numbers over the ranks (float64; NaN and infinities pass). */
  allReduceNumbers(values: number[], op: ReduceOp = 'sum', o: { timeoutSeconds?: number } = {}): number[] {
    const t = tensor(values, { dtype: 'float64' });
    try {
      this.allReduce([t], op, o);
      return Array.from(t.toArray() as Float64Array);
    } finally {
      t.dispose();
    }
  }

  /** Every rank's tensors become root's, in place. */
  broadcast(tensors: Tensor[], root = 0): void {
    this.run('broadcast', (id) => native.distBroadcast(id, tensors.map((t) => t.handle), root));
  }

  /** Every rank's tensor (same shape and dtype on each), in rank order; new tensors the caller owns. */
  allGather(t: Tensor): Tensor[] {
    return this.run('all-gather', (id) => native.distAllGather(id, t.handle).map((h) => new Tensor(h)));
  }

  /**
   * Every rank's JSON-serialisable value, in rank order (torch.distributed.all_gather_object):
   * sizes first, then the padded bytes. Non-finite numbers (NaN, infinities) arrive as they were
   * (plain JSON would turn them into null).
   */
  allGatherObject<T>(value: T): T[] {
    const bytes = Buffer.from(JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? { [NONFINITE]: String(v) } : v)) ?? 'null', 'utf8');
    const sizes = this.allReduceNumbers(Array.from({ length: this.worldSize }, (_, r) => (r === this.rank ? bytes.length : 0)), 'sum');
    const longest = Math.max(...sizes);
    const padded = new Uint8Array(longest);
    padded.set(bytes);
    const t = tensor(padded, { dtype: 'uint8' });
    let parts: Tensor[] = [];
    try {
      parts = this.allGather(t);
      const revive = (_k: string, v: unknown) => (v !== null && typeof v === 'object' && NONFINITE in v ? Number((v as Record<string, string>)[NONFINITE]) : v);
      return parts.map((p, r) => JSON.parse(Buffer.from((p.toArray() as Uint8Array).subarray(0, sizes[r])).toString('utf8'), revive) as T);
    } finally {
      t.dispose();
      for (const p of parts) p.dispose();
    }
  }

  /** Returns when every rank has reached it; timeoutSeconds: this wait's own bound (default the group's). */
  barrier(o: { timeoutSeconds?: number } = {}): void {
    const t = o.timeoutSeconds ?? this.timeoutSeconds;
    this.run('barrier', (id) => native.distBarrier(id, Math.round(t * 1000)), t);
  }

  /**
   * Sums the parameters' gradients over the ranks in place (DistributedDataParallel's reducer:
   * buckets of about bucketBytes in reverse parameter order, one native call). A gradient
   * present on some ranks only counts as zeros on the others. Returns whether any was reduced.
   */
  allReduceGradients(params: Tensor[], bucketBytes = BUCKET_BYTES): boolean {
    return this.run('the gradient all-reduce', (id) => native.distAllReduceGrads(id, params.map((p) => p.handle), bucketBytes));
  }

  /**
   * This rank's part of a reduction (torch.distributed.reduce_scatter_tensor): input, of shape
   * (N * n, ...) for N ranks, is reduced over the ranks and split in N parts along its first
   * dimension; rank r gets part r, shape (n, ...), a new tensor the caller owns.
   */
  reduceScatter(input: Tensor, op: ReduceOp = 'sum'): Tensor {
    return this.run('reduce-scatter', (id) => new Tensor(native.distReduceScatter(id, input.handle, op)));
  }

  /**
   * A gradient all-reduce that overlaps with the backward pass (DistributedDataParallel's
   * reducer), over these parameters: see GradientReducer.
   */
  gradientReducer(params: Tensor[], o: { bucketBytes?: number; firstBucketBytes?: number } = {}): GradientReducer {
    return new GradientReducer(this, params, o.bucketBytes ?? BUCKET_BYTES, o.firstBucketBytes ?? FIRST_BUCKET_BYTES);
  }

  /** Leaves the group (its connections close); idempotent. */
  destroy(): void {
    if (this.id === null) return;
    native.distDestroy(this.id);
    this.id = null;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/^dist\w+: /, '');
}

/**
 * The gradient all-reduce overlapped with the backward pass, as DistributedDataParallel's reducer
 * does it (native/distributed.cc). Hooks on the parameters' gradient accumulators mark each one
 * ready as the backward pass produces it; a bucket (reverse parameter order, DDP's 1 MiB first
 * bucket then 25 MiB ones) is all-reduced, summed, on Gloo's threads as soon as all of its
 * gradients are ready, while the backward pass goes on.
 *
 * Use, for the backward pass of the last micro-batch of a step: `prepare([loss])`, `loss.backward()`,
 * `finish()`. Backward passes without prepare accumulate locally (DDP's no_sync). Parameters the
 * loss does not depend on are ready at prepare (find_unused_parameters); a gradient some ranks
 * lack counts as zeros there, and one no rank has stays null. One backward pass per prepare: a
 * parameter accumulated twice between prepare and finish is an error.
 */
export class GradientReducer {
  private id: number | null;

  /** @internal use ProcessGroup.gradientReducer */
  constructor(
    private readonly group: ProcessGroup,
    params: Tensor[],
    bucketBytes: number,
    firstBucketBytes: number,
  ) {
    this.id = native.distReducerNew(group.handle(), params.map((p) => p.handle), bucketBytes, firstBucketBytes);
  }

  private handle(): number {
    if (this.id === null) throw new Error('the gradient reducer is freed');
    return this.id;
  }

  /** Arms the reducer for the backward pass from outputs (the loss, scaled as it will be backpropagated). */
  prepare(outputs: Tensor[]): void {
    const id = this.handle();
    this.group.run('the gradient all-reduce', () => native.distReducerPrepare(id, outputs.map((t) => t.handle)));
  }

  /**
   * After the backward pass: launches the buckets left, waits for all, writes the summed
   * gradients. reduced: whether any gradient was; overlapped: buckets launched before finish.
   */
  finish(): { reduced: boolean; buckets: number; overlapped: number } {
    const id = this.handle();
    return this.group.run('the gradient all-reduce', () => native.distReducerFinish(id));
  }

  /** loss.backward() with the gradients summed over the ranks during it: prepare, backward, finish (disarmed if the backward fails). */
  backward(loss: Tensor): void {
    this.prepare([loss]);
    try {
      loss.backward();
    } catch (e) {
      this.disarm();
      throw e;
    }
    this.finish();
  }

  /** Leaves a backward pass that failed before finish (collectives in flight are dropped). */
  disarm(): void {
    if (this.id !== null) native.distReducerDisarm(this.id);
  }

  /** Removes the hooks; idempotent. */
  free(): void {
    if (this.id === null) return;
    native.distReducerFree(this.id);
    this.id = null;
  }
}
