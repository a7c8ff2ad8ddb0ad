// The Tensor: a JS object owning one native handle. Methods are thin calls into native/.
import { DType, Device, checkDevice, dtypeCode, dtypeOfCode } from './dtype';
import { H, native } from './native';
import { Disposable, track } from './scope';

// Last-resort release of tensors that were never disposed and became unreachable.
// Registering with a FinalizationRegistry costs about as much as a small op, so it is
// generational: a new tensor waits in `young`; tensors still alive when young is swept
// (every YOUNG_LIMIT creations, every YOUNG_BYTES of new tensors, or within a second) are
// registered. Most temporaries are disposed before that and never touch the registry.
// Tensors owned by a scope skip all of this until they outlive every scope (scope.ts calls
// _promote then). `young` holds its tensors strongly, so the garbage collector cannot free a
// dropped one before the sweep: bounded by count alone, 4,096 dropped 1 MB tensors kept 4 GB
// alive whatever V8 knew of them, hence the bound in bytes too (the addon counts the bytes
// of every tensor it makes in `made[0]`, read here without a call).
const backstop = new FinalizationRegistry<number>((id) => {
  try {
    native.dispose(id);
  } catch {
    /* already released */
  }
});
const YOUNG_LIMIT = 4096;
/** V8's own step for external memory between collections (64 MiB). */
const YOUNG_BYTES = 64 * 1024 * 1024;
const made = native.allocationCounters();
let sweptAt = 0;
let young: Tensor[] = [];
let sweepTimer: NodeJS.Timeout | null = null;

function sweepYoung(): void {
  const batch = young;
  young = [];
  sweptAt = made[0];
  if (sweepTimer !== null) {
    clearTimeout(sweepTimer);
    sweepTimer = null;
  }
  for (const t of batch) t._promote();
}

type Other = Tensor | number;

export class Tensor implements Disposable {
  /** The native handle; -1 once disposed (native/ rejects it with a clear error). */
  private _h: number;
  private _shape: number[] | undefined;
  private _registered = false;
  kept = false;

  /** @internal Use the creation functions; this adopts a handle made by native/. */
  constructor(handle: H) {
    this._h = handle;
    // A scope frees what it tracks; only unowned tensors need the GC backstop.
    if (track(this)) return;
    young.push(this);
    if (young.length >= YOUNG_LIMIT || made[0] - sweptAt >= YOUNG_BYTES) sweepYoung();
    else if (sweepTimer === null) sweepTimer = setTimeout(sweepYoung, 1000).unref();
  }

  /** @internal Called by the young-generation sweep: a surviving tensor joins the backstop. */
  _promote(): void {
    if (this._h >= 0 && !this._registered) {
      backstop.register(this, this._h, this);
      this._registered = true;
    }
  }

  /** @internal */
  get handle(): H {
    return this._h;
  }

  get isDisposed(): boolean {
    return this._h < 0;
  }

  dispose(): void {
    const h = this._release();
    if (h >= 0) native.dispose(h);
  }

  /** @internal Marks this disposed and returns the native handle to free (-1: already disposed); scopes free a batch at once. */
  _release(): number {
    const h = this._h;
    if (h < 0) return -1;
    this._h = -1;
    if (this._registered) backstop.unregister(this);
    return h;
  }

  // ---- metadata ----
  get shape(): readonly number[] {
    if (this._shape === undefined) this._shape = native.shape(this._h);
    return this._shape;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get dtype(): DType {
    return dtypeOfCode(native.dtype(this._h));
  }
  get device(): Device {
    return native.device(this._h) as Device;
  }
  numel(): number {
    return native.numel(this._h);
  }
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): dimension out of range for a ${s.length}-d tensor`);
    return s[d];
  }
  isContiguous(): boolean {
    return native.isContiguous(this._h);
  }

  // ---- data ----
  /** A copy of the data as a typed array (float16/bfloat16 widen to Float32Array; int64 is BigInt64Array). */
  toArray(): Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array {
    return native.toArray(this._h);
  }
  /** A (B, T) tensor's rows as arrays of numbers (token ids and masks of a batch). TypeError for other ranks. */
  toRows(): number[][] {
    if (this.ndim !== 2) throw new TypeError(`toRows(): expected a 2-d tensor, got shape [${this.shape.join(', ')}]`);
    const [B, T] = this.shape;
    const flat = this.toNumbers();
    return Array.from({ length: B }, (_, b) => flat.slice(b * T, (b + 1) * T));
  }
  /** The data as plain numbers in row-major order (int64 converted with Number()). */
  toNumbers(): number[] {
    const a = this.toArray();
    // by tag, not instanceof: the array comes from the addon's realm (jest runs code in another)
    if (Object.prototype.toString.call(a) === '[object BigInt64Array]') return Array.from(a as BigInt64Array, (v) => Number(v));
    return Array.from(a as ArrayLike<number>);
  }
  item(): number {
    return native.item(this._h) as number;
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return native.requiresGrad(this._h);
  }
  set requiresGrad(on: boolean) {
    native.setRequiresGrad(this._h, on);
  }
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this._h, on);
    return this;
  }
  /** A new tensor on this tensor's gradient (dispose it or let its scope), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this._h);
    return g < 0 ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    if (g === null) native.setGrad(this._h);
    else native.setGrad(this._h, g._h);
  }
  get isLeaf(): boolean {
    return native.isLeaf(this._h);
  }
  retainGrad(): this {
    native.retainGrad(this._h);
    return this;
  }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    native.backward(this._h, gradient ? gradient._h : null, opts.retainGraph ?? false);
  }
  detach(): Tensor {
    return new Tensor(native.detach(this._h));
  }

  /** A second handle on this very tensor (not a copy, not a view: the same autograd identity and .grad), disposed on its own. */
  share(): Tensor {
    return new Tensor(native.share(this._h));
  }

  // ---- elementwise ----
  add(o: Other): Tensor {
    return new Tensor(typeof o === 'number' ? native.addScalar(this._h, o) : native.add(this._h, o._h));
  }
  sub(o: Other): Tensor {
    return new Tensor(typeof o === 'number' ? native.subScalar(this._h, o) : native.sub(this._h, o._h));
  }
  /** s - this */
  rsub(s: number): Tensor {
    return new Tensor(native.rsubScalar(this._h, s));
  }
  mul(o: Other): Tensor {
    return new Tensor(typeof o === 'number' ? native.mulScalar(this._h, o) : native.mul(this._h, o._h));
  }
  div(o: Other): Tensor {
    return new Tensor(typeof o === 'number' ? native.divScalar(this._h, o) : native.div(this._h, o._h));
  }
  /** s / this */
  rdiv(s: number): Tensor {
    return new Tensor(native.rdivScalar(this._h, s));
  }
  pow(o: Other): Tensor {
    return new Tensor(typeof o === 'number' ? native.powScalar(this._h, o) : native.pow(this._h, o._h));
  }
  maximum(o: Tensor): Tensor {
    return new Tensor(native.maximum(this._h, o._h));
  }
  minimum(o: Tensor): Tensor {
    return new Tensor(native.minimum(this._h, o._h));
  }
  eq(o: Other | boolean): Tensor {
    return new Tensor(typeof o === 'object' ? native.eq(this._h, o._h) : native.eqScalar(this._h, o));
  }
  ne(o: Other | boolean): Tensor {
    return new Tensor(typeof o === 'object' ? native.ne(this._h, o._h) : native.neScalar(this._h, o));
  }
  lt(o: Other): Tensor {
    return new Tensor(typeof o === 'number' ? native.ltScalar(this._h, o) : native.lt(this._h, o._h));
  }
  le(o: Other): Tensor {
    return new Tensor(typeof o === 'number' ? native.leScalar(this._h, o) : native.le(this._h, o._h));
  }
  gt(o: Other): Tensor {
    return new Tensor(typeof o === 'number' ? native.gtScalar(this._h, o) : native.gt(this._h, o._h));
  }
  ge(o: Other): Tensor {
    return new Tensor(typeof o === 'number' ? native.geScalar(this._h, o) : native.ge(this._h, o._h));
  }
  logicalAnd(o: Tensor): Tensor {
    return new Tensor(native.logicalAnd(this._h, o._h));
  }
  logicalOr(o: Tensor): Tensor {
    return new Tensor(native.logicalOr(this._h, o._h));
  }
  logicalNot(): Tensor {
    return new Tensor(native.logicalNot(this._h));
  }
  isfinite(): Tensor {
    return new Tensor(native.isfinite(this._h));
  }
  neg(): Tensor {
    return new Tensor(native.neg(this._h));
  }
  exp(): Tensor {
    return new Tensor(native.exp(this._h));
  }
  log(): Tensor {
    return new Tensor(native.log(this._h));
  }
  sqrt(): Tensor {
    return new Tensor(native.sqrt(this._h));
  }
  rsqrt(): Tensor {
    return new Tensor(native.rsqrt(this._h));
  }
  abs(): Tensor {
    return new Tensor(native.abs(this._h));
  }
  /** -1, 0 or 1 by the sign of each element (torch.sign). */
  sign(): Tensor {
    return new Tensor(native.sign(this._h));
  }
  /** The smallest integer not below each element, in the input's dtype (torch.ceil). */
  ceil(): Tensor {
    return new Tensor(native.ceil(this._h));
  }
  sigmoid(): Tensor {
    return new Tensor(native.sigmoid(this._h));
  }
  tanh(): Tensor {
    return new Tensor(native.tanh(this._h));
  }
  relu(): Tensor {
    return new Tensor(native.relu(this._h));
  }
  silu(): Tensor {
    return new Tensor(native.silu(this._h));
  }
  sin(): Tensor {
    return new Tensor(native.sin(this._h));
  }
  cos(): Tensor {
    return new Tensor(native.cos(this._h));
  }
  erf(): Tensor {
    return new Tensor(native.erf(this._h));
  }
  square(): Tensor {
    return new Tensor(native.square(this._h));
  }
  reciprocal(): Tensor {
    return new Tensor(native.reciprocal(this._h));
  }
  /** approximate 'none': exact erf form; 'tanh': the tanh approximation (gelu_new). */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return new Tensor(native.gelu(this._h, approximate));
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return new Tensor(native.clamp(this._h, min ?? null, max ?? null));
  }
  /** Where mask is true, value; elsewhere this. */
  maskedFill(mask: Tensor, value: number | boolean): Tensor {
    return new Tensor(native.maskedFill(this._h, mask._h, value));
  }
  matmul(o: Tensor): Tensor {
    return new Tensor(native.matmul(this._h, o._h));
  }
  bmm(o: Tensor): Tensor {
    return new Tensor(native.bmm(this._h, o._h));
  }

  // ---- reductions (dim omitted: over all elements) ----
  sum(dim?: number | number[], keepdim = false, dtype?: DType): Tensor {
    return new Tensor(native.sum(this._h, dims(dim), keepdim, dtype === undefined ? null : dtypeCode(dtype)));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.mean(this._h, dims(dim), keepdim));
  }
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return new Tensor(native.maxAll(this._h));
    const [v, i] = native.maxDim(this._h, dim, keepdim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return new Tensor(native.minAll(this._h));
    const [v, i] = native.minDim(this._h, dim, keepdim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  amax(dim: number | number[], keepdim = false): Tensor {
    return new Tensor(native.amax(this._h, dims(dim) as number[], keepdim));
  }
  /** Running sums along dim (torch.cumsum). */
  cumsum(dim: number): Tensor {
    return new Tensor(native.cumsum(this._h, dim));
  }
  /** The k largest (or smallest) entries along dim, sorted (torch.topk). RangeError-like TypeError for k out of range. */
  topk(k: number, dim = -1, largest = true): { values: Tensor; indices: Tensor } {
    const [v, i] = native.topk(this._h, k, dim, largest);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  /** Stable sort along dim (torch.sort(stable=True)). */
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.sort(this._h, dim, descending);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  /** The upper triangle: elements below `diagonal` set to zero (torch.triu). */
  triu(diagonal = 0): Tensor {
    return new Tensor(native.triu(this._h, diagonal));
  }
  /** The lower triangle: elements above `diagonal` set to zero (torch.tril). */
  tril(diagonal = 0): Tensor {
    return new Tensor(native.tril(this._h, diagonal));
  }
  /** A copy with src written at index along dim (torch.scatter, out of place). */
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.scatter(this._h, dim, index.handle, src.handle));
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmax(this._h, dim ?? null, keepdim));
  }
  /** The vector p-norm (torch.linalg.vector_norm); p may be Infinity. */
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.norm(this._h, p, dims(dim), keepdim));
  }
  softmax(dim: number): Tensor {
    return new Tensor(native.softmax(this._h, dim));
  }
  logSoftmax(dim: number): Tensor {
    return new Tensor(native.logSoftmax(this._h, dim));
  }

  // ---- shape ----
  reshape(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.reshape(this._h, flat(shape)));
  }
  view(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.view(this._h, flat(shape)));
  }
  permute(...order: number[] | [number[]]): Tensor {
    return new Tensor(native.permute(this._h, flat(order)));
  }
  transpose(d0: number, d1: number): Tensor {
    return new Tensor(native.transpose(this._h, d0, d1));
  }
  contiguous(): Tensor {
    return new Tensor(native.contiguous(this._h));
  }
  expand(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.expand(this._h, flat(shape)));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(native.flatten(this._h, startDim, endDim));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(native.narrow(this._h, dim, start, length));
  }
  /** Python's t[..., start:end:step] on one dimension; omitted bounds mean the ends. */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return new Tensor(native.slice(this._h, dim, start ?? null, end ?? null, step));
  }
  select(dim: number, index: number): Tensor {
    return new Tensor(native.select(this._h, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native.indexSelect(this._h, dim, index._h));
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(native.gather(this._h, dim, index._h));
  }
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] {
    return native.split(this._h, sizeOrSizes, dim).map((h) => new Tensor(h));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(dim === undefined ? native.squeeze(this._h) : native.squeeze(this._h, dim));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(native.unsqueeze(this._h, dim));
  }

  // ---- conversion ----
  /** A tensor of another dtype or on another device (a new handle even when nothing changes). */
  to(target: DType | Device | { dtype?: DType; device?: Device }): Tensor {
    if (typeof target === 'string') {
      if (target === 'cpu' || target.startsWith('cuda')) return new Tensor(native.toDevice(this._h, checkDevice(target)));
      return new Tensor(native.toDtype(this._h, dtypeCode(target as DType)));
    }
    let t: Tensor = this;
    if (target.device !== undefined) t = new Tensor(native.toDevice(t._h, checkDevice(target.device)));
    if (target.dtype !== undefined) {
      const prev = t;
      t = new Tensor(native.toDtype(t._h, dtypeCode(target.dtype)));
      if (prev !== this) prev.dispose();
    }
    return t === this ? this.clone() : t;
  }
  float(): Tensor {
    return this.to('float32');
  }
  long(): Tensor {
    return this.to('int64');
  }
  clone(): Tensor {
    return new Tensor(native.clone(this._h));
  }

  // ---- in place (used under noGrad for initialisation and loading) ----
  normal_(mean = 0, std = 1): this {
    native.normal_(this._h, mean, std);
    return this;
  }
  uniform_(lo = 0, hi = 1): this {
    native.uniform_(this._h, lo, hi);
    return this;
  }
  /** Tensor.random_() with its default range (int64: [0, 2^63); float32: integers in [0, 2^24]), from the default generator. */
  random_(): this {
    native.random_(this._h);
    return this;
  }
  /**
   * torch.nn.init.trunc_normal_: normal(mean, std) truncated to [a, b], drawn as PyTorch draws it
   * (the same values for the same seed). Throws TypeError unless std > 0 and a < b.
   */
  truncNormal_(mean = 0, std = 1, a = -2, b = 2): this {
    native.truncNormal_(this._h, mean, std, a, b);
    return this;
  }
  zero_(): this {
    native.zero_(this._h);
    return this;
  }
  fill_(v: number | boolean): this {
    native.fill_(this._h, v);
    return this;
  }
  copy_(src: Tensor): this {
    native.copy_(this._h, src._h);
    return this;
  }

  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }
}

function dims(d: number | number[] | undefined): number[] | null {
  if (d === undefined) return null;
  return typeof d === 'number' ? [d] : d;
}

function flat(a: number[] | [number[]]): number[] {
  return Array.isArray(a[0]) ? (a[0] as number[]) : (a as number[]);
}
