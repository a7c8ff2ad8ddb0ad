// Per-op dispatch overhead and an MLP training step, fulltune against PyTorch's Python API
// on the same libtorch and thread count, in one run. Reports time ratios (fulltune / PyTorch).
import * as ft from '../src';
import { BenchResult, median, nativeBaseline, runPython } from './common';

function perIter(fn: () => void, iters: number): number {
  fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e9 / iters;
}

function fulltuneOps(): Record<string, number> {
  const a = ft.keep(ft.randn([4, 4]));
  const b = ft.keep(ft.randn([4, 4]));
  const m1 = ft.keep(ft.randn([64, 64]));
  const m2 = ft.keep(ft.randn([64, 64]));
  // each result disposed as soon as it is replaced, as Python's refcount does
  const add = () => {
    for (let i = 0; i < 1000; i++) a.add(b).dispose();
  };
  const matmul = () => {
    for (let i = 0; i < 1000; i++) m1.matmul(m2).dispose();
  };
  const addTidy = () => ft.tidy(() => {
    for (let i = 0; i < 1000; i++) a.add(b);
  });

  ft.manualSeed(0);
  const x = ft.keep(ft.randn([64, 256]));
  const y = ft.keep(ft.randint(0, 10, [64]));
  const w1 = ft.keep(ft.noGrad(() => ft.randn([512, 256]).mul(0.05)).requiresGrad_());
  const b1 = ft.keep(ft.zeros([512], { requiresGrad: true }));
  const w2 = ft.keep(ft.noGrad(() => ft.randn([10, 512]).mul(0.05)).requiresGrad_());
  const b2 = ft.keep(ft.zeros([10], { requiresGrad: true }));
  const params = [w1, b1, w2, b2];
  const opt = new ft.AdamW(params, { lr: 1e-3 });
  const step = () =>
    ft.tidy(() => {
      opt.zeroGrad();
      const loss = ft.crossEntropy(ft.linear(ft.linear(x, w1, b1).relu(), w2, b2), y);
      loss.backward();
      ft.clipGradNorm(params, 1.0);
      opt.step();
    });
  const r = {
    add_4x4: perIter(add, 200) / 1000,
    add_4x4_tidy: perIter(addTidy, 200) / 1000,
    matmul_64x64: perIter(matmul, 20) / 1000,
    mlp_train_step: perIter(step, 300),
  };
  opt.dispose();
  ft.dispose([a, b, m1, m2, x, y, ...params]);
  return r;
}

export function benchOps(threads: number, rounds: number): BenchResult[] {
  const py: Record<string, number>[] = [];
  const js: Record<string, number>[] = [];
  const cc: Record<string, number>[] = [];
  const baseline = nativeBaseline();
  for (let r = 0; r < rounds; r++) {
    py.push(JSON.parse(runPython('bench/torch_ops.py', [String(threads)])));
    js.push(fulltuneOps());
    cc.push(JSON.parse(baseline([String(threads)])));
  }
  const rows: BenchResult[] = [];
  const pair = (name: string, jsKey: string, pyKey: string, unit: 'us' | 'ms') => {
    const f = unit === 'us' ? 1e6 : 1e3;
    const j = median(js.map((o) => o[jsKey])) * f;
    const p = median(py.map((o) => o[pyKey])) * f;
    rows.push({ name, unit, fulltune: j, pytorch: p, ratio: j / p });
  };
  // Dispatch overhead: time per op above the same op called from C++.
  const overhead = (name: string, jsKey: string, key: string) => {
    const floor = median(cc.map((o) => o[key])) * 1e6;
    const j = median(js.map((o) => o[jsKey])) * 1e6 - floor;
    const p = median(py.map((o) => o[key])) * 1e6 - floor;
    rows.push({ name: `${name} (C++ floor ${floor.toFixed(2)} us)`, unit: 'us', fulltune: j, pytorch: p, ratio: j / p });
  };
  overhead('add 4x4: overhead per op, dispose each', 'add_4x4', 'add_4x4');
  overhead('add 4x4: overhead per op, inside tidy', 'add_4x4_tidy', 'add_4x4');
  overhead('matmul 64x64: overhead per op', 'matmul_64x64', 'matmul_64x64');
  pair('add 4x4 (per op, dispose each)', 'add_4x4', 'add_4x4', 'us');
  pair('add 4x4 (per op, inside tidy)', 'add_4x4_tidy', 'add_4x4', 'us');
  pair('matmul 64x64 (per op)', 'matmul_64x64', 'matmul_64x64', 'us');
  pair('MLP 256-512-10, batch 64: train step (AdamW, clip)', 'mlp_train_step', 'mlp_train_step', 'ms');
  return rows;
}
