// The addon's whole surface, declared once, and the one place that loads it.
// Tensors cross the boundary as integer handles (H); see native/core.h for why.
import * as fs from 'fs';
import * as path from 'path';

export type H = number;
type Red = 'mean' | 'sum' | 'none';

export interface AdamWGroupHandles {
  params: H[];
  expAvg: H[];
  expAvgSq: H[];
  steps: H[];
  lr: number;
  weightDecay: number;
}

export interface NativeAddon {
  // creation
  fromData(data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array, shape: number[], dtype: number, device: string): H;
  fromBytes(buf: Uint8Array | ArrayBuffer, byteOffset: number, byteLength: number, shape: number[], dtype: number): H;
  zeros(shape: number[], dtype: number, device: string): H;
  ones(shape: number[], dtype: number, device: string): H;
  full(shape: number[], value: number | boolean, dtype: number, device: string): H;
  empty(shape: number[], dtype: number, device: string): H;
  arange(start: number, end: number, step: number, dtype: number, device: string): H;
  randn(shape: number[], dtype: number, device: string): H;
  rand(shape: number[], dtype: number, device: string): H;
  randint(low: number, high: number, shape: number[], dtype: number, device: string): H;
  /** torch.randperm(n, generator=g): g seeded with a seed, set to a CPU state, or (null) the default CPU generator. */
  randperm(n: number, generator: number | Buffer | null): H;
  manualSeed(seed: number): void;
  rngState(device: string): Buffer;
  setRngState(device: string, state: Buffer): void;
  /** a second handle on the same tensor */
  share(t: H): H;
  // metadata and data
  shape(t: H): number[];
  dtype(t: H): number;
  device(t: H): string;
  numel(t: H): number;
  isContiguous(t: H): boolean;
  toArray(t: H): Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
  toBytes(t: H): Buffer;
  item(t: H): number | boolean;
  dispose(t: H): void;
  /** dispose() of each handle, in order (a closing scope's tensors); every handle is checked first. */
  disposeMany(handles: Uint32Array): void;
  /** [0]: bytes of every tensor made so far, shared memory (native/core.h). */
  allocationCounters(): Float64Array;
  memory(): { tensors: number; bytes: Record<string, number> };
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  numThreads(): number;
  setNumThreads(n: number): void;
  /** Bytes of large CPU blocks the allocator cache holds for reuse. */
  cpuCacheBytes(): number;
  emptyCpuCache(): void;
  /** At most `bytes` of freed large blocks kept (0: none); null: the default cap. Returns the limit. */
  setCpuCacheLimit(bytes: number | null): number;
  /** glibc's M_MMAP_THRESHOLD, fixed (false where not glibc). */
  mallocMmapThreshold(bytes: number): boolean;
  /** How the addon was compiled: OpenMP (its own parallel loops parallel) and the compiler. */
  buildInfo(): { openmp: boolean; compiler: 'gcc' | 'clang' | 'other' };
  /** Threads one at::parallel_for of the addon's own code ran on (numThreads() when built right). */
  parallelThreadsUsed(): number;
  libtorchVersion(): string;
  // elementwise
  add(a: H, b: H): H;
  sub(a: H, b: H): H;
  mul(a: H, b: H): H;
  div(a: H, b: H): H;
  pow(a: H, b: H): H;
  maximum(a: H, b: H): H;
  minimum(a: H, b: H): H;
  eq(a: H, b: H): H;
  ne(a: H, b: H): H;
  lt(a: H, b: H): H;
  le(a: H, b: H): H;
  gt(a: H, b: H): H;
  ge(a: H, b: H): H;
  logicalAnd(a: H, b: H): H;
  logicalOr(a: H, b: H): H;
  addScalar(a: H, s: number): H;
  subScalar(a: H, s: number): H;
  rsubScalar(a: H, s: number): H;
  mulScalar(a: H, s: number): H;
  divScalar(a: H, s: number): H;
  rdivScalar(a: H, s: number): H;
  powScalar(a: H, s: number): H;
  eqScalar(a: H, s: number | boolean): H;
  neScalar(a: H, s: number | boolean): H;
  ltScalar(a: H, s: number): H;
  leScalar(a: H, s: number): H;
  gtScalar(a: H, s: number): H;
  geScalar(a: H, s: number): H;
  neg(a: H): H;
  exp(a: H): H;
  log(a: H): H;
  sqrt(a: H): H;
  rsqrt(a: H): H;
  abs(a: H): H;
  sign(a: H): H;
  ceil(a: H): H;
  sigmoid(a: H): H;
  tanh(a: H): H;
  relu(a: H): H;
  silu(a: H): H;
  erf(a: H): H;
  sin(a: H): H;
  cos(a: H): H;
  square(a: H): H;
  reciprocal(a: H): H;
  logicalNot(a: H): H;
  isfinite(a: H): H;
  gelu(a: H, approximate: 'none' | 'tanh'): H;
  clamp(a: H, min?: number | null, max?: number | null): H;
  where(cond: H, a: H, b: H): H;
  maskedFill(a: H, mask: H, value: number | boolean): H;
  matmul(a: H, b: H): H;
  bmm(a: H, b: H): H;
  linear(x: H, w: H, b?: H | null): H;
  // reductions
  sum(a: H, dims?: number[] | null, keepdim?: boolean, dtype?: number | null): H;
  mean(a: H, dims?: number[] | null, keepdim?: boolean): H;
  maxAll(a: H): H;
  minAll(a: H): H;
  maxDim(a: H, dim: number, keepdim: boolean): [H, H];
  minDim(a: H, dim: number, keepdim: boolean): [H, H];
  amax(a: H, dims: number[], keepdim: boolean): H;
  argmax(a: H, dim?: number | null, keepdim?: boolean): H;
  cumsum(a: H, dim: number): H;
  topk(a: H, k: number, dim: number, largest: boolean): [H, H];
  sort(a: H, dim: number, descending: boolean): [H, H];
  multinomial(probs: H, numSamples: number, replacement: boolean): H;
  norm(a: H, ord: number, dims?: number[] | null, keepdim?: boolean): H;
  // shape and indexing
  reshape(a: H, shape: number[]): H;
  view(a: H, shape: number[]): H;
  permute(a: H, dims: number[]): H;
  transpose(a: H, d0: number, d1: number): H;
  contiguous(a: H): H;
  expand(a: H, shape: number[]): H;
  flatten(a: H, start: number, end: number): H;
  narrow(a: H, dim: number, start: number, length: number): H;
  asStrided(a: H, size: number[], stride: number[], offset: number): H;
  slice(a: H, dim: number, start: number | null, end: number | null, step: number): H;
  select(a: H, dim: number, index: number): H;
  indexSelect(a: H, dim: number, index: H): H;
  triu(a: H, diagonal: number): H;
  tril(a: H, diagonal: number): H;
  scatter(a: H, dim: number, index: H, src: H): H;
  gather(a: H, dim: number, index: H): H;
  cat(ts: H[], dim: number): H;
  stack(ts: H[], dim: number): H;
  split(a: H, sizeOrSizes: number | number[], dim: number): H[];
  squeeze(a: H, dim?: number): H;
  unsqueeze(a: H, dim: number): H;
  toDtype(a: H, dtype: number): H;
  toDevice(a: H, device: string): H;
  clone(a: H): H;
  detach(a: H): H;
  normal_(a: H, mean: number, std: number): void;
  uniform_(a: H, lo: number, hi: number): void;
  random_(a: H): void;
  truncNormal_(a: H, mean: number, std: number, lo: number, hi: number): void;
  zero_(a: H): void;
  fill_(a: H, v: number | boolean): void;
  copy_(dst: H, src: H): void;
  // nn
  softmax(a: H, dim: number): H;
  logSoftmax(a: H, dim: number): H;
  layerNorm(x: H, normalizedShape: number[], w: H | null, b: H | null, eps: number): H;
  rmsNorm(x: H, w: H, eps: number): H;
  applyRotary(x: H, cos: H, sin: H): H;
  linearInOut(x: H, w: H, b: H): H;
  /** Few-row float32 CPU products in linear/linearInOut through fulltune's kernels (default on). */
  setDecodeMatmul(enabled: boolean): boolean;
  /** Whether this build and CPU have those kernels (x86-64 with AVX2 and FMA). */
  decodeMatmulAvailable(): boolean;
  dropout(x: H, p: number, train: boolean): H;
  fusedDropout(x: H, p: number, train: boolean): H;
  /** dropout of x (N, ...), the rows at index (N) of a (total, ...) tensor, with the masks dropout draws for the whole. */
  dropoutRows(x: H, p: number, train: boolean, index: H, total: number): H;
  dropoutReference(x: H, p: number, train: boolean): H;
  /** [index (N), first (B)] of a (B, T) padding mask's real tokens; undefined when nothing is padded or a row starts with padding. */
  tokenRows(mask: H): [H, H] | undefined;
  /** Attention of q (B, H, 1, D), each sequence's first query, with the dropout masks of attention over all T queries. */
  attentionFirstQuery(q: H, k: H, v: H, mask: H | null, dropoutP: number, scale: number | null): H;
  /** Whether attentionFirstQuery can reproduce that dtype's attention dropout here (CPU). */
  attentionFirstQueryExact(dtype: number): boolean;
  /** (total, ...) zeros with x's rows (N, ...) at index. */
  padRows(x: H, index: H, total: number): H;
  dropoutFastDraw(dtype: number): [boolean, boolean];
  attentionReference(q: H, k: H, v: H, mask: H | null, dropoutP: number, isCausal: boolean, scale: number | null): H;
  /** The fused kernel's keep flags (uint8) for elements first .. first + count - 1 under seed seedHi * 2^32 + seedLo. */
  fusedDropoutMask(seedLo: number, seedHi: number, p: number, first: number, count: number): H;
  embedding(w: H, idx: H, paddingIdx: number): H;
  scaledDotProductAttention(q: H, k: H, v: H, mask: H | null, dropoutP: number, isCausal: boolean, scale: number | null, enableGqa?: boolean): H;
  crossEntropy(logits: H, target: H, weight: H | null, reduction: Red, ignoreIndex: number, labelSmoothing: number): H;
  mseLoss(a: H, b: H, reduction: Red): H;
  bceWithLogits(x: H, y: H, weight: H | null, posWeight: H | null, reduction: Red): H;
  // autograd
  backward(t: H, grad?: H | null, retainGraph?: boolean): void;
  grad(t: H): H;
  setGrad(t: H, g?: H): void;
  requiresGrad(t: H): boolean;
  setRequiresGrad(t: H, on: boolean): void;
  isLeaf(t: H): boolean;
  retainGrad(t: H): void;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  // checkpoint I/O
  readInto(path: string, spans: [number, number, H][]): void;
  mapInto(path: string, spans: [number, number, H][]): void;
  mappedFiles(): string[];
  // mixed precision
  enterAutocast(device: 'cpu' | 'cuda', dtype: number): [boolean, number];
  exitAutocast(device: 'cpu' | 'cuda', prevEnabled: boolean, prevDtype: number): void;
  ampUnscale(params: H[], invScale: H, foundInf: H): void;
  ampUpdateScale(scale: H, growthTracker: H, foundInf: H, growth: number, backoff: number, interval: number): void;
  // process groups (native/distributed.cc): c10d's TCPStore and ProcessGroupGloo
  distAvailable(): boolean;
  distInit(rank: number, worldSize: number, masterAddr: string, masterPort: number, timeoutMs: number, isServer: boolean, prefix: string, bindHost: string): number;
  distDestroy(group: number): void;
  distAllReduce(group: number, tensors: H[], op?: 'sum' | 'max' | 'min' | 'product', timeoutMs?: number): void;
  distBroadcast(group: number, tensors: H[], root: number): void;
  distAllGather(group: number, t: H): H[];
  distBarrier(group: number, timeoutMs?: number): void;
  distAllReduceGrads(group: number, params: H[], bucketBytes: number): boolean;
  distReduceScatter(group: number, input: H, op?: 'sum' | 'max' | 'min' | 'product'): H;
  distReducerNew(group: number, params: H[], bucketBytes: number, firstBucketBytes: number): number;
  distReducerPrepare(reducer: number, outputs: H[]): void;
  distReducerFinish(reducer: number): { reduced: boolean; buckets: number; overlapped: number };
  distReducerDisarm(reducer: number): void;
  distReducerFree(reducer: number): void;
  // optimizers
  adamwStep(groups: AdamWGroupHandles[], beta1: number, beta2: number, eps: number, maximize: boolean, skipIf?: H): void;
  sgdStep(params: H[], momentumBuffers: H[] | null, lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: boolean, firstStep: boolean, skipIf?: H): boolean;
  clipGradNorm(params: H[], maxNorm: number, normType: number): H;
  zeroGrad(params: H[], setToNone: boolean): void;
}

function addonPath(): string {
  if (process.env.FULLTUNE_ADDON) return path.resolve(process.env.FULLTUNE_ADDON);
  // src/tensor/native.ts and dist/tensor/native.js both sit two levels below the package root.
  return path.resolve(__dirname, '..', '..', 'build', 'Release', 'fulltune.node');
}

function load(): NativeAddon {
  const p = addonPath();
  if (!fs.existsSync(p)) {
    throw new Error(`fulltune: the native addon is not built (${p} is missing). Run \`npm ci\` or \`npm run build:native\`.`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(p) as NativeAddon;
}

export const native: NativeAddon = load();
