// Run by test/backstop.test.ts in a child: a loop that drops every tensor it makes (no scope,
// no dispose), 1 MiB each, yielding to the event loop as async training code does. The GC
// backstop must keep live tensor memory bounded; before the young generation was bounded in
// bytes it held 4,096 such tensors (4 GiB). Stops early, reporting the peak, past STOP bytes.
import * as ft from '../../src';

const MiB = 1024 * 1024;
const STOP = 1536 * MiB;

async function main(): Promise<void> {
  const x = ft.keep(ft.ones([MiB / 4]));
  const base = ft.memory().bytes.cpu ?? 0;
  const extBase = process.memoryUsage().external;
  let peak = 0;
  let peakExternal = 0;
  let made = 0;
  for (let i = 0; i < 1500 && peak < STOP; i++) {
    x.add(1);
    x.mul(2); // two 1 MiB tensors dropped per iteration
    made += 2;
    await new Promise((r) => setImmediate(r));
    peak = Math.max(peak, (ft.memory().bytes.cpu ?? 0) - base);
    peakExternal = Math.max(peakExternal, process.memoryUsage().external - extBase);
  }
  console.log(JSON.stringify({ madeMiB: made, peakMiB: peak / MiB, peakExternalMiB: peakExternal / MiB }));
}
void main();
