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

/** Compiles bench/native_baseline.cc against our libtorch (once) and returns a runner. */
export function nativeBaseline(): (args: string[]) => string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { locate } = require(path.join(root, 'scripts', 'locate-libtorch.js'));
  const info = locate();
  const src = path.join(root, 'bench', 'native_baseline.cc');
  const exe = path.join(root, 'build', 'bench-native-baseline');
  if (!fs.existsSync(exe) || fs.statSync(exe).mtimeMs < fs.statSync(src).mtimeMs) {
    const flags = [...info.includeDirs.map((d: string) => `-isystem${d}`), ...info.defines.map((d: string) => `-D${d}`)];
    execFileSync('g++', ['-O2', '-std=c++20', src, '-o', exe, ...flags, ...info.ldflags], { stdio: 'inherit' });
  }
  return (args) => execFileSync(exe, args, { encoding: 'utf8' }).trim();
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function table(rows: BenchResult[]): string {
  const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const lines = ['| benchmark | fulltune | PyTorch | ratio |', '|---|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.name} | ${fmt(r.fulltune)} ${r.unit} | ${fmt(r.pytorch)} ${r.unit} | ${r.ratio.toFixed(2)}x |`);
  return lines.join('\n');
}
