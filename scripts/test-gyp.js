#!/usr/bin/env node
'use strict';
// Builds the addon with node-gyp (binding.gyp) in a scratch copy of the native sources,
// so the cmake-js build in build/ is left alone, then runs the op tests against it.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fulltune-gyp-'));

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    process.stderr.write(`test-gyp: ${cmd} ${args.join(' ')} failed (exit ${r.status})\n`);
    process.exit(r.status || 1);
  }
}

for (const f of ['binding.gyp', 'package.json']) fs.copyFileSync(path.join(root, f), path.join(work, f));
fs.cpSync(path.join(root, 'native'), path.join(work, 'native'), { recursive: true });
fs.mkdirSync(path.join(work, 'scripts'));
for (const f of ['locate-libtorch.js', 'shared-libtorch.js']) fs.copyFileSync(path.join(root, 'scripts', f), path.join(work, 'scripts', f));
// The same libtorch the main build found, named as LIBTORCH: the copy has no .libtorch of its
// own, so searching again could settle elsewhere (or start the shared venv's download).
const libtorch = require(path.join(root, 'scripts', 'locate-libtorch.js')).locate().root;
fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'));

// Node's own headers: the ones next to this node binary when present (no download needed).
const prefix = path.dirname(path.dirname(process.execPath));
const nodedirArgs = fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi')) ? [`--nodedir=${prefix}`] : [];
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
run(process.execPath, [nodeGyp, 'rebuild', '--jobs=max', ...nodedirArgs], { cwd: work, env: { ...process.env, LIBTORCH: libtorch } });

const addon = path.join(work, 'build', 'Release', 'fulltune.node');
process.stdout.write(`test-gyp: built ${addon}; running the op tests against it\n`);
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
run(process.execPath, [jest, 'test/ops.test.ts', 'test/optim.test.ts', 'test/errors.test.ts', 'test/decode-matmul.test.ts'], {
  cwd: root,
  env: { ...process.env, FULLTUNE_ADDON: addon },
});
fs.rmSync(work, { recursive: true, force: true });
