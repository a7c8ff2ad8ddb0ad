// Writes dist/index.mjs so that `import { tensor } from 'fulltune'` works beside require().
const fs = require('fs');
const path = require('path');
const dist = path.resolve(__dirname, '..', 'dist');
const names = Object.keys(require(path.join(dist, 'index.js'))).filter((n) => n !== 'default' && n !== '__esModule');
const body = [
  "import { createRequire } from 'module';",
  'const require = createRequire(import.meta.url);',
  "const m = require('./index.js');",
  'export default m;',
  ...names.map((n) => `export const ${n} = m.${n};`),
];
fs.writeFileSync(path.join(dist, 'index.mjs'), body.join('\n') + '\n');
