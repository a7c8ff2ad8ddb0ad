// fulltune's few-row float32 kernels behind linear() and linearInOut() (native/decode_matmul.cc),
// against libtorch's products in float64 and with the kernels off. The PyTorch fixtures of these
// ops (ops.test.ts: linearDecode*, linearInOutDecode*) check them against PyTorch itself.
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as ft from '../src';
import { native } from '../src/tensor/native';

const available = ft.decodeMatmulAvailable();
const onAvx2 = available ? describe : describe.skip;

// on for every test, whatever FULLTUNE_DECODE_MATMUL says
beforeEach(() => ft.setDecodeMatmul(true));
afterEach(() => ft.setDecodeMatmul(true));

/** y by the kernel, the same with the kernels off (libtorch), and a float64 reference. */
function products(x: ft.Tensor, w: ft.Tensor, b: ft.Tensor | null, inOut: boolean) {
  const f = () => (inOut ? ft.linearInOut(x, w, b!) : ft.linear(x, w, b));
  const on = ft.noGrad(f);
  ft.setDecodeMatmul(false);
  const off = ft.noGrad(f);
  ft.setDecodeMatmul(true);
  const wt = inOut ? w.to('float64') : w.to('float64').transpose(0, 1);
  let ref = x.to('float64').reshape(-1, x.size(-1)).matmul(wt);
  if (b) ref = ref.add(b.to('float64'));
  return { on, off, ref: ref.view(...on.shape) };
}

onAvx2('decode matmul kernels', () => {
  // every row count the kernels take (1 to 8) and the first they leave to MKL (9); column counts
  // below, at and past a block (16 for (in, out), 4 for (out, in)); inner sizes with and without
  // a tail after the 8-wide vectors
  const rows = [1, 2, 3, 4, 5, 7, 8, 9];
  const cols = [1, 3, 4, 16, 17, 100];
  const inner = [1, 7, 8, 9, 64, 100];

  for (const inOut of [false, true]) {
    test(`${inOut ? 'linearInOut' : 'linear'}: every shape within float32 round-off of float64`, () => {
      ft.tidy(() => {
        ft.manualSeed(3);
        let worst = 0;
        for (const m of rows)
          for (const n of cols)
            for (const k of inner) {
              const x = ft.randn([m, 1, k]);
              const w = inOut ? ft.randn([k, n]) : ft.randn([n, k]);
              for (const b of inOut ? [ft.randn([n])] : [ft.randn([n]), null]) {
                const { on, ref } = products(x, w, b, inOut);
                expect(on.shape).toEqual([m, 1, n]);
                expect(on.dtype).toBe('float32');
                // |error| relative to the sum of |terms| (the scale of float32 round-off in a dot product)
                const scale = x.to('float64').abs().reshape(-1, k).matmul(inOut ? w.to('float64').abs() : w.to('float64').abs().transpose(0, 1)).add(1);
                const err = on.to('float64').sub(ref).abs().view(m, n).div(scale).max().item();
                expect(Number.isNaN(err)).toBe(false);
                worst = Math.max(worst, err);
              }
            }
        // measured: 2.0e-7 (linear) and 2.2e-7 (linearInOut); float32's epsilon is 1.2e-7
        expect(worst).toBeLessThan(2e-6);
      });
    });
  }

  test('decode-sized products on 2 threads: within round-off of float64, differing from MKL, and off is bitwise libtorch', () => {
    const threads = ft.getNumThreads();
    ft.setNumThreads(2);
    try {
      ft.tidy(() => {
        ft.manualSeed(4);
        for (const inOut of [false, true]) {
          // big enough to be split across threads (the small shapes above run in one piece)
          const x = ft.randn([4, 1, 384]);
          const w = inOut ? ft.randn([384, 1152]) : ft.randn([1152, 384]);
          const b = ft.randn([1152]);
          const { on, off, ref } = products(x, w, b, inOut);
          // measured: 2.3e-5 absolute on values whose terms sum to about 250 in magnitude
          expect(on.to('float64').sub(ref).abs().max().item()).toBeLessThan(2e-4);
          const differs = on.ne(off).sum().item();
          expect(differs).toBeGreaterThan(0);
        // with the kernels off, linear is at::linear and linearInOut at::addmm: PyTorch's ops
        const lib = ft.noGrad(() => (inOut ? b.add(x.reshape(4, 384).matmul(w)).view(4, 1, 1152) : x.matmul(w.transpose(0, 1)).add(b)));
          expect(off.to('float64').sub(lib.to('float64')).abs().max().item()).toBeLessThan(1e-4);
        }
      });
    } finally {
      ft.setNumThreads(threads);
    }
  });

  test('with a gradient recorded, libtorch computes the product and autograd differentiates it', () => {
    ft.tidy(() => {
      ft.manualSeed(5);
      const x = ft.randn([2, 1, 16]);
      const w = ft.randn([8, 16]);
      w.requiresGrad = true;
      const y = ft.linear(x, w);
      expect(y.requiresGrad).toBe(true);
      y.sum().backward();
      // d sum(x w^T) / dw = column sums of x, for every row of w
      const expected = x.reshape(2, 16).sum(0).view(1, 16).expand(8, 16);
      expect(w.grad!.sub(expected).abs().max().item()).toBeLessThan(1e-5);
    });
  });

  test('non-contiguous inputs and non-float32 inputs give the same values as libtorch', () => {
    ft.tidy(() => {
      ft.manualSeed(6);
      const x = ft.randn([16, 2, 3]).transpose(0, 2); // (3, 2, 16), not contiguous
      const w = ft.randn([5, 16]);
      const { on, ref } = products(x, w, null, false);
      expect(on.to('float64').sub(ref).abs().max().item()).toBeLessThan(1e-5);
      const y64 = ft.noGrad(() => ft.linear(x.to('float64'), w.to('float64')));
      expect(y64.dtype).toBe('float64');
      expect(y64.sub(ref).abs().max().item()).toBeLessThan(1e-12);
    });
  });

  test('shapes that do not fit fail as libtorch fails them', () => {
    ft.tidy(() => {
      const x = ft.randn([1, 1, 8]);
      expect(() => ft.noGrad(() => ft.linear(x, ft.randn([4, 7])))).toThrow(/linear/);
      expect(() => ft.noGrad(() => ft.linearInOut(x, ft.randn([7, 4]), ft.randn([4])))).toThrow(/^linearInOut: x \(\.\.\., in\), weight \(in, out\) and bias \(out\) do not fit$/);
    });
  });
});

// GCC builds on Linux compile the addon with OpenMP (scripts/locate-libtorch.js); elsewhere its
// own loops are serial by design
const build = native.buildInfo();
const gccLinux = process.platform === 'linux' && build.compiler === 'gcc';
(gccLinux ? test : test.skip)("the addon's own parallel loops (these kernels, fused dropout, checkpoint reads) use every thread", () => {
  expect(build.openmp).toBe(true);
  const before = ft.getNumThreads();
  try {
    ft.setNumThreads(2);
    expect(native.parallelThreadsUsed()).toBe(2);
    ft.setNumThreads(1);
    expect(native.parallelThreadsUsed()).toBe(1);
  } finally {
    ft.setNumThreads(before);
  }
});

test('setDecodeMatmul takes a boolean; FULLTUNE_DECODE_MATMUL is 0 or 1', () => {
  expect(() => ft.setDecodeMatmul('no' as unknown as boolean)).toThrow(TypeError);
  expect(typeof available).toBe('boolean');
  const src = path.join(__dirname, '..', 'src');
  const run = (v: string) =>
    execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', `require(${JSON.stringify(src)})`], { env: { ...process.env, FULLTUNE_DECODE_MATMUL: v }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(() => run('0')).not.toThrow();
  expect(() => run('off')).toThrow(/FULLTUNE_DECODE_MATMUL must be 0 or 1, got "off"/);
});
