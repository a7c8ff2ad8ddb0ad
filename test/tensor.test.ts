// The tensor API's own behaviour: creation, dtypes, devices, read-back, autograd switches.
import * as ft from '../src';

describe('tensor', () => {
  afterEach(() => undefined);

  test('dtype inference follows torch.tensor', () => {
    ft.tidy(() => {
      expect(ft.tensor([1, 2, 3]).dtype).toBe('int64');
      expect(ft.tensor([1.5, 2]).dtype).toBe('float32');
      expect(ft.tensor([true, false]).dtype).toBe('bool');
      expect(ft.tensor(new Float64Array([1])).dtype).toBe('float64');
      expect(ft.tensor(new Int32Array([1])).dtype).toBe('int32');
      expect(ft.tensor([[1, 2]], { dtype: 'bfloat16' }).dtype).toBe('bfloat16');
      expect(ft.tensor([[1, 2]], { dtype: 'float16' }).toNumbers()).toEqual([1, 2]);
      expect(ft.arange(5).dtype).toBe('int64');
      expect(ft.full([2], true).dtype).toBe('bool');
    });
  });

  test('shape, read-back and item', () => {
    ft.tidy(() => {
      const t = ft.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32' });
      expect(t.shape).toEqual([2, 3]);
      expect(t.ndim).toBe(2);
      expect(t.numel()).toBe(6);
      expect(t.device).toBe('cpu');
      expect(Array.from(t.toArray() as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(ft.tensor([7]).toArray()).toEqual(new BigInt64Array([7n]));
      expect(t.sum().item()).toBe(21);
      expect(ft.tensor([[1]]).eq(1).toArray()).toEqual(new Uint8Array([1]));
      expect(ft.zeros([0, 3]).toArray().length).toBe(0);
    });
  });

  test('*Like creation keeps shape and dtype', () => {
    ft.tidy(() => {
      const t = ft.zeros([2, 3], { dtype: 'float64' });
      for (const l of [ft.zerosLike(t), ft.onesLike(t), ft.fullLike(t, 4), ft.randnLike(t), ft.randLike(t)]) {
        expect(l.shape).toEqual([2, 3]);
        expect(l.dtype).toBe('float64');
      }
    });
  });

  test('noGrad and enableGrad', () => {
    ft.tidy(() => {
      const x = ft.ones([2], { requiresGrad: true });
      expect(ft.noGrad(() => x.mul(2).requiresGrad)).toBe(false);
      expect(ft.noGrad(() => ft.enableGrad(() => x.mul(2).requiresGrad))).toBe(true);
      expect(ft.isGradEnabled()).toBe(true);
      expect(() => ft.noGrad(() => {
        throw new Error('inner');
      })).toThrow('inner');
      expect(ft.isGradEnabled()).toBe(true);
      const y = x.mul(3).detach();
      expect(y.requiresGrad).toBe(false);
    });
  });

  test('backward accumulates into .grad, retainGraph allows a second pass', () => {
    ft.tidy(() => {
      const x = ft.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
      const y = x.square().sum();
      y.backward(undefined, { retainGraph: true });
      y.backward();
      expect(x.grad!.toNumbers()).toEqual([4, 8]);
      expect(x.isLeaf).toBe(true);
    });
  });

  test('cuda is reported honestly', () => {
    expect(typeof ft.cudaAvailable()).toBe('boolean');
    if (!ft.cudaAvailable()) expect(() => ft.zeros([1], { device: 'cuda' })).toThrow(/CUDA is not available/);
  });

  test('the package entry works with require()', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const m = require('../src');
    expect(typeof m.tensor).toBe('function');
  });
});

test('sign and ceil as torch.sign and torch.ceil, keeping the dtype', () => {
  ft.tidy(() => {
    const x = ft.tensor([-2.5, -0.5, 0, 0.25, 3, 7.0001]);
    expect(x.sign().toNumbers()).toEqual([-1, -1, 0, 1, 1, 1]);
    expect(Array.from(x.ceil().toNumbers()).map((v) => (Object.is(v, -0) ? 0 : v))).toEqual([-2, 0, 0, 1, 3, 8]);
    const i = ft.tensor([-3, 0, 5], { dtype: 'int64' });
    expect(i.sign().dtype).toBe('int64');
    expect(i.sign().toNumbers()).toEqual([-1, 0, 1]);
  });
});
