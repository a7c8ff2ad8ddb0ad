// Shared bench plumbing: the Python that carries our libtorch, medians, the report table.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface BenchResult {
  name: string;
  unit: string;
  fulltune: number;
  pytorch: number;
  /** fulltune time / PyTorch time: below 1 is faster (for throughput rows, fulltune / PyTorch rate). */
  ratio: number;
  /** the smallest and largest of the rounds whose median the row shows, where there were several */
  range?: { fulltune: [number, number]; pytorch: [number, number] };
}

/** A row from every round's values: medians, their ratio, and each side's min and max. */
export function resultRow(name: string, unit: string, fulltune: number[], pytorch: number[]): BenchResult {
  const j = median(fulltune);
  const p = median(pytorch);
  const r: BenchResult = { name, unit, fulltune: j, pytorch: p, ratio: j / p };
  if (fulltune.length > 1 || pytorch.length > 1) r.range = { fulltune: [Math.min(...fulltune), Math.max(...fulltune)], pytorch: [Math.min(...pytorch), Math.max(...pytorch)] };
  return r;
}

const root = path.resolve(__dirname, '..');

/** The Python whose torch package is (or matches) the libtorch we built against. */
export function benchPython(): string {
  if (process.env.FULLTUNE_BENCH_PYTHON) return process.env.FULLTUNE_BENCH_PYTHON;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { locate } = require(path.join(root, 'scripts', 'locate-libtorch.js'));
  const info = locate();
  if (!info.python) throw new Error('bench: libtorch came from LIBTORCH; set FULLTUNE_BENCH_PYTHON to a Python with the same torch');
  return info.python;
}

export function runPython(script: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(benchPython(), [path.join(root, script), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PYTHONWARNINGS: 'ignore', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  }).trim().split('\n').pop()!;
}

/** The C++ floor (bench/native_floor.cc), loaded into this process. */
export interface NativeFloor {
  /** seconds per op over iters calls: 0 add 4x4, 1 matmul 64x64 */
  floorOp(op: number, iters: number): number;
  /** seconds per run of the products (m, k, n, batch) flattened (batch > 1: one bmm) */
  floorGemms(mknb: Float64Array, reps: number): number;
  /** the same functions as a plain shared library, for Python's ctypes */
  libPath: string;
}

/**
 * Compiles bench/native_floor.cc against our libtorch (when it changed): a Node addon for this
 * process and a plain shared library that the Python side loads, so that each side times the
 * floor in its own process, between its own measurements.
 */
export function nativeFloor(): NativeFloor {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { locate } = require(path.join(root, 'scripts', 'locate-libtorch.js'));
  const info = locate();
  const src = path.join(root, 'bench', 'native_floor.cc');
  const addon = path.join(root, 'build', 'bench-floor.node');
  const lib = path.join(root, 'build', 'libbench-floor.so');
  const flags = [...info.includeDirs.map((d: string) => `-isystem${d}`), ...info.defines.map((d: string) => `-D${d}`)];
  const stale = (f: string) => !fs.existsSync(f) || fs.statSync(f).mtimeMs < fs.statSync(src).mtimeMs;
  const build = (out: string, extra: string[]) => execFileSync('g++', ['-O2', '-std=c++20', '-shared', '-fPIC', ...extra, src, '-o', out, ...flags, ...info.ldflags], { stdio: 'inherit' });
  if (stale(lib)) build(lib, []);
  if (stale(addon)) build(addon, ['-DFT_FLOOR_NAPI', '-DNODE_GYP_MODULE_NAME=bench_floor', `-isystem${path.join(root, 'node_modules', 'node-api-headers', 'include')}`]);
  const m = { exports: {} as Omit<NativeFloor, 'libPath'> };
  process.dlopen(m, addon);
  return { ...m.exports, libPath: lib };
}

/**
 * Overhead above a floor, chunk by chunk: each chunk of the measured op is followed by the floor
 * over as many calls, and the overhead is the median of the chunks' differences (both timed in
 * the same process and moments, so the machine's drift cancels). Seconds per op.
 */
export function pairedOverhead(op: () => number, floor: () => number, chunks: number): { op: number; floor: number; overhead: number } {
  op();
  floor();
  const ops: number[] = [];
  const floors: number[] = [];
  const diffs: number[] = [];
  for (let c = 0; c < chunks; c++) {
    const o = op();
    const f = floor();
    ops.push(o);
    floors.push(f);
    diffs.push(o - f);
  }
  return { op: median(ops), floor: median(floors), overhead: median(diffs) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function table(rows: BenchResult[]): string {
  const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const lines = ['| benchmark | fulltune | PyTorch | ratio |', '|---|---:|---:|---:|'];
  // min-max of the rounds after the median, where a row has them
  const cell = (x: number, unit: string, range?: [number, number]) => `${fmt(x)} ${unit}${range ? ` (${fmt(range[0])}-${fmt(range[1])})` : ''}`;
  for (const r of rows) lines.push(`| ${r.name} | ${cell(r.fulltune, r.unit, r.range?.fulltune)} | ${cell(r.pytorch, r.unit, r.range?.pytorch)} | ${r.ratio.toFixed(2)}x |`);
  return lines.join('\n');
}
