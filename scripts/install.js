#!/usr/bin/env node
'use strict';
// `npm install` / `npm ci`: locate (or install) libtorch, build the addon with cmake-js,
// and, in a source checkout, compile the TypeScript to dist/.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`\nfulltune: ${what} failed (exit ${r.status}). See the output above.\n`);
    process.exit(r.status || 1);
  }
}

if (process.env.FULLTUNE_SKIP_BUILD) {
  process.stderr.write('fulltune: FULLTUNE_SKIP_BUILD is set; not building the native addon\n');
  process.exit(0);
}

// Locating first gives the one clear libtorch message before cmake adds its own noise.
run(process.execPath, [path.join(__dirname, 'locate-libtorch.js'), '--root'], 'locating libtorch');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
run(process.execPath, [cmakeJs, 'compile', '--out', 'build'], 'building the native addon (cmake-js)');

const hasSources = fs.existsSync(path.join(root, 'src', 'index.ts'));
let tsc = null;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  /* an installed package ships dist/ already */
}
if (hasSources && tsc) {
  run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], 'compiling TypeScript');
  run(process.execPath, [path.join(__dirname, 'write-esm-entry.js')], 'writing the ES module entry');
}
