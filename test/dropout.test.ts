// Dropout: the fused CPU kernel's masks against its specification and against statistical
// independence, every dtype, tensors beyond 2^32 elements; nn.Dropout's choice of kernel; and
// train mode with libtorch's dropout against transformers (scripts/gen_dropout_fixtures.py).
//
// The statistical checks use fixed seeds, so they give the same answer on every run: they
// cannot flake. Each is a z-score (or a chi-square) against its distribution under independence
// for the sample size at hand, refused beyond Z = 5 (two-sided p about 6e-7 per check, a few
// hundred checks in all); a correlation rho between masks of n elements shows as rho * sqrt(n),
// so with n = 2^20 any dependence above 0.005 fails. The last statistical test runs the same
// checks on generators known to be bad, to show that they can fail.
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import * as ft from '../src';
import { native } from '../src/tensor/native';
import { dtypeCode } from '../src/tensor/dtype';

const Z = 5;

// ---- the specification, in JS ----

/** libtorch's CPU generator: MT19937 seeded by init_genrand; random64() = first draw << 32 | second. */
function mt19937(seed: number): () => number {
  const s = new Uint32Array(624);
  s[0] = seed >>> 0;
  for (let i = 1; i < 624; i++) s[i] = (Math.imul(1812433253, s[i - 1] ^ (s[i - 1] >>> 30)) + i) >>> 0;
  let idx = 624;
  return () => {
    if (idx >= 624) {
      for (let i = 0; i < 624; i++) {
        const y = (s[i] & 0x80000000) | (s[(i + 1) % 624] & 0x7fffffff);
        s[i] = s[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      idx = 0;
    }
    let y = s[idx++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  };
}
function mix32(h: number): number {
  h >>>= 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}
const thresholdOf = (p: number): number => Math.min(Math.floor(p * 2 ** 32), 2 ** 32 - 1);
/** keep flag of element k (k < 2^32) under seed (lo, hi), as native/dropout.cc specifies. */
const specKeep = (k: number, lo: number, hi: number, p: number): number => (mix32((mix32((Math.imul(k, 0x9e3779b1) ^ lo) >>> 0) + hi) >>> 0) >= thresholdOf(p) ? 1 : 0);

// ---- masks from the kernel ----

/** Keep flags (1 kept) of one fusedDropout call on ones(n) in float32. */
function kernelMask(n: number, p: number): Uint8Array {
  return ft.tidy(() => {
    const y = ft.fusedDropout(ft.ones([n]), p, true).toArray() as Float32Array;
    return Uint8Array.from(y, (v) => (v !== 0 ? 1 : 0));
  });
}
/** Keep flags for elements first .. first + count - 1 under seed (lo, hi), through the kernel's own code. */
function maskAt(lo: number, hi: number, p: number, first: number, count: number): Uint8Array {
  const t = new ft.Tensor(native.fusedDropoutMask(lo >>> 0, hi >>> 0, p, first, count));
  try {
    return Uint8Array.from(t.toArray() as Uint8Array);
  } finally {
    t.dispose();
  }
}

// ---- statistics ----

const sum = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};
/** (rate - q) / sd under Bernoulli(q) draws. */
const rateZ = (m: Uint8Array, q: number): number => (sum(m) / m.length - q) / Math.sqrt((q * (1 - q)) / m.length);
/** phi coefficient of two 0/1 sequences times sqrt(n): N(0, 1) when they are independent. */
function pairZ(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let na = 0;
  let nb = 0;
  let nab = 0;
  for (let i = 0; i < n; i++) {
    na += a[i];
    nb += b[i];
    nab += a[i] & b[i];
  }
  const pa = na / n;
  const pb = nb / n;
  return ((nab / n - pa * pb) / Math.sqrt(pa * (1 - pa) * pb * (1 - pb))) * Math.sqrt(n);
}
/** Lagged self-correlation: element i against element i + lag. */
const lagZ = (m: Uint8Array, lag: number): number => pairZ(m.subarray(0, m.length - lag), m.subarray(lag));
/** z of the rate at which two masks differ (their XOR) against 2q(1-q), its rate when independent. */
function xorZ(a: Uint8Array, b: Uint8Array, q: number): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i] ^ b[i];
  const e = 2 * q * (1 - q);
  return (d / a.length - e) / Math.sqrt((e * (1 - e)) / a.length);
}
/** P(Binomial(n, q) = k), through logarithms (C(2048, 1024) overflows a double). */
function binom(n: number, k: number, q: number): number {
  let logC = 0;
  for (let i = 1; i <= k; i++) logC += Math.log((n - k + i) / i);
  return Math.exp(logC + k * Math.log(q) + (n - k) * Math.log(1 - q));
}
/**
 * Chi-square of counts (each a sum of w Bernoulli(q) draws) against Binomial(w, q), as a
 * z-like score: (chi2 - critical) where critical is the p = 1e-6 point (Wilson-Hilferty), so
 * a value above 0 fails. Cells expected below 5 are merged.
 */
function binomialExcess(counts: Int32Array | number[], w: number, q: number): number {
  const obs = new Array(w + 1).fill(0);
  for (const c of counts) obs[c]++;
  const exp = obs.map((_, k) => counts.length * binom(w, k, q));
  const cells: [number, number][] = [];
  let o = 0;
  let e = 0;
  for (let k = 0; k <= w; k++) {
    o += obs[k];
    e += exp[k];
    if (e >= 5) {
      cells.push([o, e]);
      o = 0;
      e = 0;
    }
  }
  if (e > 0) cells[cells.length - 1] = [cells[cells.length - 1][0] + o, cells[cells.length - 1][1] + e];
  const chi2 = cells.reduce((s, [ob, ex]) => s + (ob - ex) ** 2 / ex, 0);
  const d = cells.length - 1;
  const crit = d * (1 - 2 / (9 * d) + 4.753 * Math.sqrt(2 / (9 * d))) ** 3; // p = 1e-6
  return chi2 - crit;
}
/** Keep counts in aligned windows of w elements. */
function windows(m: Uint8Array, w: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + w <= m.length; i += w) out.push(sum(m.subarray(i, i + w)));
  return out;
}

/** Every check one mask must pass; returns the failures (empty when it looks independent). */
function maskFailures(m: Uint8Array, p: number, what: string, lags = [1, 2, 3, 4, 7, 8, 16, 31, 32, 33, 64, 384, 1024, 4096, 32768]): string[] {
  const q = 1 - p;
  const bad: string[] = [];
  const rz = rateZ(m, q);
  if (Math.abs(rz) > Z) bad.push(`${what}: keep rate ${sum(m) / m.length}, z ${rz.toFixed(2)}`);
  for (const lag of lags) {
    if (lag >= m.length / 4) continue;
    const z = lagZ(m, lag);
    if (Math.abs(z) > Z) bad.push(`${what}: lag ${lag}, z ${z.toFixed(2)}`);
  }
  for (const w of [8, 32]) {
    const x = binomialExcess(windows(m, w), w, q);
    if (x > 0) bad.push(`${what}: windows of ${w} not Binomial(${w}, ${q}), chi2 over the p=1e-6 point by ${x.toFixed(1)}`);
  }
  return bad;
}
/** Checks between masks of different calls: correlation, XOR rate, and each element's count over the calls. */
function crossFailures(masks: Uint8Array[], p: number, what: string): string[] {
  const q = 1 - p;
  const bad: string[] = [];
  for (let i = 0; i < masks.length; i++) {
    for (const j of [i + 1, i + 2]) {
      if (j >= masks.length) continue;
      const z = pairZ(masks[i], masks[j]);
      if (Math.abs(z) > Z) bad.push(`${what}: calls ${i} and ${j} correlated, z ${z.toFixed(2)}`);
      const x = xorZ(masks[i], masks[j], q);
      if (Math.abs(x) > Z) bad.push(`${what}: calls ${i} and ${j} XOR rate off, z ${x.toFixed(2)}`);
    }
  }
  if (masks.length >= 8) {
    const n = Math.min(...masks.map((m) => m.length));
    const counts = new Int32Array(n);
    for (const m of masks) for (let k = 0; k < n; k++) counts[k] += m[k];
    const x = binomialExcess(counts, masks.length, q);
    if (x > 0) bad.push(`${what}: per-element counts over ${masks.length} calls not Binomial, chi2 over by ${x.toFixed(1)}`);
  }
  return bad;
}

const N = 1 << 20;

describe('fusedDropout: the kernel is its specification', () => {
  test('masks are the hash of (random64 from libtorch generator, index), call after call, whatever the thread count', () => {
    const n = 100003; // not a multiple of the vector width, several parallel chunks
    const p = 0.3;
    const threads = ft.getNumThreads();
    for (const nt of [1, Math.max(2, threads)]) {
      ft.setNumThreads(nt);
      ft.manualSeed(7);
      const gen = mt19937(7);
      for (let call = 0; call < 3; call++) {
        const got = kernelMask(n, p);
        const hi = gen();
        const lo = gen();
        let mismatches = 0;
        for (let k = 0; k < n; k++) if (got[k] !== specKeep(k, lo, hi, p)) mismatches++;
        expect(mismatches).toBe(0);
      }
    }
    ft.setNumThreads(threads);
  });

  test('fusedDropoutMask gives the same flags as the kernel and the specification', () => {
    const lo = 0x12345678;
    const hi = 0x9abcdef0;
    const m = maskAt(lo, hi, 0.1, 1000, 5000);
    for (let j = 0; j < m.length; j++) expect(m[j]).toBe(specKeep(1000 + j, lo, hi, 0.1));
    expect(() => maskAt(lo, hi, 1.5, 0, 10)).toThrow(/p must be in \[0, 1\]/);
    expect(() => native.fusedDropoutMask(-1, 0, 0.1, 0, 10)).toThrow(/\[0, 2\^32\)/);
  });
});

describe('fusedDropout: statistics of its masks', () => {
  test.each([0.1, 0.5, 0.9])('p = %p: keep rate 1 - p, neighbours, rows and windows independent', (p) => {
    ft.manualSeed(11);
    for (let i = 0; i < 3; i++) expect(maskFailures(kernelMask(N, p), p, `p ${p} call ${i}`)).toEqual([]);
  });

  test('rows of BERT-like shapes: a row against the next and the same column of every row', () => {
    ft.manualSeed(12);
    for (const [rows, cols] of [
      [2048, 384],
      [1024, 1024],
      [4096, 64],
    ]) {
      const m = kernelMask(rows * cols, 0.1);
      expect(maskFailures(m, 0.1, `${rows}x${cols}`, [cols, 2 * cols, cols - 1, cols + 1])).toEqual([]);
      // each column's count over the rows, against Binomial(rows, 0.9)
      const counts = new Int32Array(cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) counts[c] += m[r * cols + c];
      expect(binomialExcess(counts, rows, 0.9)).toBeLessThan(0);
    }
  });

  test('successive calls (the layers of a step) are independent: correlation, XOR, per-element counts', () => {
    ft.manualSeed(13);
    const masks = Array.from({ length: 24 }, () => kernelMask(N / 4, 0.1));
    expect(crossFailures(masks, 0.1, 'successive calls')).toEqual([]);
  });

  test('steps: the same layer in successive training steps, with other draws between, is independent', () => {
    // a step as BERT takes it: embedding dropout, per layer attention (libtorch's generator,
    // as SDPA's dropout) and two hidden dropouts, then the classifier's
    ft.manualSeed(14);
    const steps: Uint8Array[][] = [];
    for (let s = 0; s < 10; s++) {
      const layerMasks: Uint8Array[] = [kernelMask(16 * 32 * 64, 0.1)];
      for (let l = 0; l < 2; l++) {
        ft.tidy(() => ft.dropout(ft.ones([16, 4, 32, 32]), 0.1, true));
        layerMasks.push(kernelMask(16 * 32 * 64, 0.1), kernelMask(16 * 32 * 64, 0.1));
      }
      layerMasks.push(kernelMask(16 * 64, 0.1));
      steps.push(layerMasks);
    }
    for (let layer = 0; layer < steps[0].length; layer++) {
      expect(crossFailures(steps.map((st) => st[layer]), 0.1, `layer ${layer} over steps`)).toEqual([]);
    }
    // and the layers of one step against each other
    for (const st of steps) expect(crossFailures(st.slice(0, 5), 0.1, 'layers of a step')).toEqual([]);
  });

  test('seeds sharing structure (same half, one bit apart, consecutive, swapped halves) give independent masks', () => {
    const lo = 0x2545f491;
    const hi = 0x4f6cdd1d;
    const base = maskAt(lo, hi, 0.1, 0, N);
    const variants: [string, number, number][] = [
      ['hi + 1', lo, hi + 1],
      ['hi ^ 2^31', lo, hi ^ 0x80000000],
      ['lo ^ 1', lo ^ 1, hi],
      ['lo ^ 2^31', lo ^ 0x80000000, hi],
      ['lo + 1 (64-bit seed + 1)', lo + 1, hi],
      ['lo ^ 1, hi ^ 1', lo ^ 1, hi ^ 1],
      ['halves swapped', hi, lo],
      ['lo = hi', hi, hi],
      ['lo ^ 2^16, hi - 2^16', lo ^ 0x10000, hi - 0x10000],
    ];
    for (const [what, l, h] of variants) {
      const m = maskAt(l >>> 0, h >>> 0, 0.1, 0, N);
      expect(crossFailures([base, m], 0.1, what)).toEqual([]);
    }
    // small seeds (manualSeed(0), (1), ...) reach the kernel only through MT19937, but a zero
    // seed must not be degenerate either
    expect(maskFailures(maskAt(0, 0, 0.1, 0, N), 0.1, 'seed 0')).toEqual([]);
  });

  test('the checks catch dependent generators (so the tests above can fail)', () => {
    const p = 0.1;
    // one mixing round only: neighbours' top bits move together
    const weak = Uint8Array.from({ length: N }, (_, k) => ((Math.imul(k, 0x9e3779b1) ^ 0x2545f491) >>> 0 >= thresholdOf(p) ? 1 : 0));
    expect(maskFailures(weak, p, 'weak hash').length).toBeGreaterThan(0);
    // the next call's mask equals this one with 3% of the flags redrawn: XOR-correlated calls
    const a = maskAt(1, 2, p, 0, N);
    const r = maskAt(3, 4, 0.97, 0, N); // 1 with probability 0.03
    const b = Uint8Array.from(a, (v, i) => (r[i] ? specKeep(i, 5, 6, p) : v));
    expect(crossFailures([a, b], p, 'XOR-correlated').length).toBeGreaterThan(0);
    // seedHi ignored: calls that share seedLo repeat their masks
    expect(crossFailures([maskAt(9, 1, p, 0, N), maskAt(9, 1, p, 0, N)], p, 'same seed').length).toBeGreaterThan(0);
    // a period of 2^16 elements (a 16-bit index)
    const periodic = maskAt(7, 8, p, 0, N);
    periodic.copyWithin(1 << 16, 0, N - (1 << 16));
    expect(maskFailures(periodic, p, 'periodic', [1 << 16]).length).toBeGreaterThan(0);
  });
});

describe('fusedDropout: dtypes and sizes', () => {
  test('bfloat16, float16, float64: the float32 mask, values scaled in the dtype, gradient through the same mask', () => {
    const p = 0.3;
    const n = 4096;
    const x64 = Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 3 + 1e-9 * i);
    ft.manualSeed(21);
    const ref = kernelMask(n, p);
    // float64 must be exact; the others are computed in float32 then rounded to the dtype:
    // within a little more than half an ulp of the double product (or of the smallest subnormal)
    for (const [dtype, rel, abs] of [
      ['float64', 0, 0],
      ['float32', 2 ** -22, 0],
      ['float16', 2 ** -10, 2 ** -24],
      ['bfloat16', 2 ** -7, 0],
    ] as const) {
      ft.tidy(() => {
        const x = ft.tensor(x64, { dtype }).requiresGrad_();
        const xv = x.toArray(); // the input as the dtype holds it
        ft.manualSeed(21);
        const y = ft.fusedDropout(x, p, true);
        expect(y.dtype).toBe(dtype);
        const yv = y.toArray();
        const scale = 1 / (1 - p);
        for (let i = 0; i < n; i++) {
          if (!ref[i]) {
            expect(yv[i] === 0).toBe(true); // -0 for negative inputs, as PyTorch's x * 0
            continue;
          }
          const want = Number(xv[i]) * scale;
          // float64 exactly as x * (1 / (1 - p)) in double; the others within half an ulp of it
          if (rel === 0) expect(yv[i]).toBe(want);
          else expect(Math.abs(Number(yv[i]) - want)).toBeLessThanOrEqual(rel * Math.abs(want) + abs);
        }
        y.sum().backward();
        const g = x.grad!.toArray();
        for (let i = 0; i < n; i++) expect(Number(g[i])).toBe(ref[i] ? Number(ft.tensor([scale], { dtype }).toArray()[0]) : 0);
      });
    }
  });

  test('beyond 2^32 elements (a 32-bit index in the hash) the mask does not repeat, and block 0 is unchanged', () => {
    const p = 0.1;
    const lo = 0x0badf00d;
    const hi = 0x5eed5eed;
    const B = 2 ** 32;
    const first = maskAt(lo, hi, p, 0, N);
    const second = maskAt(lo, hi, p, B, N); // elements 2^32 .. 2^32 + 2^20 - 1 of a huge tensor
    const third = maskAt(lo, hi, p, 2 * B, N);
    expect(maskFailures(second, p, 'block 1')).toEqual([]);
    expect(crossFailures([first, second, third], p, 'blocks 0, 1, 2')).toEqual([]);
    // the flags do not depend on where a range starts: across the boundary in one piece or two
    const across = maskAt(lo, hi, p, B - 4096, 8192);
    expect(Array.from(across.subarray(0, 4096))).toEqual(Array.from(maskAt(lo, hi, p, B - 4096, 4096)));
    expect(Array.from(across.subarray(4096))).toEqual(Array.from(second.subarray(0, 4096)));
    // block 0 is the specification itself (the masks of every tensor below 2^32 elements)
    for (let j = 0; j < 4096; j++) expect(across[j]).toBe(specKeep(B - 4096 + j, lo, hi, p));
  });

  test('drops a fraction p, scales the rest by 1/(1-p), and its gradient is the same mask', () => {
    ft.tidy(() => {
      const x = ft.ones([1000, 200], { requiresGrad: true });
      const y = ft.fusedDropout(x, 0.3, true);
      const v = y.toNumbers();
      const zeros = v.filter((e) => e === 0).length / v.length;
      expect(Math.abs(zeros - 0.3)).toBeLessThan(0.005); // 200,000 draws: 4.9 standard deviations
      expect(v.every((e) => e === 0 || Math.abs(e - 1 / 0.7) < 1e-6)).toBe(true);
      y.sum().backward();
      expect(x.grad!.toNumbers()).toEqual(v);
    });
  });

  test('identity in eval mode and at p = 0; non-contiguous inputs; p outside [0, 1] refused', () => {
    ft.tidy(() => {
      const x = ft.randn([4, 6]);
      expect(ft.fusedDropout(x, 0.5, false).toNumbers()).toEqual(x.toNumbers());
      expect(ft.fusedDropout(x, 0, true).toNumbers()).toEqual(x.toNumbers());
      const t = x.transpose(0, 1); // non-contiguous
      const y = ft.fusedDropout(t, 0.5, true);
      expect([...y.shape]).toEqual([6, 4]);
      const tv = t.toNumbers();
      y.toNumbers().forEach((v, i) => expect(v === 0 || Math.abs(v - 2 * tv[i]) < 1e-5).toBe(true));
      expect(() => ft.fusedDropout(x, 1.5)).toThrow(RangeError);
    });
  });
});

describe("libtorch's dropout, drawn fast: bit for bit", () => {
  // native/exact_dropout.cc draws libtorch's masks with its own block-at-a-time mt19937 wherever a
  // self-check finds libtorch's bernoulli_ on its portable path (every CPU seen, Intel's included;
  // only an MKL build on an Intel CPU may draw otherwise); elsewhere dropout() is at::dropout. Either way the results,
  // the gradients and every later draw must equal libtorch's own (dropoutReference,
  // attentionReference).
  const code = (d: ft.DType) => dtypeCode(d);
  /** d(out . g)/d(inputs), each in a fresh gradient. */
  const gradOf = (out: ft.Tensor, inputs: ft.Tensor[], g: ft.Tensor) => {
    for (const t of inputs) t.grad = null;
    out.backward(g);
    return inputs.map((t) => t.grad!);
  };
  const same = (a: ft.Tensor, b: ft.Tensor) => {
    expect(a.shape).toEqual(b.shape);
    expect(a.dtype).toBe(b.dtype);
    expect(a.toNumbers()).toEqual(b.toNumbers());
  };
  const vendor = (() => {
    try {
      return /vendor_id\s*:\s*(\S+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
    } catch {
      return 'unknown';
    }
  })();

  test('the fast draw is on wherever libtorch cannot draw with MKL (any CPU but Intel)', () => {
    for (const d of ['float32', 'float64', 'bfloat16', 'float16'] as const) {
      const [drop, attention] = native.dropoutFastDraw(code(d));
      // on an Intel CPU either verdict can be right (the tests below hold for both)
      if (vendor !== 'GenuineIntel' && vendor !== 'unknown') expect(drop).toBe(true);
      // the composed attention path serves float32 and float64, and only with the fast draw
      expect(attention).toBe(drop && (d === 'float32' || d === 'float64'));
    }
  });

  test.each(['float32', 'float64', 'bfloat16', 'float16'] as const)(
    '%s: sizes across the 624-word blocks and 2048-element chunks, several p: output, gradient and the next draws equal',
    (dtype) => {
      ft.tidy(() => {
        for (const n of [1, 7, 311, 312, 313, 623, 2047, 2048, 2049, 5000, 100003]) {
          for (const p of [0.1, 0.5, 0.9, 0.3333]) {
            const x = ft.randn([n], { dtype, requiresGrad: true });
            const seed = n * 7 + Math.round(p * 1e4);
            ft.manualSeed(seed);
            ft.rand([n % 5]); // start mid-block
            const a = ft.dropout(x, p, true);
            const nextA = ft.rand([3], { dtype: 'float64' });
            ft.manualSeed(seed);
            ft.rand([n % 5]);
            const b = new ft.Tensor(native.dropoutReference(x.handle, p, true));
            const nextB = ft.rand([3], { dtype: 'float64' });
            same(a, b);
            same(nextA, nextB);
            const g = ft.randn([n], { dtype });
            const [ga] = gradOf(a, [x], g);
            const [gb] = gradOf(b, [x], g);
            same(ga, gb);
          }
        }
      });
    },
  );

  test('shapes of the models (3-D hidden states, 4-D attention probabilities), a non-contiguous input, p = 0 and 1, eval mode', () => {
    ft.tidy(() => {
      const cases: [ft.Tensor, number, boolean][] = [
        [ft.randn([4, 33, 48]), 0.1, true],
        [ft.randn([2, 3, 17, 17]), 0.25, true],
        [ft.randn([8, 16]).transpose(0, 1), 0.3, true], // not contiguous: libtorch's own
        [ft.randn([5, 5]), 0, true],
        [ft.randn([5, 5]), 1, true],
        [ft.randn([5, 5]), 0.5, false],
        [ft.zeros([0, 3]), 0.5, true],
        // NaN, infinities and signed zeros: dropped ones become NaN or a signed zero, as in libtorch
        [ft.tensor([NaN, Infinity, -Infinity, 0, -0, 1, -1, NaN, Infinity, -Infinity, -0, 0]), 0.5, true],
        [ft.tensor([NaN, Infinity, -Infinity, 0, -0, 1, -1, NaN], { dtype: 'bfloat16' }), 0.5, true],
      ];
      for (const [x, p, train] of cases) {
        ft.manualSeed(11);
        const a = ft.dropout(x, p, train);
        const nextA = ft.rand([2]);
        ft.manualSeed(11);
        const b = new ft.Tensor(native.dropoutReference(x.handle, p, train));
        same(a, b);
        same(nextA, ft.rand([2]));
      }
    });
  });

  test('attention with dropout (boolean and additive masks, causal, a scale, unequal lengths, float64): output, gradients and the next draws equal', () => {
    ft.tidy(() => {
      type Case = { q: number[]; k: number[]; mask?: 'bool' | 'float'; causal?: boolean; scale?: number; dtype?: ft.DType; p: number };
      const cases: Case[] = [
        { q: [2, 4, 33, 16], k: [2, 4, 33, 16], mask: 'bool', p: 0.1 },
        { q: [2, 4, 33, 16], k: [2, 4, 40, 16], mask: 'float', scale: 0.2, p: 0.3 },
        { q: [3, 2, 29, 8], k: [3, 2, 29, 8], causal: true, p: 0.1 },
        { q: [1, 2, 9, 8], k: [1, 2, 9, 8], dtype: 'float64', mask: 'bool', p: 0.5 },
        { q: [2, 2, 5, 8], k: [2, 2, 5, 8], dtype: 'bfloat16', p: 0.1 }, // libtorch's own
      ];
      for (const c of cases) {
        const dtype = c.dtype ?? 'float32';
        const q = ft.randn(c.q, { dtype, requiresGrad: true });
        const k = ft.randn(c.k, { dtype, requiresGrad: true });
        const v = ft.randn(c.k, { dtype, requiresGrad: true });
        const mshape = [c.q[0], 1, c.q[2], c.k[2]];
        const mask = c.mask === 'bool' ? ft.rand(mshape).gt(0.2) : c.mask === 'float' ? ft.randn(mshape, { dtype }) : null;
        ft.manualSeed(5);
        const a = ft.scaledDotProductAttention(q, k, v, { attnMask: mask ?? undefined, dropoutP: c.p, isCausal: c.causal, scale: c.scale });
        const nextA = ft.rand([2]);
        ft.manualSeed(5);
        const b = new ft.Tensor(native.attentionReference(q.handle, k.handle, v.handle, mask?.handle ?? null, c.p, c.causal ?? false, c.scale ?? null));
        same(a, b);
        same(nextA, ft.rand([2]));
        const g = ft.randn([...a.shape], { dtype });
        const ga = gradOf(a, [q, k, v], g);
        const gb = gradOf(b, [q, k, v], g);
        for (let i = 0; i < 3; i++) same(ga[i], gb[i]);
      }
      // inputs libtorch refuses are refused the same way, not composed: an integer mask, mixed dtypes
      const q = ft.randn([1, 2, 4, 8]);
      const m8 = ft.ones([1, 1, 4, 4], { dtype: 'uint8' });
      expect(() => ft.scaledDotProductAttention(q, q, q, { attnMask: m8, dropoutP: 0.1 })).toThrow(/mask/i);
      expect(() => native.attentionReference(q.handle, q.handle, q.handle, m8.handle, 0.1, false, null)).toThrow(/mask/i);
      const q64 = ft.randn([1, 2, 4, 8], { dtype: 'float64' });
      expect(() => ft.scaledDotProductAttention(q, q64, q, { dropoutP: 0.1 })).toThrow();
    });
  });
});

describe('nn.Dropout: which kernel', () => {
  afterEach(() => ft.nn.setDropoutImpl('libtorch'));

  test("libtorch's dropout by default: the masks of ft.dropout (PyTorch's) for the same seed", () => {
    expect(ft.nn.getDropoutImpl()).toBe('libtorch');
    ft.tidy(() => {
      const x = ft.ones([64, 64]);
      const d = new ft.nn.Dropout(0.3);
      ft.manualSeed(3);
      const a = d.forward(x).toNumbers();
      ft.manualSeed(3);
      expect(a).toEqual(ft.dropout(x, 0.3, true).toNumbers());
      ft.nn.setDropoutImpl('fused');
      ft.manualSeed(3);
      const b = d.forward(x).toNumbers();
      ft.manualSeed(3);
      expect(b).toEqual(ft.fusedDropout(x, 0.3, true).toNumbers());
      expect(b).not.toEqual(a);
      // a module's own impl wins over the global choice
      const pinned = new ft.nn.Dropout(0.3, 'libtorch');
      ft.manualSeed(3);
      expect(pinned.forward(x).toNumbers()).toEqual(a);
      d.eval();
      expect(d.forward(x).toNumbers()).toEqual(x.toNumbers());
    });
    expect(() => ft.nn.setDropoutImpl('fast' as ft.nn.DropoutImpl)).toThrow(/setDropoutImpl: expected one of libtorch, fused, got "fast"/);
    expect(() => new ft.nn.Dropout(0.1, 'cudnn' as ft.nn.DropoutImpl)).toThrow(/Dropout: impl: expected one of libtorch, fused/);
  });

  test('FULLTUNE_DROPOUT selects the default; another value is a clear error', () => {
    const root = path.resolve(__dirname, '..');
    const probe = "const ft = require('./src'); console.log(ft.nn.getDropoutImpl())";
    const runWith = (v: string) =>
      execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', probe], { cwd: root, encoding: 'utf8', env: { ...process.env, FULLTUNE_DROPOUT: v }, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    expect(runWith('fused')).toBe('fused');
    expect(runWith('libtorch')).toBe('libtorch');
    expect(() => runWith('turbo')).toThrow(/FULLTUNE_DROPOUT: expected one of libtorch, fused, got "turbo"/);
  });
});

describe('train mode against transformers (dropout on)', () => {
  const FX = path.join(__dirname, 'fixtures');
  const fx = JSON.parse(fs.readFileSync(path.join(FX, 'dropout_train.json'), 'utf8')) as {
    seed: number;
    labels: number[];
    steps: { logits: number[]; loss: number; grad_sums: Record<string, number> }[];
    eval_logits: number[];
  };
  const inputs = JSON.parse(fs.readFileSync(path.join(FX, 'bert', 'expected.json'), 'utf8')).inputs as Record<string, number[][]>;
  const ids = (r: number[][]) => ft.tensor(r, { dtype: 'int64' });

  test("with libtorch's dropout, two training steps equal transformers' for the same seed: every dropout (attention probs in SDPA, hidden, classifier) in place and scale", async () => {
    const model = await ft.AutoModelForSequenceClassification.fromPretrained(path.join(FX, 'bert', 'seqcls'), { warn: () => undefined });
    model.train();
    ft.manualSeed(fx.seed);
    for (const [s, want] of fx.steps.entries()) {
      ft.tidy(() => {
        for (const prm of model.parameters()) prm.grad = null;
        const out = model.forward({
          inputIds: ids(inputs.input_ids),
          attentionMask: ids(inputs.attention_mask),
          tokenTypeIds: ids(inputs.token_type_ids),
          labels: ft.tensor(fx.labels, { dtype: 'int64' }),
        });
        // the same masks: float32 round-off only (measured: identical logits, loss; 1.4e-7 on gradients)
        out.logits.toNumbers().forEach((v, i) => expect(Math.abs(v - want.logits[i])).toBeLessThan(1e-5));
        expect(Math.abs(out.loss!.item() - want.loss)).toBeLessThan(1e-6 * want.loss);
        out.loss!.backward();
        // key biases' true gradient is zero (softmax ignores a shift common to every key): both
        // sides hold float32 round-off there (sums about 5e-9, differing by up to 40% on an AMD
        // EPYC), so those are compared against the largest gradient sum (about 35) instead
        const largest = Math.max(...Object.values(want.grad_sums));
        for (const [k, prm] of model.namedParameters()) {
          const g = prm.grad!.abs().sum().item();
          const tol = /attention\.self\.key\.bias$/.test(k) ? 1e-9 * largest : 1e-5 * want.grad_sums[k];
          if (process.env.FULLTUNE_MEASURE) fs.appendFileSync(process.env.FULLTUNE_MEASURE, JSON.stringify({ k, g, want: want.grad_sums[k], largest }) + '\n');
          expect({ k, step: s, close: Math.abs(g - want.grad_sums[k]) <= tol }).toEqual({ k, step: s, close: true });
        }
      });
    }
    model.eval();
    ft.tidy(() => {
      const lg = model.forward({ inputIds: ids(inputs.input_ids), attentionMask: ids(inputs.attention_mask), tokenTypeIds: ids(inputs.token_type_ids) }).logits.toNumbers();
      lg.forEach((v, i) => expect(Math.abs(v - fx.eval_logits[i])).toBeLessThan(1e-5));
    });
    model.dispose();
  });
});
