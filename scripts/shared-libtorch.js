'use strict';
// The shared libtorch: one Python environment per user and torch version holding the pinned CPU
// wheel of torch, whose torch/ folder is a complete libtorch (headers, shared libraries, CMake
// config). Every project that installs fulltune links against the same copy instead of putting
// ~900 MB into each of them.
//
// Layout under sharedHome() (FULLTUNE_HOME, else $XDG_CACHE_HOME/fulltune, else ~/.cache/fulltune):
//   libtorch/torch-2.13.0/venv           the environment
//   libtorch/torch-2.13.0/complete.json  written last (atomically): the environment counts only once it exists
//   libtorch/torch-2.13.0.lock/          held by the one process creating the environment (mkdir is atomic)
// The environment is built where it stays rather than in a temporary folder renamed at the end:
// a venv cannot be moved (its scripts carry its absolute path, and built addons carry the library
// path in their run path), so complete.json plays the part of the rename.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const PINNED_TORCH = '2.13.0';
const MIN_PYTHON = [3, 10]; // torch 2.13's Requires-Python
const STALE_FOREIGN_LOCK_MS = 2 * 3600 * 1000; // a lock taken on another host (shared home) without news for this long
const WAIT_NOTE_MS = 30 * 1000;

/** The shared libtorch cannot be made: `message` names what is missing and how to get it. */
class InstallError extends Error {}

function sharedHome(env = process.env) {
  if (env.FULLTUNE_HOME) return path.resolve(env.FULLTUNE_HOME);
  // XDG: a relative XDG_CACHE_HOME is invalid and must be ignored.
  const cache = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(cache, 'fulltune');
}

function sharedDir(env = process.env) {
  return path.join(sharedHome(env), 'libtorch', `torch-${PINNED_TORCH}`);
}

/**
 * The completed shared environment, or null when there is none (or it was damaged: `isLibtorchRoot`
 * rejects what complete.json points at).
 * @returns {{root: string, python: string} | null}
 */
function findShared(isLibtorchRoot, dir = sharedDir()) {
  let done;
  try {
    done = JSON.parse(fs.readFileSync(path.join(dir, 'complete.json'), 'utf8'));
  } catch {
    return null;
  }
  const root = path.join(dir, done.torch || '');
  if (!isLibtorchRoot(root)) return null;
  return { root, python: path.join(dir, done.python || 'venv/bin/python') };
}

function describePython(python, label) {
  const r = spawnSync(python, ['-c', 'import sys; print(sys.executable); print("%d.%d.%d" % sys.version_info[:3])'], {
    encoding: 'utf8',
  });
  if (r.error && r.error.code === 'ENOENT') {
    throw new InstallError(
      `${label} not found: install Python >= ${MIN_PYTHON.join('.')} with venv and pip ` +
        '(Debian/Ubuntu: apt-get install python3 python3-venv), or set FULLTUNE_PYTHON to one',
    );
  }
  if (r.error || r.status !== 0) {
    throw new InstallError(`${label} does not run (${r.error ? r.error.message : `exit ${r.status}: ${(r.stderr || '').trim()}`})`);
  }
  const [exe, version] = r.stdout.trim().split('\n');
  return { exe, version };
}

/** Checks that `python` can create the environment; throws InstallError naming what it lacks. */
function checkPython(python, label) {
  const { exe, version } = describePython(python, label);
  const v = version.split('.').map(Number);
  if (v[0] < MIN_PYTHON[0] || (v[0] === MIN_PYTHON[0] && v[1] < MIN_PYTHON[1])) {
    throw new InstallError(
      `${label} is Python ${version} (${exe}); torch ${PINNED_TORCH} needs Python >= ${MIN_PYTHON.join('.')}: ` +
        'install a newer Python and set FULLTUNE_PYTHON to it',
    );
  }
  // Debian and Ubuntu ship venv's ensurepip in a separate package; without it `python3 -m venv` fails.
  const r = spawnSync(exe, ['-c', 'import venv, ensurepip'], { encoding: 'utf8' });
  if (r.status !== 0) {
    const minor = version.split('.').slice(0, 2).join('.');
    throw new InstallError(
      `${label} (${exe}, Python ${version}) has no venv module (import venv, ensurepip failed): ` +
        `apt-get install python3-venv (or python${minor}-venv) on Debian/Ubuntu`,
    );
  }
  return exe;
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readOwner(lockDir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(lockDir, 'owner.json'), 'utf8'));
  } catch {
    return null;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Whether the lock's holder is gone (a killed or interrupted install). */
function isStale(lockDir, owner) {
  if (!owner) {
    // owner.json is written right after the mkdir; a lock without one for a minute was left half-made.
    try {
      return Date.now() - fs.statSync(lockDir).mtimeMs > 60 * 1000;
    } catch {
      return false;
    }
  }
  if (owner.host === os.hostname()) return !isAlive(owner.pid);
  return Date.now() - Date.parse(owner.since) > STALE_FOREIGN_LOCK_MS;
}

function breakLock(lockDir) {
  // Renaming first makes breaking atomic: of two processes that found the same stale lock, one wins.
  const aside = `${lockDir}.stale-${process.pid}-${Date.now()}`;
  try {
    fs.renameSync(lockDir, aside);
  } catch (e) {
    if (e.code === 'ENOENT') return;
    throw e;
  }
  fs.rmSync(aside, { recursive: true, force: true });
}

function acquireLock(lockDir, log) {
  let noted = 0;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      const owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
      fs.writeFileSync(path.join(lockDir, 'owner.json'), JSON.stringify(owner));
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const owner = readOwner(lockDir);
    if (isStale(lockDir, owner)) {
      log(`removing the lock ${lockDir} left by an install that did not finish (pid ${owner ? owner.pid : 'unknown'})`);
      breakLock(lockDir);
      continue;
    }
    if (Date.now() - noted >= WAIT_NOTE_MS) {
      const who = owner ? `pid ${owner.pid} on ${owner.host}, since ${owner.since}` : 'starting';
      log(`waiting for another install (${who}) to finish the shared libtorch; if none is running, delete ${lockDir}`);
      noted = Date.now();
    }
    sleep(1000);
  }
}

function releaseLock(lockDir) {
  const owner = readOwner(lockDir);
  if (owner && owner.pid === process.pid && owner.host === os.hostname()) fs.rmSync(lockDir, { recursive: true, force: true });
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/**
 * Creates the shared environment with `python -m venv` and `pip install torch==2.13.0` (once per
 * user: concurrent installs wait for the first). Progress goes to `log`; pip's own output to stderr.
 * @param {{python: string, label: string, isLibtorchRoot: (dir: string) => boolean,
 *          torchDirOf: (python: string) => string | null, log: (msg: string) => void}} o
 * @returns {{root: string, python: string}}
 * @throws {InstallError} when Python lacks something, the cache folder is not writable, or pip fails
 */
function createShared(o) {
  const dir = sharedDir();
  const exe = checkPython(o.python, o.label);
  try {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
  } catch (e) {
    throw new InstallError(`cannot create ${path.dirname(dir)} (${e.code}): set FULLTUNE_HOME to a writable folder`);
  }
  const lockDir = `${dir}.lock`;
  acquireLock(lockDir, o.log);
  let unfinished = false;
  try {
    const done = findShared(o.isLibtorchRoot, dir);
    if (done) return done; // another install finished it while we waited
    if (fs.existsSync(dir)) {
      o.log(`removing ${dir}: an unfinished or damaged earlier install`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    fs.mkdirSync(dir, { recursive: true });
    unfinished = true;
    const venv = path.join(dir, 'venv');
    const venvPython = path.join(venv, 'bin', 'python');
    o.log(`creating the shared Python environment ${venv} (${exe} -m venv; a few seconds)`);
    let r = spawnSync(exe, ['-m', 'venv', venv], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0) throw new InstallError(`${exe} -m venv ${venv} failed (exit ${r.status}; its message is above)`);
    o.log(
      `pip install torch==${PINNED_TORCH} (the CPU build: a ~190 MB download, ~900 MB on disk; ` +
        'usually 1-2 min, longer on a slow network). Done once per user: later installs reuse it',
    );
    const t0 = Date.now();
    r = spawnSync(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', `torch==${PINNED_TORCH}`], {
      stdio: ['ignore', 2, 2],
    });
    if (r.status !== 0) {
      throw new InstallError(
        `pip install torch==${PINNED_TORCH} into ${venv} failed (exit ${r.status}; pip's message is above). ` +
          `It needs PyPI (or a mirror set in pip's configuration) and about 1 GB free in ${dir}`,
      );
    }
    const root = o.torchDirOf(venvPython);
    if (!root) throw new InstallError(`pip installed torch into ${venv}, but it holds no libtorch (include/ATen, lib/libtorch_cpu)`);
    o.log(`torch installed in ${Math.round((Date.now() - t0) / 1000)} s`);
    const record = { torch: path.relative(dir, root), python: path.relative(dir, venvPython), created: new Date().toISOString() };
    writeAtomic(path.join(dir, 'complete.json'), JSON.stringify(record, null, 2) + '\n');
    unfinished = false;
    return { root, python: venvPython };
  } finally {
    // A failed attempt leaves nothing half-made behind (a killed one is cleared by the next install).
    if (unfinished) fs.rmSync(dir, { recursive: true, force: true });
    releaseLock(lockDir);
  }
}

module.exports = { PINNED_TORCH, InstallError, sharedHome, sharedDir, findShared, createShared };
