// Run by test/backstop.test.ts in a child with --expose-gc: tensors dropped without dispose()
// are eventually released by the FinalizationRegistry backstop.
import * as ft from '../../src';

async function main(): Promise<void> {
  const base = ft.memory().tensors;
  for (let i = 0; i < 10000; i++) ft.ones([16]); // leaked on purpose: no scope, no dispose
  const leaked = ft.memory().tensors - base;
  // one more generation so the last young tensors are swept too
  await new Promise((r) => setTimeout(r, 1200));
  for (let round = 0; round < 10 && ft.memory().tensors > base; round++) {
    (global as unknown as { gc: () => void }).gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(JSON.stringify({ leaked, after: ft.memory().tensors - base }));
}
void main();
