// The large-block CPU cache in front of libtorch's allocator (native/cpu_cache.cc).
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as ft from '../src';

const MiB = 2 ** 20;
const floats = (mib: number) => (mib * MiB) / 4;

beforeEach(() => ft.emptyCache());

test('a freed large block is kept and reused by the next tensor of its size, with its own values', () => {
  const a = ft.full([floats(32)], 1.5);
  expect(ft.cpuCache().bytes).toBe(0);
  a.dispose();
  expect(ft.cpuCache().bytes).toBe(32 * MiB);
  const b = ft.full([floats(32)], 2); // the same block, overwritten
  expect(ft.cpuCache().bytes).toBe(0);
  expect(ft.tidy(() => b.sum().item())).toBe(2 * floats(32));
  b.dispose();
  ft.emptyCache();
  expect(ft.cpuCache().bytes).toBe(0);
});

test('a block serves requests down to 4/5 of its size; a miss returns the smaller blocks', () => {
  ft.dispose([ft.empty([floats(40)]), ft.empty([floats(20)])]);
  expect(ft.cpuCache().bytes).toBe(60 * MiB);
  const c = ft.empty([floats(33)]); // 40 MiB is within 5/4 of 33: reused
  expect(ft.cpuCache().bytes).toBe(20 * MiB);
  const d = ft.empty([floats(17)]); // 20 MiB is within 5/4 of 17: reused
  expect(ft.cpuCache().bytes).toBe(0);
  ft.dispose([c, d]);
  expect(ft.cpuCache().bytes).toBe(60 * MiB);
  const e = ft.empty([floats(30)]); // 40 MiB is more than 5/4 of 30: a miss; 20 MiB is returned
  expect(ft.cpuCache().bytes).toBe(40 * MiB);
  e.dispose();
  expect(ft.cpuCache().bytes).toBe(70 * MiB);
});

test('growing sizes (generation without a key-value cache) hold at most the blocks at least as large', () => {
  for (let mib = 16; mib <= 64; mib += 4) ft.empty([floats(mib)]).dispose();
  expect(ft.cpuCache().bytes).toBe(64 * MiB);
});

test('small tensors bypass the cache', () => {
  ft.empty([floats(8)]).dispose();
  expect(ft.cpuCache().bytes).toBe(0);
});

test('a training step reuses its blocks from the second step on', () => {
  const step = () =>
    ft.tidy(() => {
      const x = ft.randn([64, 1024, 64]); // 16 MiB
      x.requiresGrad = true;
      x.mul(2).exp().sum().backward();
    });
  step();
  const held = ft.cpuCache().bytes;
  expect(held).toBeGreaterThanOrEqual(16 * MiB);
  step();
  step();
  expect(ft.cpuCache().bytes).toBe(held);
});

test('FULLTUNE_CPU_CACHE=0 leaves libtorch allocator alone; other values are refused', () => {
  const src = path.join(__dirname, '..', 'src');
  const script = `const ft = require(${JSON.stringify(src)}); ft.empty([${floats(32)}]).dispose(); console.log(ft.cpuCache().bytes)`;
  const run = (v: string) => execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { env: { ...process.env, FULLTUNE_CPU_CACHE: v }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  expect(run('0')).toBe('0');
  expect(run('1')).toBe(String(32 * MiB));
  expect(() => run('yes')).toThrow(/FULLTUNE_CPU_CACHE must be 0 or 1, got "yes"/);
});
