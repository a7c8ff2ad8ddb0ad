// The install's libtorch locator and build-tool checks, run as npm runs them (child processes) in
// scratch projects. A stand-in python3 plays `python -m venv` and `pip install torch` (it writes
// the files the locator checks for), so the shared-cache logic (one copy per user, the lock,
// recovery from an interrupted install, the failure messages) runs in seconds without PyPI.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SCRIPTS = path.join(__dirname, '..', 'scripts');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const shared = require(path.join(SCRIPTS, 'shared-libtorch.js'));

const FAKE_PYTHON = `#!/usr/bin/env bash
# Stand-in for python3: answers the locator's questions; "pip install torch" lays out a libtorch.
here="$(cd "$(dirname "$0")" && pwd)"
site="$here/../lib/python3.11/site-packages"
if [ "$1" = -c ]; then
  case "$2" in
    *"import torch"*) [ -f "$site/torch/version.py" ] && { (cd "$site/torch" && pwd); exit 0; }
                      echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1;;
    *version_info*) echo "$here/$(basename "$0")"; echo "\${FAKE_PY_VERSION:-3.11.7}"; exit 0;;
    *"import venv"*) [ -z "$FAKE_NO_VENV" ] && exit 0; echo "ModuleNotFoundError: No module named 'ensurepip'" >&2; exit 1;;
    *sys.executable*) echo "$here/$(basename "$0")"; exit 0;;
  esac
elif [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && sleep 1; exit 0
elif [ "$1" = -m ] && [ "$2" = pip ]; then
  echo "$*" >> "$FAKE_LOG"; sleep "\${FAKE_PIP_SECONDS:-0}"
  [ -n "$FAKE_PIP_FAIL" ] && { echo "ERROR: No matching distribution found for torch==2.13.0" >&2; exit 1; }
  t="$site/torch"; mkdir -p "$t/include/ATen" "$t/lib"
  touch "$t/include/ATen/ATen.h" "$t/lib/libtorch_cpu.so" "$t/lib/libtorch.so" "$t/lib/libc10.so"
  echo "__version__ = '2.13.0+cpu'" > "$t/version.py"; exit 0
fi
echo "fake python: unexpected arguments $*" >&2; exit 2
`;

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fulltune-install-test-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeExecutable(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

/** A scratch project holding the install scripts (as an installed package does), with no .libtorch. */
function project(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'native'));
  fs.writeFileSync(path.join(dir, 'native', 'a.cc'), '');
  for (const f of ['locate-libtorch.js', 'shared-libtorch.js', 'install.js']) fs.copyFileSync(path.join(SCRIPTS, f), path.join(dir, 'scripts', f));
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(dir: string, script: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const base = { ...process.env };
  for (const k of ['LIBTORCH', 'FULLTUNE_PYTHON', 'FULLTUNE_HOME', 'XDG_CACHE_HOME', 'CXX', 'FULLTUNE_SKIP_BUILD']) delete base[k];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(dir, 'scripts', script), ...args], { cwd: dir, env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const home = () => path.join(tmp, 'home');
const pipLog = () => path.join(tmp, 'pip.log');
const pipRuns = () => (fs.existsSync(pipLog()) ? fs.readFileSync(pipLog(), 'utf8').trim().split('\n').length : 0);
const sharedDir = () => path.join(home(), 'libtorch', 'torch-2.13.0');

function fakeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const python = path.join(tmp, 'bin', 'python3');
  if (!fs.existsSync(python)) writeExecutable(python, FAKE_PYTHON);
  return { FULLTUNE_PYTHON: python, FULLTUNE_HOME: home(), FAKE_LOG: pipLog(), ...extra };
}

const locate = (dir: string, env: NodeJS.ProcessEnv, args = ['--json']) => run(dir, 'locate-libtorch.js', args, env);

describe('shared libtorch location', () => {
  test('FULLTUNE_HOME, else XDG_CACHE_HOME/fulltune, else ~/.cache/fulltune (a relative XDG_CACHE_HOME is ignored)', () => {
    expect(shared.sharedDir({ FULLTUNE_HOME: '/a/b', XDG_CACHE_HOME: '/c' })).toBe('/a/b/libtorch/torch-2.13.0');
    expect(shared.sharedDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/fulltune/libtorch/torch-2.13.0');
    expect(shared.sharedDir({ XDG_CACHE_HOME: 'rel' })).toBe(path.join(os.homedir(), '.cache', 'fulltune', 'libtorch', 'torch-2.13.0'));
    expect(shared.sharedDir({})).toBe(path.join(os.homedir(), '.cache', 'fulltune', 'libtorch', 'torch-2.13.0'));
  });
});

describe('locate-libtorch.js with the shared copy', () => {
  test('concurrent installs make one shared copy; the addon links against it; other projects reuse it', async () => {
    const env = fakeEnv({ FAKE_PIP_SECONDS: '3' });
    const [a, b] = await Promise.all([locate(project('a'), env), locate(project('b'), env)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(pipRuns()).toBe(1);
    expect(a.stderr + b.stderr).toContain('waiting for another install');
    const ia = JSON.parse(a.stdout);
    const ib = JSON.parse(b.stdout);
    const torch = path.join(sharedDir(), 'venv', 'lib', 'python3.11', 'site-packages', 'torch');
    expect(ia.root).toBe(torch);
    expect(ib.root).toBe(torch);
    expect(ia.python).toBe(path.join(sharedDir(), 'venv', 'bin', 'python'));
    expect(ia.ldflags).toContain(`-Wl,-rpath,${path.join(torch, 'lib')}`);
    expect(fs.existsSync(path.join(sharedDir(), 'complete.json'))).toBe(true);
    expect(fs.existsSync(`${sharedDir()}.lock`)).toBe(false);

    const c = await locate(project('c'), env);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout).root).toBe(torch);
    expect(c.stderr).toContain(`[shared venv (${sharedDir()})]`);
    expect(pipRuns()).toBe(1);
  });

  test('an existing project-local .libtorch/venv is still used, and nothing is downloaded', async () => {
    const dir = project('legacy');
    const env = fakeEnv();
    const venvPython = writeExecutable(path.join(dir, '.libtorch', 'venv', 'bin', 'python'), FAKE_PYTHON);
    expect(spawnSync(venvPython, ['-m', 'pip', 'install', 'torch==2.13.0'], { env: { ...process.env, FAKE_LOG: path.join(tmp, 'legacy.log') } }).status).toBe(0);
    const r = await locate(dir, env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).source).toBe('project venv (.libtorch/venv)');
    expect(fs.existsSync(home())).toBe(false);
  });

  test('clears the lock and the half-made copy of an install that was killed', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    fs.mkdirSync(`${sharedDir()}.lock`, { recursive: true });
    fs.writeFileSync(path.join(`${sharedDir()}.lock`, 'owner.json'), JSON.stringify({ pid: dead, host: os.hostname(), since: new Date().toISOString() }));
    fs.mkdirSync(path.join(sharedDir(), 'venv', 'lib'), { recursive: true });
    const r = await locate(project('p'), fakeEnv());
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`removing the lock ${sharedDir()}.lock left by an install that did not finish (pid ${dead})`);
    expect(r.stderr).toContain(`removing ${sharedDir()}: an unfinished or damaged earlier install`);
    expect(JSON.parse(r.stdout).root.startsWith(sharedDir())).toBe(true);
    expect(pipRuns()).toBe(1);
  });

  test('a failed pip install names pip and leaves neither a lock nor a half-made copy', async () => {
    const r = await locate(project('p'), fakeEnv({ FAKE_PIP_FAIL: '1' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERROR: No matching distribution found for torch==2.13.0');
    expect(r.stderr).toContain(`pip install torch==2.13.0 into ${path.join(sharedDir(), 'venv')} failed (exit 1; pip's message is above)`);
    expect(r.stderr).toContain('Provide libtorch one of three ways');
    expect(fs.existsSync(sharedDir())).toBe(false);
    expect(fs.existsSync(`${sharedDir()}.lock`)).toBe(false);
  });
});

describe('locate-libtorch.js names the missing prerequisite', () => {
  test('python3 not on PATH', async () => {
    const emptyBin = path.join(tmp, 'empty-bin');
    fs.mkdirSync(emptyBin);
    const r = await locate(project('p'), { FULLTUNE_HOME: home(), PATH: emptyBin });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('fulltune: libtorch not found, and the shared copy cannot be made: python3 not found: install Python >= 3.10 with venv and pip');
    expect(r.stderr).toContain('FULLTUNE_PYTHON=/path/to/python, a Python with torch installed (none importable from python3)');
  });

  test('FULLTUNE_PYTHON that does not exist', async () => {
    const r = await locate(project('p'), { FULLTUNE_HOME: home(), FULLTUNE_PYTHON: '/nonexistent/python3' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('FULLTUNE_PYTHON=/nonexistent/python3 not found');
  });

  test('python3 without venv (Debian without python3-venv)', async () => {
    const r = await locate(project('p'), fakeEnv({ FAKE_NO_VENV: '1' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no venv module \(import venv, ensurepip failed\): apt-get install python3-venv \(or python3\.11-venv\) on Debian\/Ubuntu/);
    expect(fs.existsSync(sharedDir())).toBe(false);
  });

  test('a Python older than torch 2.13 supports', async () => {
    const r = await locate(project('p'), fakeEnv({ FAKE_PY_VERSION: '3.8.10' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is Python 3\.8\.10 \(.*\); torch 2\.13\.0 needs Python >= 3\.10/);
  });

  test('a cache folder that cannot be created', async () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    const r = await locate(project('p'), fakeEnv({ FULLTUNE_HOME: path.join(file, 'home') }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot create ${path.join(file, 'home', 'libtorch')} (ENOTDIR): set FULLTUNE_HOME to a writable folder`);
  });

  test('LIBTORCH that is not a libtorch', async () => {
    const r = await locate(project('p'), { LIBTORCH: tmp });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`LIBTORCH=${tmp} is not a libtorch distribution`);
  });
});

describe('install.js checks the build tools before anything long', () => {
  // A PATH holding only the named tools (and no python3: nothing may get past the checks).
  function toolPath(tools: Record<string, string>): string {
    const bin = path.join(tmp, 'tools');
    fs.mkdirSync(bin, { recursive: true });
    for (const [name, target] of Object.entries(tools)) {
      if (target.startsWith('#!')) writeExecutable(path.join(bin, name), target);
      else fs.symlinkSync(target, path.join(bin, name));
    }
    return bin;
  }
  const cmake = (version: string) => `#!/bin/sh\necho "cmake version ${version}"\n`;
  const install = (env: NodeJS.ProcessEnv) => run(project('p'), 'install.js', [], env);

  test('no cmake', async () => {
    const r = await install({ PATH: toolPath({}) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('fulltune: cmake not found on PATH: the addon is built with CMake >= 3.18');
  });

  test('cmake too old', async () => {
    const r = await install({ PATH: toolPath({ cmake: cmake('3.16.3') }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('fulltune: cmake 3.16.3 is older than 3.18');
  });

  test('no C++ compiler', async () => {
    const r = await install({ PATH: toolPath({ cmake: cmake('3.25.1') }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('fulltune: no C++ compiler found (tried c++, g++, clang++ on PATH)');
  });

  test('a compiler without C++20', async () => {
    const oldCxx = '#!/bin/sh\n[ "$1" = --version ] && { echo "g++ (GCC) 9.4.0"; exit 0; }\necho "g++: error: unrecognized command-line option \'-std=c++20\'" >&2; exit 1\n';
    const r = await install({ PATH: toolPath({ cmake: cmake('3.25.1'), 'g++': oldCxx }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("fulltune: g++ (g++ (GCC) 9.4.0) cannot compile C++20 (-std=c++20 with <span> and <concepts> failed: g++: error: unrecognized command-line option '-std=c++20')");
  });

  test('no make or ninja', async () => {
    const cxx = spawnSync('sh', ['-c', 'command -v c++ || command -v g++ || command -v clang++'], { encoding: 'utf8' }).stdout.trim();
    const r = await install({ PATH: toolPath({ cmake: cmake('3.25.1'), 'c++': cxx }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('fulltune: neither ninja nor make found on PATH');
  });
});
