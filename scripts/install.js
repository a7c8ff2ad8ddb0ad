#!/usr/bin/env node
'use strict';
// `npm install` / `npm ci`: check the build tools, locate (or install) libtorch, build the addon
// with cmake-js and, in a source checkout, compile the TypeScript to dist/.
//
// npm (7 and later) hides what install scripts print unless they fail or --foreground-scripts is
// given, and this one can take minutes. So when our output is hidden and a terminal is there,
// each step also says on the terminal itself (/dev/tty) what it does and how long it usually
// takes, with a line every 30 s while it runs. Everything still goes to stdout/stderr, which npm
// shows when the install fails.
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const MIN_CMAKE = [3, 18];
const HEARTBEAT_MS = 30 * 1000;
// CPU seconds per translation unit measured on a 2-core Xeon (each includes libtorch's headers).
const SECONDS_PER_CC_FILE = 17;
const LOCATOR_PREFIX = '[fulltune:libtorch] ';

/** The terminal npm hides our output from, or null (output visible already, no terminal, or --silent). */
function openTerminal() {
  if (process.stderr.isTTY || process.env.npm_config_loglevel === 'silent') return null;
  try {
    return fs.openSync('/dev/tty', 'w');
  } catch {
    return null; // no controlling terminal: CI, or a detached process
  }
}
let tty = openTerminal();

function toTerminal(line) {
  if (tty === null) return;
  try {
    // \r and erase-line: start clean where npm's spinner may have drawn
    fs.writeSync(tty, `\r\x1b[K${line}\n`);
  } catch {
    tty = null;
  }
}

function say(msg) {
  process.stderr.write(`fulltune: ${msg}\n`);
  toTerminal(`fulltune: ${msg}`);
}

function fail(msg) {
  // stderr only: npm prints a failed script's output, so the terminal gets it once
  process.stderr.write(`fulltune: ${msg}\n`);
  process.exit(1);
}

function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
}

function versionOf(text) {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text || '');
  return m ? { text: m[0], parts: [Number(m[1]), Number(m[2])] } : null;
}

function checkCmake() {
  const r = spawnSync('cmake', ['--version'], { encoding: 'utf8' });
  if (r.error) {
    fail(`cmake not found on PATH: the addon is built with CMake >= ${MIN_CMAKE.join('.')} (Debian/Ubuntu: apt-get install cmake; macOS: brew install cmake; or pip install cmake)`);
  }
  const v = versionOf(r.stdout);
  if (!v) fail(`cmake --version printed no version: ${(r.stdout + r.stderr).trim()}`);
  if (v.parts[0] < MIN_CMAKE[0] || (v.parts[0] === MIN_CMAKE[0] && v.parts[1] < MIN_CMAKE[1])) {
    fail(`cmake ${v.text} is older than ${MIN_CMAKE.join('.')}: install a newer CMake (for example pip install cmake)`);
  }
  return `cmake ${v.text}`;
}

/** The C++ compiler CMake will pick (CXX, else c++, g++, clang++ on PATH), checked for C++20. */
function checkCompiler() {
  const which = (cmd) => !spawnSync(cmd, ['--version'], { encoding: 'utf8' }).error;
  const [cmd, ...args] = (process.env.CXX || '').split(/\s+/).filter(Boolean);
  const cxx = cmd ? { cmd, args, name: `CXX=${process.env.CXX}` } : ['c++', 'g++', 'clang++'].filter(which).map((c) => ({ cmd: c, args: [], name: c }))[0];
  if (!cxx) fail('no C++ compiler found (tried c++, g++, clang++ on PATH): install g++ >= 10 or clang >= 10 (Debian/Ubuntu: apt-get install g++), or set CXX');
  const ver = spawnSync(cxx.cmd, [...cxx.args, '--version'], { encoding: 'utf8' });
  if (ver.error) fail(`${cxx.name}: not found (${ver.error.code}): set CXX to a C++20 compiler (g++ >= 10, clang >= 10)`);
  const first = ver.stdout.split('\n')[0].trim();
  // The addon and libtorch's headers need C++20 and its standard library (<span>, <concepts>).
  const probe = spawnSync(cxx.cmd, [...cxx.args, '-std=c++20', '-fsyntax-only', '-x', 'c++', '-'], {
    input: '#include <concepts>\n#include <span>\nint main() { return 0; }\n',
    encoding: 'utf8',
  });
  if (probe.status !== 0) {
    fail(
      `${cxx.name} (${first}) cannot compile C++20 (-std=c++20 with <span> and <concepts> failed: ` +
        `${(probe.stderr || '').trim().split('\n')[0]}): install g++ >= 10 or clang >= 10, or set CXX to one`,
    );
  }
  return cxx.name.startsWith('CXX=') ? `${cxx.name}: ${first}` : first;
}

function checkBuildProgram() {
  // cmake-js uses ninja when it is there, else make.
  for (const p of ['ninja', 'make']) if (!spawnSync(p, ['--version']).error) return p;
  fail('neither ninja nor make found on PATH: apt-get install make (or ninja-build), or build-essential for make and g++');
}

/** Runs a step's command; resolves on success, stops the install with its exit code otherwise. */
function runStep(cmd, args) {
  return new Promise((resolve) => {
    // Hidden output (a terminal to report to): pipe the child's output to ours, and copy the
    // locator's progress lines to the terminal. Otherwise the child writes where we write.
    const child = spawn(cmd, args, { cwd: root, stdio: tty === null ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    if (tty !== null) {
      child.stdout.pipe(process.stdout);
      let rest = '';
      child.stderr.on('data', (chunk) => {
        process.stderr.write(chunk);
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop();
        for (const l of lines) if (l.startsWith(LOCATOR_PREFIX)) toTerminal(`fulltune:   ${l.slice(LOCATOR_PREFIX.length)}`);
      });
    }
    child.on('error', (e) => resolve({ code: 1, error: e }));
    child.on('close', (code, signal) => resolve({ code: code === null ? 1 : code, signal }));
  });
}

async function step(n, total, what, estimate, cmd, args) {
  say(`[${n}/${total}] ${what} (${estimate})`);
  const t0 = Date.now();
  const beat = setInterval(() => toTerminal(`fulltune:   ... still running, ${duration(Date.now() - t0)}`), HEARTBEAT_MS);
  const r = await runStep(cmd, args);
  clearInterval(beat);
  if (r.code !== 0) {
    const why = r.error ? r.error.message : r.signal ? `signal ${r.signal}` : `exit ${r.code}`;
    process.stderr.write(`fulltune: [${n}/${total}] ${what} failed after ${duration(Date.now() - t0)} (${why}); its messages are above\n`);
    toTerminal(`fulltune: [${n}/${total}] ${what} failed after ${duration(Date.now() - t0)} (${why}); npm prints its messages next`);
    process.exit(r.code || 1);
  }
  say(`[${n}/${total}] done in ${duration(Date.now() - t0)}`);
}

async function main() {
  if (process.env.FULLTUNE_SKIP_BUILD) {
    say('FULLTUNE_SKIP_BUILD is set; not building the native addon');
    return;
  }
  const hasSources = fs.existsSync(path.join(root, 'src', 'index.ts'));
  let tsc = null;
  try {
    tsc = hasSources ? require.resolve('typescript/bin/tsc', { paths: [root] }) : null;
  } catch {
    /* an installed package ships dist/ already */
  }
  const total = tsc ? 4 : 3;
  say(`building the native addon against libtorch${tty !== null ? ' (npm hides the build output; npm install --foreground-scripts shows it)' : ''}`);

  // The tools first: a missing one stops the install before minutes go into libtorch.
  say(`[1/${total}] build tools: ${checkCmake()}, ${checkCompiler()}, ${checkBuildProgram()}`);

  await step(2, total, 'locating libtorch', 'seconds when it is there; the first install on this machine downloads it, 1-2 min', process.execPath, [
    path.join(__dirname, 'locate-libtorch.js'),
    '--root',
  ]);

  const cores = Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length);
  const files = fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.cc')).length;
  const estimate = 10 + Math.ceil(files / Math.min(cores, files)) * SECONDS_PER_CC_FILE;
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  await step(
    3,
    total,
    `compiling the addon: ${files} C++ files with cmake-js`,
    `roughly ${duration(estimate * 1000)} on ${cores} core${cores > 1 ? 's' : ''}, longer when the machine is busy`,
    process.execPath,
    [cmakeJs, 'compile', '--out', 'build', '--parallel', String(cores)],
  );

  if (tsc) {
    await step(4, total, 'compiling TypeScript to dist/', 'about 10 s', process.execPath, [tsc, '-p', 'tsconfig.build.json']);
    const r = spawnSync(process.execPath, [path.join(__dirname, 'write-esm-entry.js')], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) fail(`writing the ES module entry failed (exit ${r.status})`);
  }
  say('the addon is built');
}

main();
