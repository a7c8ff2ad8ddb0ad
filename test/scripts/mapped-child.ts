// One process of test/mapped.test.ts: loads the model in argv[2] (its weights mapped from the
// file), prints "ready", waits for a line on stdin (the test truncates or rewrites the file in
// between), then runs forward passes until one fails, and prints what happened as JSON.
import * as readline from 'readline';
import * as ft from '../../src';

(async () => {
  const model = await ft.AutoModelForSequenceClassification.fromPretrained(process.argv[2], { warn: () => undefined });
  model.eval();
  const ids = ft.keep(ft.tensor([[2, 10, 11, 12, 3]], { dtype: 'int64' }));
  const forward = () => ft.noGrad(() => ft.tidy(() => model.forward({ inputIds: ids }).logits.toNumbers()));
  const before = forward();
  console.log('ready');
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => rl.once('line', () => resolve()));
  rl.close();
  let error: string | null = null;
  let calls = 0;
  const end = Date.now() + 5000;
  while (error === null && Date.now() < end) {
    try {
      forward();
      calls++;
      await new Promise((r) => setTimeout(r, 20));
    } catch (e) {
      error = (e as Error).message;
    }
  }
  console.log(JSON.stringify({ before: Array.from(before), error, calls }));
  process.exit(0);
})();
