#!/usr/bin/env node
'use strict';
// The one source of truth for where libtorch is and how to compile and link against it.
// CMakeLists.txt (cmake-js) and binding.gyp (node-gyp) both read their flags from here, so the
// addon's run path points at whichever libtorch is found.
//
// Search order (as tch-rs does):
//   1. LIBTORCH: an unpacked libtorch distribution (include/, lib/);
//   2. the `torch` package of the Python named by FULLTUNE_PYTHON, else `python3`;
//   3. a project-local .libtorch/venv made by earlier versions of this script, if present;
//   4. the shared per-user copy (scripts/shared-libtorch.js): a Python environment in
//      ~/.cache/fulltune/libtorch/torch-2.13.0 (or under FULLTUNE_HOME / XDG_CACHE_HOME) holding
//      `pip install torch==2.13.0`, created on first use (pinned: an unpinned torch pulls a
//      multi-GB CUDA build).
//
// Usage: node scripts/locate-libtorch.js [--json | --cmake FILE | --include | --libdir | --libs | --cflags | --ldflags | --openmp-ldflags | --defines | --root]
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const shared = require('./shared-libtorch');

const SUPPORTED = { min: [2, 11], max: [2, 13] };
const projectRoot = path.resolve(__dirname, '..');
const legacyVenv = path.join(projectRoot, '.libtorch', 'venv');
const cacheFile = path.join(projectRoot, '.libtorch', 'location.json');

function log(msg) {
  process.stderr.write(`[fulltune:libtorch] ${msg}\n`);
}

function isLibtorchRoot(dir) {
  return (
    !!dir &&
    fs.existsSync(path.join(dir, 'include', 'ATen', 'ATen.h')) &&
    fs.existsSync(path.join(dir, 'lib')) &&
    fs.readdirSync(path.join(dir, 'lib')).some((f) => /^libtorch_cpu\.(so|dylib)/.test(f) || f === 'torch_cpu.lib')
  );
}

function torchDirOfPython(python) {
  const r = spawnSync(python, ['-c', 'import torch, os; print(os.path.dirname(torch.__file__))'], {
    encoding: 'utf8',
  });
  if (r.status !== 0 || r.error) return null;
  const dir = r.stdout.trim().split('\n').pop();
  return isLibtorchRoot(dir) ? dir : null;
}

function pythonPath(python) {
  const r = spawnSync(python, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : python;
}

function readVersion(root) {
  // libtorch distributions carry build-version; the Python wheel carries version.py.
  const bv = path.join(root, 'build-version');
  if (fs.existsSync(bv)) return fs.readFileSync(bv, 'utf8').trim();
  const vp = path.join(root, 'version.py');
  if (fs.existsSync(vp)) {
    const m = /__version__\s*=\s*'([^']+)'/.exec(fs.readFileSync(vp, 'utf8'));
    if (m) return m[1];
  }
  return 'unknown';
}

function locateRoot() {
  if (process.env.LIBTORCH) {
    if (isLibtorchRoot(process.env.LIBTORCH)) return { root: path.resolve(process.env.LIBTORCH), source: 'LIBTORCH' };
    fail(`LIBTORCH=${process.env.LIBTORCH} is not a libtorch distribution (expected include/ATen/ATen.h and lib/libtorch_cpu.*)`);
  }
  const python = process.env.FULLTUNE_PYTHON || 'python3';
  const label = process.env.FULLTUNE_PYTHON ? `FULLTUNE_PYTHON=${python}` : 'python3';
  const fromPython = torchDirOfPython(python);
  if (fromPython) return { root: fromPython, source: `python (${python})`, python: pythonPath(python) };
  const legacyPython = path.join(legacyVenv, 'bin', 'python');
  if (fs.existsSync(legacyPython)) {
    const dir = torchDirOfPython(legacyPython);
    if (dir) return { root: dir, source: 'project venv (.libtorch/venv)', python: legacyPython };
  }
  const dir = shared.sharedDir();
  const found = shared.findShared(isLibtorchRoot);
  if (found) return { ...found, source: `shared venv (${dir})` };
  log(`no libtorch yet (LIBTORCH is unset, no torch importable from ${label}): making the shared copy in ${dir}`);
  try {
    const made = shared.createShared({ python, label, isLibtorchRoot, torchDirOf: torchDirOfPython, log });
    return { ...made, source: `shared venv (${dir}, created)` };
  } catch (e) {
    if (!(e instanceof shared.InstallError)) throw e;
    fail(
      `libtorch not found, and the shared copy cannot be made: ${e.message}.\n` +
        'Provide libtorch one of three ways:\n' +
        '  1. LIBTORCH=/path/to/libtorch (an unpacked libtorch distribution, 2.11 to 2.13);\n' +
        `  2. FULLTUNE_PYTHON=/path/to/python, a Python with torch installed (none importable from ${label});\n` +
        `  3. let the install make the shared copy in ${dir} with pip install torch==${shared.PINNED_TORCH}\n` +
        `     (needs python3 >= 3.10 with venv and pip, access to PyPI, about 1 GB of disk).`,
    );
  }
}

function fail(msg) {
  process.stderr.write(`fulltune: ${msg}\n`);
  process.exit(1);
}

function describe(root, source) {
  const libDir = path.join(root, 'lib');
  const libFiles = fs.readdirSync(libDir);
  const has = (name) => libFiles.some((f) => f === `lib${name}.so` || f === `lib${name}.dylib`);
  const cuda = has('torch_cuda');
  const libs = ['torch', 'torch_cpu', 'c10'];
  if (cuda) libs.push('torch_cuda', 'c10_cuda');
  const version = readVersion(root);
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (m) {
    const v = [Number(m[1]), Number(m[2])];
    const cmp = (a, b) => a[0] - b[0] || a[1] - b[1];
    if (cmp(v, SUPPORTED.min) < 0 || cmp(v, SUPPORTED.max) > 0) {
      log(`warning: libtorch ${version} is outside the tested range 2.11 to 2.13`);
    }
  }
  // The wheel and libtorch >= 2.9 use the C++11 ABI only; older distributions say so in TorchConfig.cmake.
  const defines = [];
  const cfg = path.join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
  if (fs.existsSync(cfg)) {
    const abi = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(fs.readFileSync(cfg, 'utf8'));
    if (abi) defines.push(`_GLIBCXX_USE_CXX11_ABI=${abi[1]}`);
  }
  // libtorch built on OpenMP inlines at::parallel_for into the code that calls it
  // (ATen/ParallelOpenMP.h): compiled without -fopenmp, the addon's own parallel loops would run
  // on one thread, silently. The addon links the libgomp libtorch ships (libgomp.so.1 in the
  // wheel, a hashed name such as libgomp-98b21ff3.so.1 in the zip distributions) by its file
  // name, so that there is one OpenMP runtime and one thread pool, sized by setNumThreads; a
  // libtorch without one uses the system's libgomp.so.1, which -fopenmp links. GCC only: clang's
  // -fopenmp targets LLVM's runtime (a second one); with clang (CXX) the loops stay serial.
  const atConfig = path.join(root, 'include', 'ATen', 'Config.h');
  const clang = /clang/.test(process.env.CXX || '');
  const openmp = process.platform === 'linux' && !clang && fs.existsSync(atConfig) && /#define AT_PARALLEL_OPENMP 1/.test(fs.readFileSync(atConfig, 'utf8'));
  const gomp = libFiles.find((f) => /^libgomp[-\w]*\.so(\.\d+)*$/.test(f));
  return {
    root,
    source,
    version,
    cuda,
    openmp,
    cflags: openmp ? ['-fopenmp'] : [],
    openmpLdflags: openmp ? (gomp ? ["-Wl,--no-as-needed", `-l:${gomp}`, "-Wl,--as-needed"] : ["-fopenmp"]) : [],
    includeDirs: [path.join(root, 'include'), path.join(root, 'include', 'torch', 'csrc', 'api', 'include')],
    libDir,
    libs,
    defines,
    // --no-as-needed keeps libtorch_cuda linked although no symbol of it is referenced:
    // loading it is what registers the CUDA kernels.
    ldflags: [`-L${libDir}`, `-Wl,-rpath,${libDir}`, '-Wl,--no-as-needed', ...libs.map((l) => `-l${l}`), '-Wl,--as-needed'],
  };
}

function locate() {
  // Cache per environment so that node-gyp's many calls don't each start Python.
  const key = JSON.stringify([3, process.env.CXX || '', process.env.LIBTORCH || '', process.env.FULLTUNE_PYTHON || '', shared.sharedDir()]);
  if (fs.existsSync(cacheFile)) {
    try {
      const cached = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
      if (cached.key === key && isLibtorchRoot(cached.info.root)) return cached.info;
    } catch {
      /* stale or partial cache: locate again */
    }
  }
  const { root, source, python } = locateRoot();
  const info = { ...describe(root, source), python: python || null };
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  // atomic, as cmake and node-gyp may run the locator at the same time
  const tmp = `${cacheFile}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify({ key, info }, null, 2));
  fs.renameSync(tmp, cacheFile);
  log(`using libtorch ${info.version}${info.cuda ? ' (CUDA)' : ' (CPU)'} from ${info.root} [${info.source}]`);
  return info;
}

function main() {
  const args = process.argv.slice(2);
  const info = locate();
  const what = args[0] || '--json';
  const q = (s) => (/\s/.test(s) ? JSON.stringify(s) : s);
  switch (what) {
    case '--json':
      process.stdout.write(JSON.stringify(info, null, 2) + '\n');
      break;
    case '--root':
      process.stdout.write(info.root + '\n');
      break;
    case '--include':
      process.stdout.write(info.includeDirs.map(q).join(' ') + '\n');
      break;
    case '--libdir':
      process.stdout.write(info.libDir + '\n');
      break;
    case '--libs':
      process.stdout.write(info.libs.map((l) => `-l${l}`).join(' ') + '\n');
      break;
    case '--ldflags':
      process.stdout.write(info.ldflags.map(q).join(' ') + '\n');
      break;
    case '--cflags':
      process.stdout.write(info.cflags.join(' ') + '\n');
      break;
    case '--openmp-ldflags':
      process.stdout.write(info.openmpLdflags.join(' ') + '\n');
      break;
    case '--defines':
      process.stdout.write(info.defines.join(' ') + '\n');
      break;
    case '--cmake': {
      const out = args[1];
      if (!out) fail('--cmake needs an output file');
      const cm = (s) => `"${s.replace(/\\/g, '/')}"`;
      const lines = [
        '# generated by scripts/locate-libtorch.js; do not edit',
        `set(LIBTORCH_ROOT ${cm(info.root)})`,
        `set(LIBTORCH_VERSION ${cm(info.version)})`,
        `set(LIBTORCH_CUDA ${info.cuda ? 'ON' : 'OFF'})`,
        `set(LIBTORCH_INCLUDE_DIRS ${info.includeDirs.map(cm).join(' ')})`,
        `set(LIBTORCH_LIB_DIR ${cm(info.libDir)})`,
        `set(LIBTORCH_LIBS ${info.libs.join(' ')})`,
        `set(LIBTORCH_DEFINES ${info.defines.join(' ')})`,
        `set(LIBTORCH_CFLAGS ${info.cflags.join(' ')})`,
        // one SHELL: group, as CMake would drop the repeated --no-as-needed/--as-needed pair
        `set(LIBTORCH_OPENMP_LDFLAGS ${info.openmpLdflags.length ? cm('SHELL:' + info.openmpLdflags.join(' ')) : ''})`,
        `set(LIBTORCH_LDFLAGS ${info.ldflags.map(cm).join(' ')})`,
      ];
      fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
      fs.writeFileSync(out, lines.join('\n') + '\n');
      break;
    }
    default:
      fail(`unknown option ${what}`);
  }
}

if (require.main === module) main();
module.exports = { locate };
