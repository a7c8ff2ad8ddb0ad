import { execFileSync } from 'child_process';
import * as path from 'path';

test('tensors never disposed are released by the FinalizationRegistry backstop after GC', () => {
  const root = path.resolve(__dirname, '..');
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '-r', 'ts-node/register/transpile-only', path.join(__dirname, 'scripts', 'backstop.ts')],
    { cwd: root, encoding: 'utf8' },
  );
  const r = JSON.parse(out.trim().split('\n').pop()!);
  expect(r.leaked).toBe(10000);
  expect(r.after).toBe(0);
});
