// Creating tensors, seeding, and process-wide queries.
import { DType, Device, checkDevice, dtypeCode } from './dtype';
import { native } from './native';
import { Tensor } from './tensor';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}
export interface TensorOptions extends CreateOptions {
  /** For flat data (a typed array or flat list): the shape to give it. */
  shape?: number[];
}

type Nested = number | boolean | Nested[];
export type TensorData = Nested | Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

function dev(o: CreateOptions): string {
  return o.device === undefined ? 'cpu' : checkDevice(o.device);
}

/** The shape of a nested array, checked to be rectangular, and its leaves in row-major order. */
function flatten(data: Nested): { shape: number[]; leaves: (number | boolean)[] } {
  const shape: number[] = [];
  let probe: Nested = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const leaves: (number | boolean)[] = [];
  const walk = (x: Nested, depth: number, where: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(x)) throw new TypeError(`tensor(): ragged nested array at ${where}: expected a number, got an array`);
      if (typeof x !== 'number' && typeof x !== 'boolean') {
        throw new TypeError(`tensor(): element at ${where} is ${typeof x}, expected a number or boolean`);
      }
      leaves.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) {
      throw new TypeError(
        `tensor(): ragged nested array at ${where}: expected length ${shape[depth]}, got ${Array.isArray(x) ? x.length : typeof x}`,
      );
    }
    for (let i = 0; i < x.length; i++) walk(x[i], depth + 1, `${where}[${i}]`);
  };
  walk(data, 0, 'data');
  return { shape, leaves };
}

/**
 * A tensor from nested arrays or a typed array. As torch.tensor: integers give int64,
 * booleans bool, other numbers float32, unless dtype says otherwise.
 */
export function tensor(data: TensorData, opts: TensorOptions = {}): Tensor {
  const device = dev(opts);
  if (ArrayBuffer.isView(data)) {
    const shape = opts.shape ?? [data.length];
    const natural: DType =
      data instanceof Float32Array ? 'float32'
      : data instanceof Float64Array ? 'float64'
      : data instanceof Int32Array ? 'int32'
      : data instanceof BigInt64Array ? 'int64'
      : data instanceof Uint8Array ? 'uint8'
      : (() => {
          throw new TypeError('tensor(): unsupported typed array (use Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array)');
        })();
    const dtype = opts.dtype ?? natural;
    return finish(new Tensor(native.fromData(data, shape, dtypeCode(dtype), device)), opts);
  }
  const { shape: nestedShape, leaves } = flatten(data as Nested);
  const shape = opts.shape ?? nestedShape;
  const allBool = leaves.length > 0 && leaves.every((v) => typeof v === 'boolean');
  const anyBool = leaves.some((v) => typeof v === 'boolean');
  if (anyBool && !allBool) throw new TypeError('tensor(): mixed booleans and numbers');
  const dtype: DType =
    opts.dtype ?? (allBool ? 'bool' : leaves.every((v) => Number.isInteger(v)) && leaves.length > 0 ? 'int64' : 'float32');
  let src: Float32Array | Float64Array | Uint8Array;
  if (allBool) src = Uint8Array.from(leaves as boolean[], (b) => (b ? 1 : 0));
  else if (dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16') src = Float32Array.from(leaves as number[]);
  else src = Float64Array.from(leaves as number[]);
  return finish(new Tensor(native.fromData(src, shape, dtypeCode(dtype), device)), opts);
}

export function zeros(shape: number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.zeros(shape, dtypeCode(o.dtype ?? 'float32'), dev(o))), o);
}
export function ones(shape: number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.ones(shape, dtypeCode(o.dtype ?? 'float32'), dev(o))), o);
}
export function full(shape: number[], value: number | boolean, o: CreateOptions = {}): Tensor {
  const dtype = o.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32');
  return finish(new Tensor(native.full(shape, value, dtypeCode(dtype), dev(o))), o);
}
/** arange(end) or arange(start, end, step); integer arguments give int64, as torch.arange. */
export function arange(startOrEnd: number, end?: number, step = 1, o: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
  const dtype = o.dtype ?? ([s, e, step].every(Number.isInteger) ? 'int64' : 'float32');
  return finish(new Tensor(native.arange(s, e, step, dtypeCode(dtype), dev(o))), o);
}
export function randn(shape: number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.randn(shape, dtypeCode(o.dtype ?? 'float32'), dev(o))), o);
}
export function rand(shape: number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.rand(shape, dtypeCode(o.dtype ?? 'float32'), dev(o))), o);
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.randint(low, high, shape, dtypeCode(o.dtype ?? 'int64'), dev(o))), o);
}
/**
 * torch.randperm(n, generator=g): a random permutation of 0..n-1, int64 on the CPU. `generator`:
 * a seed (g = torch.Generator().manual_seed(seed): the same permutation whatever was drawn
 * before), a CPU state from rngState() (a private generator set to it: the default generator is
 * left alone), or absent: the default CPU generator, advanced as torch.randperm(n) advances it.
 */
export function randperm(n: number, generator?: number | Buffer): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`randperm(${n}): expected a non-negative integer length`);
  if (typeof generator === 'number' && !(Number.isSafeInteger(generator) && generator >= 0)) throw new TypeError(`randperm: expected a non-negative integer seed below 2^53, got ${generator}`);
  return new Tensor(native.randperm(n, generator ?? null));
}

function like(t: Tensor, o: CreateOptions): CreateOptions {
  return { dtype: o.dtype ?? t.dtype, device: o.device ?? t.device, requiresGrad: o.requiresGrad };
}
export const zerosLike = (t: Tensor, o: CreateOptions = {}): Tensor => zeros([...t.shape], like(t, o));
export const onesLike = (t: Tensor, o: CreateOptions = {}): Tensor => ones([...t.shape], like(t, o));
export const fullLike = (t: Tensor, v: number | boolean, o: CreateOptions = {}): Tensor => full([...t.shape], v, like(t, o));
export const randnLike = (t: Tensor, o: CreateOptions = {}): Tensor => randn([...t.shape], like(t, o));
export const randLike = (t: Tensor, o: CreateOptions = {}): Tensor => rand([...t.shape], like(t, o));

/** Seeds libtorch's CPU and CUDA generators, as torch.manual_seed. */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new TypeError(`manualSeed(${seed}): expected a non-negative integer`);
  native.manualSeed(seed);
}

/** The whole state of a device's default generator ('cpu', 'cuda', 'cuda:N'), as torch.get_rng_state / torch.cuda.get_rng_state. */
export function rngState(device: Device = 'cpu'): Buffer {
  return native.rngState(device);
}
/** Puts back a state from rngState, as torch.set_rng_state / torch.cuda.set_rng_state. */
export function setRngState(state: Buffer, device: Device = 'cpu'): void {
  if (!Buffer.isBuffer(state)) throw new TypeError('setRngState: expected a Buffer from rngState()');
  native.setRngState(device, state);
}

export function cudaAvailable(): boolean {
  return native.cudaAvailable();
}
export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}

/** Live tensor handles and the bytes of their distinct storages, per device. */
export function memory(): { tensors: number; bytes: Record<string, number> } {
  return native.memory();
}

/**
 * Large CPU blocks (16 MiB and more) are kept when their tensors are freed and reused by later
 * tensors of up to their size, instead of being unmapped and faulted in again page by page each
 * step (as PyTorch's CUDA caching allocator does on the GPU). At most 4 GiB is held. Env
 * FULLTUNE_CPU_CACHE=0 turns the cache off for the process (read when the addon loads).
 * cpuCache() gives the bytes held; emptyCache() returns them to the system.
 */
export function cpuCache(): { bytes: number } {
  return { bytes: native.cpuCacheBytes() };
}
/** Returns the CPU blocks the cache holds to the system (torch.cuda.empty_cache for the CPU cache). */
export function emptyCache(): void {
  native.emptyCpuCache();
}
/**
 * Bounds the bytes of freed large blocks the CPU cache keeps (0: none, freed memory goes back
 * to the system at once, as runs that trade speed for memory want); null restores the default
 * cap. Returns the bound in effect (0 when the cache is off).
 */
export function setCpuCacheLimit(bytes: number | null): number {
  return native.setCpuCacheLimit(bytes);
}
/**
 * From now on, memory freed by tensors goes back to the system at once, for runs that trade
 * speed for memory: the CPU cache keeps no blocks (until setCpuCacheLimit(null)), and glibc maps
 * every block over 128 KiB on its own for the rest of the process (its default threshold grows
 * up to 32 MiB as blocks are freed, and what it then frees stays in its heap). Returns whether
 * glibc took the setting.
 */
export function returnFreedMemory(): boolean {
  native.setCpuCacheLimit(0);
  return native.mallocMmapThreshold(128 * 1024);
}
{
  const v = process.env.FULLTUNE_CPU_CACHE;
  if (v !== undefined && v !== '' && v !== '0' && v !== '1') throw new Error(`FULLTUNE_CPU_CACHE must be 0 or 1, got ${JSON.stringify(v)}`);
}

export function getNumThreads(): number {
  return native.numThreads();
}
// beyond this the OpenMP runtime aborts the whole process allocating per-thread state (1e9 did)
const MAX_THREADS = 1024;
/** torch.set_num_threads: intra-op threads, an integer from 1 to 1024. Throws RangeError otherwise. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new RangeError(`setNumThreads: expected an integer from 1 to ${MAX_THREADS}, got ${n}`);
  native.setNumThreads(n);
}
export function libtorchVersion(): string {
  return native.libtorchVersion();
}

/** Uninitialised memory: fill it before reading. */
export function empty(shape: number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.empty(shape, dtypeCode(o.dtype ?? 'float32'), dev(o))), o);
}
