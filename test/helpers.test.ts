// The comparison helpers themselves: a helper that passes a NaN or a wrong dtype would let every
// parity test that uses it pass on broken output.
import * as ft from '../src';
import { closeNumbers, compareNumbers, Enc, expectClose } from './helpers';

const enc = (data: (number | string)[], dtype: ft.DType = 'float32'): Enc => ({ shape: [data.length], dtype, data });
const f32 = (v: number[]) => ft.tensor(Float32Array.from(v), { shape: [v.length] });

describe('expectClose', () => {
  test('passes equal and nearly equal values, fails just outside the tolerance', () => {
    ft.tidy(() => {
      expectClose(f32([1, 2, 3]), enc([1, 2, 3]), 0, 0, 'equal');
      expectClose(f32([1, 2, 3.0001]), enc([1, 2, 3]), 1e-4, 0, 'inside');
      expect(() => expectClose(f32([1, 2, 3.001]), enc([1, 2, 3]), 1e-4, 0, 'outside')).toThrow(/outside: 1 of 3 elements outside tolerance; worst: element 2/);
    });
  });

  test('a NaN where a number is expected fails', () => {
    ft.tidy(() => {
      expect(() => expectClose(f32([1, 2, NaN]), enc([1, 2, 3]), 1e-5, 1e-6, 'nan')).toThrow(/nan: 1 of 3 elements outside tolerance; worst: element 2 is NaN, expected 3/);
      expect(() => expectClose(f32([NaN, 2, 3]), enc([1, 2, 3]), 1, 1, 'nan first')).toThrow(/element 0 is NaN/);
    });
  });

  test('a NaN after a large error does not hide it: both are counted', () => {
    ft.tidy(() => {
      expect(() => expectClose(f32([100, 2, NaN]), enc([1, 2, 3]), 1e-5, 1e-6, 'both')).toThrow(/both: 2 of 3 elements outside tolerance/);
    });
  });

  test('NaN passes only where the fixture has NaN; infinities must match exactly', () => {
    ft.tidy(() => {
      expectClose(f32([NaN, Infinity, -Infinity]), enc(['nan', 'inf', '-inf']), 0, 0, 'specials');
      expect(() => expectClose(f32([1, Infinity, -Infinity]), enc(['nan', 'inf', '-inf']), 1, 1, 'number for NaN')).toThrow(/element 0 is 1, expected NaN/);
      expect(() => expectClose(f32([NaN, 1e30, -Infinity]), enc(['nan', 'inf', '-inf']), 1, 1, 'finite for inf')).toThrow(/element 1/);
      expect(() => expectClose(f32([NaN, Infinity, Infinity]), enc(['nan', 'inf', '-inf']), 1, 1, 'sign')).toThrow(/element 2/);
    });
  });

  test('the dtype must match', () => {
    ft.tidy(() => {
      expect(() => expectClose(f32([1, 2]).to('float64'), enc([1, 2]), 1, 1, 'f64')).toThrow(/f64: dtype float64, expected float32/);
      expect(() => expectClose(f32([1, 2]).to('int64'), enc([1, 2]), 1, 1, 'i64')).toThrow(/i64: dtype int64, expected float32/);
      expect(() => expectClose(f32([1, 0]), enc([1, 0], 'bool'), 1, 1, 'bool')).toThrow(/bool: dtype float32, expected bool/);
      expectClose(f32([1, 2]).to('int64'), enc([1, 2], 'int64'), 0, 0, 'int64 ok');
    });
  });

  test('the shape must match', () => {
    ft.tidy(() => {
      expect(() => expectClose(f32([1, 2, 3, 4]).view([2, 2]), enc([1, 2, 3, 4]), 1, 1, 'shape')).toThrow(/shape: shape \[2,2\], expected \[4\]/);
    });
  });
});

describe('closeNumbers', () => {
  test('any NaN fails, on either side, even after a large error', () => {
    expect(() => closeNumbers([1, NaN], [1, 2], 1e-5, 0, 'a')).toThrow(/a: 1 of 2/);
    expect(() => closeNumbers([1, 2], [1, NaN], 1e-5, 0, 'b')).toThrow(/b: 1 of 2/);
    expect(() => closeNumbers([NaN], [NaN], 1e-5, 0, 'c')).toThrow(/c: 1 of 1/);
    expect(() => closeNumbers([50, NaN], [1, 2], 1e-5, 0, 'd')).toThrow(/d: 2 of 2/);
  });

  test('lengths and types must match', () => {
    expect(() => closeNumbers([1], [1, 2], 1, 1, 'len')).toThrow(/len: 1 elements, expected 2/);
    expect(() => closeNumbers([1, undefined as unknown as number], [1, 2], 1, 1, 'undef')).toThrow(/undef: element 1 is undefined/);
  });

  test('returns the measured agreement', () => {
    const a = compareNumbers([1.5, 2, -4.02], [1.5, 2.01, -4], 1e-2, 0, 'measure');
    expect(a.maxAbs).toBeCloseTo(0.02, 12);
    expect(a.maxRel).toBeCloseTo(0.005, 12);
  });
});
