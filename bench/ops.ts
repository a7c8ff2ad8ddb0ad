// Per-op dispatch overhead and an MLP training step, fulltune against PyTorch's Python API
// on the same libtorch and thread count, in one run. Reports time ratios (fulltune / PyTorch).
import * as ft from '../src';
import { BenchResult, median, NativeFloor, nativeFloor, pairedOverhead, resultRow, runPython } from './common';

function perIter(fn: () => void, iters: number): number {
  fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e9 / iters;
}

/** Chunks of each op, each followed by the C++ floor over as many calls in this process. */
const CHUNKS = 40;
const ADD_PER_CHUNK = 2000;
const MATMUL_PER_CHUNK = 200;

function fulltuneOps(floor: NativeFloor): Record<string, number> {
  const a = ft.keep(ft.randn([4, 4]));
  const b = ft.keep(ft.randn([4, 4]));
  const m1 = ft.keep(ft.randn([64, 64]));
  const m2 = ft.keep(ft.randn([64, 64]));
  const time = (fn: () => void, n: number) => () => {
    const t0 = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t0) / 1e9 / n;
  };
  // each result disposed as soon as it is replaced, as Python's refcount does
  const add = time(() => {
    for (let i = 0; i < ADD_PER_CHUNK; i++) a.add(b).dispose();
  }, ADD_PER_CHUNK);
  const addTidy = time(() => ft.tidy(() => {
    for (let i = 0; i < ADD_PER_CHUNK; i++) a.add(b);
  }), ADD_PER_CHUNK);
  const matmul = time(() => {
    for (let i = 0; i < MATMUL_PER_CHUNK; i++) m1.matmul(m2).dispose();
  }, MATMUL_PER_CHUNK);
  const addFloor = () => floor.floorOp(0, ADD_PER_CHUNK);
  const mmFloor = () => floor.floorOp(1, MATMUL_PER_CHUNK);
  const o1 = pairedOverhead(add, addFloor, CHUNKS);
  const o2 = pairedOverhead(addTidy, addFloor, CHUNKS);
  const o3 = pairedOverhead(matmul, mmFloor, CHUNKS);

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
    add_4x4: o1.op,
    add_4x4_overhead: o1.overhead,
    add_4x4_floor: o1.floor,
    add_4x4_tidy: o2.op,
    add_4x4_tidy_overhead: o2.overhead,
    matmul_64x64: o3.op,
    matmul_64x64_overhead: o3.overhead,
    matmul_64x64_floor: o3.floor,
    mlp_train_step: perIter(step, 300),
  };
  opt.dispose();
  ft.dispose([a, b, m1, m2, x, y, ...params]);
  return r;
}

export function benchOps(threads: number, rounds: number): BenchResult[] {
  const py: Record<string, number>[] = [];
  const js: Record<string, number>[] = [];
  const floor = nativeFloor();
  for (let r = 0; r < rounds; r++) {
    py.push(JSON.parse(runPython('bench/torch_ops.py', [String(threads), floor.libPath, String(CHUNKS), String(ADD_PER_CHUNK), String(MATMUL_PER_CHUNK)])));
    js.push(fulltuneOps(floor));
  }
  const rows: BenchResult[] = [];
  const pair = (name: string, jsKey: string, pyKey: string, unit: 'us' | 'ms') => {
    const f = unit === 'us' ? 1e6 : 1e3;
    rows.push(resultRow(name, unit, js.map((o) => o[jsKey] * f), py.map((o) => o[pyKey] * f)));
  };
  // Dispatch overhead: time per op above the same op called from C++, the C++ timed in the same
  // process between the chunks of the op (bench/native_floor.cc)
  const floorOf = (key: string) => median([...js, ...py].map((o) => o[`${key}_floor`])) * 1e6;
  pair(`add 4x4: overhead per op above C++, dispose each (C++ floor ${floorOf('add_4x4').toFixed(2)} us)`, 'add_4x4_overhead', 'add_4x4_overhead', 'us');
  pair('add 4x4: overhead per op above C++, inside tidy', 'add_4x4_tidy_overhead', 'add_4x4_overhead', 'us');
  pair(`matmul 64x64: overhead per op above C++ (C++ floor ${floorOf('matmul_64x64').toFixed(2)} us)`, 'matmul_64x64_overhead', 'matmul_64x64_overhead', 'us');
  pair('add 4x4 (per op, dispose each)', 'add_4x4', 'add_4x4', 'us');
  pair('add 4x4 (per op, inside tidy)', 'add_4x4_tidy', 'add_4x4', 'us');
  pair('matmul 64x64 (per op)', 'matmul_64x64', 'matmul_64x64', 'us');
  pair('MLP 256-512-10, batch 64: train step (AdamW, clip)', 'mlp_train_step', 'mlp_train_step', 'ms');
  return rows;
}
