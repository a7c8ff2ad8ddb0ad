// Shared test helpers: fixture tensors in and out, and explicit-tolerance comparison.
import * as fs from 'fs';
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

/** The largest differences seen: absolute, and relative to the expected value (elements with expected 0 skipped). */
export interface Agreement {
  maxAbs: number;
  maxRel: number;
}

/**
 * Compares element by element: |a - b| <= atol + rtol |b| must hold for every element, else
 * throws naming the worst one and how many failed. A NaN (or an infinity where a finite value
 * is expected) fails; a NaN passes only where `nanMatches` and the expected value is NaN too.
 * Returns the measured agreement; with FULLTUNE_MEASURE=<file> it is also appended to that
 * file (one JSON line per comparison, `used` being the worst element's share of its tolerance),
 * which is how the tolerances in the tests were set.
 */
export function compareNumbers(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  what: string,
  nanMatches = false,
): Agreement {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} elements, expected ${expected.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let worstR = 0;
  let bad = 0;
  for (let i = 0; i < expected.length; i++) {
    const x = actual[i];
    const y = expected[i];
    if (typeof x !== 'number') throw new Error(`${what}: element ${i} is ${String(x)} (${typeof x}), expected the number ${y}`);
    if (Number.isNaN(y) && Number.isNaN(x) && nanMatches) continue;
    if (x === y) continue; // equal infinities included
    const d = Math.abs(x - y);
    // NaN on either side, or any infinity that is not equal, is an infinitely bad element
    const r = Number.isFinite(d) ? d / (atol + rtol * Math.abs(y)) : Infinity;
    if (Number.isFinite(d)) {
      maxAbs = Math.max(maxAbs, d);
      if (y !== 0) maxRel = Math.max(maxRel, d / Math.abs(y));
    } else {
      maxAbs = maxRel = Infinity;
    }
    if (r > 1) bad++;
    if (r > worstR) {
      worstR = r;
      worst = i;
    }
  }
  if (process.env.FULLTUNE_MEASURE && what) fs.appendFileSync(process.env.FULLTUNE_MEASURE, JSON.stringify({ what, n: expected.length, maxAbs, maxRel, used: worstR, rtol, atol }) + '\n');
  if (bad > 0) {
    throw new Error(
      `${what}: ${bad} of ${expected.length} elements outside tolerance; worst: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(rtol ${rtol}, atol ${atol}; largest differences ${maxAbs} absolute, ${maxRel} relative)`,
    );
  }
  return { maxAbs, maxRel };
}

/** A tensor against a fixture tensor: shape, dtype and every element (NaN only where the fixture has NaN). */
export function expectClose(actual: Tensor, expected: Enc, rtol: number, atol: number, what = ''): Agreement {
  if (actual.dtype !== expected.dtype) throw new Error(`${what}: dtype ${actual.dtype}, expected ${expected.dtype}`);
  if (JSON.stringify([...actual.shape]) !== JSON.stringify(expected.shape)) {
    throw new Error(`${what}: shape [${[...actual.shape]}], expected [${expected.shape}]`);
  }
  const raw = actual.toArray();
  // typed arrays made by the addon belong to Node's main realm, so `instanceof` cannot tell them apart here
  const a = actual.dtype === 'int64' ? Float64Array.from(raw as BigInt64Array, Number) : Float64Array.from(raw as ArrayLike<number>);
  return compareNumbers(a, expected.data.map(num), rtol, atol, what, true);
}

/** Plain numbers against expected ones, element by element; any NaN fails. */
export function closeNumbers(actual: number[], expected: number[], rtol: number, atol: number, what = ''): Agreement {
  return compareNumbers(actual, expected, rtol, atol, what, false);
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

// Every parameter's float32 gradient from transformers (scripts/gen_bert_grad_fixtures.py), read
// here with no fulltune code: a safetensors file is a length, a JSON header and the raw data.
export function readSafetensorsPlain(file: string): Map<string, { shape: number[]; data: Float32Array | BigInt64Array }> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
  for (const [k, e] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const bytes = Uint8Array.from(buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1])).buffer;
    if (e.dtype === 'F32') out.set(k, { shape: e.shape, data: new Float32Array(bytes) });
    else if (e.dtype === 'I64') out.set(k, { shape: e.shape, data: new BigInt64Array(bytes) });
    else throw new Error(`${file}: ${k} has dtype ${e.dtype}, expected F32 or I64`);
  }
  return out;
}
