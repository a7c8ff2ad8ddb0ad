// Deterministic tensor lifetimes. libtorch memory is invisible to V8's heap accounting,
// so nothing here relies on the garbage collector: tensors are freed by dispose(),
// by the scope they were made in (tidy for synchronous code, scope() across await),
// and only as a last resort by a FinalizationRegistry.
import { AsyncLocalStorage } from 'async_hooks';
import { native } from './native';

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Set by keep(): no scope frees this tensor. */
  kept: boolean;
  /** Called when no scope owns the tensor any more: it joins the GC backstop. */
  _promote(): void;
  /** Marks it disposed and returns the native handle to free, or -1 (then nothing to free). */
  _release(): number;
}

class Scope {
  readonly items: Disposable[] = [];
}

const syncStack: Scope[] = [];
const asyncScopes = new AsyncLocalStorage<Scope>();

function currentScope(): Scope | undefined {
  const n = syncStack.length;
  return n > 0 ? syncStack[n - 1] : asyncScopes.getStore();
}

/** Called for every tensor made: the innermost open scope will free it. False when no scope owns it. */
export function track(t: Disposable): boolean {
  const s = currentScope();
  if (s === undefined) return false;
  s.items.push(t);
  return true;
}

/** Tensors (at any depth in arrays and plain objects) that a scope's result keeps alive. */
function collect(result: unknown, out: Set<Disposable>, depth = 0): void {
  if (result === null || typeof result !== 'object' || depth > 8) return;
  if (isDisposable(result)) {
    out.add(result);
    return;
  }
  if (Array.isArray(result)) {
    for (const r of result) collect(r, out, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(result) === Object.prototype || result instanceof Map) {
    const values = result instanceof Map ? [...result.values()] : Object.values(result);
    for (const v of values) collect(v, out, depth + 1);
  }
}

function isDisposable(x: object): x is Disposable {
  return typeof (x as Disposable).dispose === 'function' && 'kept' in x;
}

function close(scope: Scope, result: unknown): void {
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  const parent = currentScope();
  // the rest are freed natively in one call: a call per tensor cost about as much as the op
  const free = new Uint32Array(scope.items.length);
  let n = 0;
  for (const t of scope.items) {
    if (t.kept) continue;
    if (survivors.size > 0 && survivors.has(t)) {
      if (!t.isDisposed) {
        if (parent !== undefined) parent.items.push(t);
        else t._promote();
      }
      continue;
    }
    const h = t._release();
    if (h >= 0) free[n++] = h;
  }
  if (n > 0) native.disposeMany(free.subarray(0, n));
}

/**
 * Runs fn synchronously; every tensor made inside is freed when it returns, except
 * those in its result (which move to the enclosing scope) and those passed to keep().
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('tidy(fn): fn must be a function');
  const scope = new Scope();
  syncStack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    syncStack.pop();
    close(scope, undefined);
    throw e;
  }
  syncStack.pop();
  if (result instanceof Promise) {
    close(scope, undefined);
    throw new TypeError('tidy(fn): fn returned a Promise; use scope(async () => ...) across await');
  }
  close(scope, result);
  return result;
}

/**
 * The asynchronous counterpart of tidy: tensors made anywhere in fn's async call tree
 * (across await) are freed when its promise settles, except those in the resolved value.
 * Concurrent scopes do not see each other's tensors.
 */
export async function scope<T>(fn: () => Promise<T>): Promise<T> {
  if (typeof fn !== 'function') throw new TypeError('scope(fn): fn must be a function');
  const s = new Scope();
  let result: T;
  try {
    result = await asyncScopes.run(s, fn);
  } catch (e) {
    close(s, undefined);
    throw e;
  }
  close(s, result);
  return result;
}

/** Exempts t from every scope; the caller disposes it. */
export function keep<T extends Disposable>(t: T): T {
  t.kept = true;
  t._promote();
  return t;
}

/** Disposes every tensor found in x (a tensor, or arrays and plain objects of them). */
export function dispose(x: unknown): void {
  const all = new Set<Disposable>();
  collect(x, all);
  for (const t of all) if (!t.isDisposed) t.dispose();
}
