// The package loads with `import` as well as require() (dist/, built by npm ci).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const dist = path.join(__dirname, '..', 'dist', 'index.mjs');
(fs.existsSync(dist) ? test : test.skip)('import { tensor, tidy } from the ES module entry', () => {
  const code = `import { tensor, tidy, AutoModelForSequenceClassification } from ${JSON.stringify(dist)};
    console.log(JSON.stringify([tidy(() => tensor([1.5, 2]).add(1).toNumbers()), typeof AutoModelForSequenceClassification.fromPretrained]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  expect(JSON.parse(out)).toEqual([[2.5, 3], 'function']);
});
