// Shared test helpers: fixture tensors in and out, and explicit-tolerance comparison.
import { DType, Tensor, tensor } from '../src';

export interface Enc {
  shape: number[];
  dtype: DType;
  data: (number | string | boolean)[];
}

const num = (v: number | string | boolean): number =>
  typeof v === 'string' ? (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : NaN) : Number(v);

export function fromEnc(e: Enc, requiresGrad = false): Tensor {
  if (e.dtype === 'bool') return tensor(Uint8Array.from(e.data as boolean[], (b) => (b ? 1 : 0)), { shape: e.shape, dtype: 'bool' });
  const vals = Float64Array.from(e.data, num);
  const t = tensor(vals, { shape: e.shape, dtype: e.dtype });
  if (requiresGrad) t.requiresGrad = true;
  return t;
}

/** max |a - b| / (atol + rtol |b|) <= 1 elementwise, with a message naming the worst element. */
export function expectClose(actual: Tensor, expected: Enc, rtol: number, atol: number, what = ''): void {
  expect([...actual.shape]).toEqual(expected.shape);
  const a = actual.dtype === 'int64' ? Float64Array.from(actual.toArray() as BigInt64Array, Number) : actual.toArray();
  const e = expected.data.map(num);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < e.length; i++) {
    const x = Number(a[i]);
    const y = e[i];
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    if (x === y) continue;
    const r = Math.abs(x - y) / (atol + rtol * Math.abs(y));
    if (!(r <= worst)) {
      worst = r;
      at = i;
    }
  }
  if (worst > 1) {
    throw new Error(`${what}: element ${at} is ${a[at]}, expected ${e[at]} (rtol ${rtol}, atol ${atol})`);
  }
}

export function closeNumbers(actual: number[], expected: number[], rtol: number, atol: number, what = ''): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(r <= 1)) throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (rtol ${rtol}, atol ${atol})`);
  }
}

/**
 * Errors made by the addon come from Node's main realm, not jest's sandbox, so
 * `toThrow(TypeError)` (an instanceof check) cannot see them: check the name instead.
 */
export function expectThrows(fn: () => unknown, name: 'Error' | 'TypeError' | 'RangeError', message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeDefined();
  const err = caught as Error;
  expect(err.name).toBe(name);
  if (message) expect(err.message).toMatch(message);
}
