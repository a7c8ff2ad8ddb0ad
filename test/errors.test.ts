// libtorch failures become JS Errors with the op's name; bad arguments become TypeErrors;
// the process carries on.
import * as ft from '../src';
import { native } from '../src/tensor/native';
import { expectThrows } from './helpers';

describe('errors', () => {
  test('a shape mismatch throws an Error naming the op', () => {
    ft.tidy(() => {
      const a = ft.ones([2, 3]);
      const b = ft.ones([4, 5]);
      expectThrows(() => a.matmul(b), 'Error');
      expect(() => a.matmul(b)).toThrow(/^matmul: .*(shapes cannot be multiplied|size mismatch)/);
      expect(() => a.add(ft.ones([4]))).toThrow(/add: The size of tensor a \(3\) must match/);
    });
  });

  test('a dtype mismatch throws', () => {
    ft.tidy(() => {
      const f = ft.ones([2, 2]);
      const d = ft.ones([2, 2], { dtype: 'float64' });
      expect(() => f.matmul(d)).toThrow(/matmul: .*(dtype|same)/i);
      expect(() => ft.embedding(f, ft.tensor([0.5]))).toThrow(/embedding: /);
    });
  });

  test('an index out of range throws', () => {
    ft.tidy(() => {
      const w = ft.randn([5, 3]);
      expect(() => ft.embedding(w, ft.tensor([0, 7]))).toThrow(/embedding: .*(out of range|index)/i);
      expect(() => w.select(0, 9)).toThrow(/select: .*out of range/);
      expect(() => w.indexSelect(0, ft.tensor([10]))).toThrow(/indexSelect: /);
    });
  });

  test('a disposed tensor used again throws, and so does disposing twice via native', () => {
    const t = ft.ones([2]);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(() => t.add(1)).toThrow(/disposed/);
    expect(() => t.toArray()).toThrow(/disposed/);
    expect(() => t.shape).toThrow(/disposed/);
    t.dispose(); // idempotent from JS
    const u = ft.ones([1]);
    const h = u.handle;
    u.dispose();
    expect(() => native.dispose(h)).toThrow(/disposed/);
  });

  test('wrong argument types from JS are TypeErrors', () => {
    expectThrows(() => native.add('x' as unknown as number, 1), 'TypeError', /add: argument 0: expected a tensor/);
    expectThrows(() => native.zeros([1.5], 0, 'cpu'), 'TypeError', /zeros: argument 0/);
    expect(() => native.zeros([2], 0, 'tpu')).toThrow(/unknown device/);
    expect(() => ft.tensor([[1, 2], [3]])).toThrow(/ragged/);
    expectThrows(() => ft.tensor([1, 'a' as unknown as number]), 'TypeError', /string/);
    expectThrows(() => ft.zeros([2], { dtype: 'complex64' as ft.DType }), 'TypeError', /unknown dtype/);
    expectThrows(() => ft.zeros([2], { device: 'tpu' as ft.Device }), 'TypeError', /unknown device/);
    expect(() => ft.tensor(new Float32Array(4), { shape: [3] })).toThrow(/elements/);
  });

  test('backward through a non-scalar without a gradient throws', () => {
    ft.tidy(() => {
      const x = ft.ones([3], { requiresGrad: true });
      expect(() => x.mul(2).backward()).toThrow(/backward: grad can be implicitly created only for scalar outputs/);
    });
  });

  test('item() on many elements throws', () => {
    ft.tidy(() => expect(() => ft.ones([3]).item()).toThrow(/item: /));
  });

  test('the process carries on after errors', () => {
    for (let i = 0; i < 1000; i++) {
      try {
        ft.tidy(() => ft.ones([2]).matmul(ft.ones([3])));
      } catch {
        /* expected */
      }
    }
    expect(ft.tidy(() => ft.ones([2]).add(1).sum().item())).toBe(4);
  });
});
