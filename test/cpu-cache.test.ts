// The large-block CPU cache in front of libtorch's allocator (native/cpu_cache.cc).
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as ft from '../src';

const MiB = 2 ** 20;
const floats = (mib: number) => (mib * MiB) / 4;

// Each test body starts by emptying the cache: the GC backstop may free another suite's leaked
// tensors between tasks, and the bodies are synchronous, so nothing lands in the cache after.
beforeEach(() => ft.emptyCache());

test('a freed large block is kept and reused by the next tensor of its size, with its own values', () => {
  ft.emptyCache();
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
  ft.emptyCache();
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
  ft.emptyCache();
  for (let mib = 16; mib <= 64; mib += 4) ft.empty([floats(mib)]).dispose();
  expect(ft.cpuCache().bytes).toBe(64 * MiB);
});

test('small tensors bypass the cache', () => {
  ft.emptyCache();
  ft.empty([floats(8)]).dispose();
  expect(ft.cpuCache().bytes).toBe(0);
});

test('a training step reuses its blocks from the second step on', () => {
  ft.emptyCache();
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
  ft.emptyCache();
  const src = path.join(__dirname, '..', 'src');
  const script = `const ft = require(${JSON.stringify(src)}); ft.empty([${floats(32)}]).dispose(); console.log(ft.cpuCache().bytes)`;
  const run = (v: string) => execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { env: { ...process.env, FULLTUNE_CPU_CACHE: v }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  expect(run('0')).toBe('0');
  expect(run('1')).toBe(String(32 * MiB));
  expect(() => run('yes')).toThrow(/FULLTUNE_CPU_CACHE must be 0 or 1, got "yes"/);
});

test('a full cache makes room by returning its oldest blocks', () => {
  ft.emptyCache();
  // the cap is min(4 GiB, memory / 8): fill past it with blocks of 64 MiB, freed one by one
  const cap = Math.min(4 * 2 ** 30, Math.floor(require('os').totalmem() / 8));
  const n = Math.ceil(cap / (64 * MiB)) + 2;
  const blocks = Array.from({ length: n }, () => ft.empty([floats(64)]));
  ft.dispose(blocks);
  expect(ft.cpuCache().bytes).toBeLessThanOrEqual(cap);
  expect(ft.cpuCache().bytes).toBeGreaterThan(cap - 64 * MiB);
  ft.emptyCache();
});

test('setCpuCacheLimit bounds what is kept (0: nothing, the oldest go first), null restores the cap', () => {
  ft.emptyCache();
  ft.dispose([ft.empty([floats(20)]), ft.empty([floats(40)])]);
  expect(ft.cpuCache().bytes).toBe(60 * MiB);
  expect(ft.setCpuCacheLimit(45 * MiB)).toBe(45 * MiB);
  expect(ft.cpuCache().bytes).toBe(40 * MiB); // the 20 MiB block was cached first
  ft.setCpuCacheLimit(0);
  expect(ft.cpuCache().bytes).toBe(0);
  ft.full([floats(32)], 1).dispose();
  expect(ft.cpuCache().bytes).toBe(0);
  expect(ft.setCpuCacheLimit(null)).toBeGreaterThanOrEqual(512 * MiB);
  ft.full([floats(32)], 1).dispose();
  expect(ft.cpuCache().bytes).toBe(32 * MiB);
  expect(() => ft.setCpuCacheLimit(-1)).toThrow('bytes: expected a number >= 0 or null');
  ft.emptyCache();
});
