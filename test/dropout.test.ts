// The fused CPU dropout used by nn.Dropout: PyTorch's distribution and gradient, seeded by
// libtorch's generator, the same masks whatever the thread count.
import * as ft from '../src';

describe('fusedDropout', () => {
  test('drops a fraction p, scales the rest by 1/(1-p), and its gradient is the same mask', () => {
    ft.tidy(() => {
      const x = ft.ones([1000, 200], { requiresGrad: true });
      const y = ft.fusedDropout(x, 0.3, true);
      const v = y.toNumbers();
      const zeros = v.filter((e) => e === 0).length / v.length;
      expect(Math.abs(zeros - 0.3)).toBeLessThan(0.005); // 200,000 draws: 4.5 standard deviations
      expect(v.every((e) => e === 0 || Math.abs(e - 1 / 0.7) < 1e-6)).toBe(true);
      y.sum().backward();
      expect(x.grad!.toNumbers()).toEqual(v);
    });
  });

  test('seeded by manualSeed, fresh masks on each call, independent of the thread count', () => {
    ft.tidy(() => {
      const x = ft.ones([300, 300]);
      const threads = ft.getNumThreads();
      ft.manualSeed(5);
      const a = ft.fusedDropout(x, 0.5).toNumbers();
      const b = ft.fusedDropout(x, 0.5).toNumbers();
      ft.setNumThreads(1);
      ft.manualSeed(5);
      const a1 = ft.fusedDropout(x, 0.5).toNumbers();
      ft.setNumThreads(threads);
      expect(a1).toEqual(a);
      expect(b).not.toEqual(a);
    });
  });

  test('identity in eval mode and at p = 0; bfloat16 and non-contiguous inputs', () => {
    ft.tidy(() => {
      const x = ft.randn([4, 6]);
      expect(ft.fusedDropout(x, 0.5, false).toNumbers()).toEqual(x.toNumbers());
      expect(ft.fusedDropout(x, 0, true).toNumbers()).toEqual(x.toNumbers());
      const bf = ft.fusedDropout(x.to('bfloat16'), 0.5, true);
      expect(bf.dtype).toBe('bfloat16');
      const t = x.transpose(0, 1); // non-contiguous
      const y = ft.fusedDropout(t, 0.5, true);
      expect([...y.shape]).toEqual([6, 4]);
      const tv = t.toNumbers();
      y.toNumbers().forEach((v, i) => expect(v === 0 || Math.abs(v - 2 * tv[i]) < 1e-5).toBe(true));
      expect(() => ft.fusedDropout(x, 1.5)).toThrow(RangeError);
    });
  });
});
