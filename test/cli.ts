// Runs the fulltune command from source, as a user would run the installed one.
import { spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..');
const ENTRY = ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'src', 'cli', 'main.ts')];

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...ENTRY, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300000 });
}

export function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [...ENTRY, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}
