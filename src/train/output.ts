// The output folder of a training run: one run at a time (a lock file naming the owner's pid),
// no silent mixing with an earlier run's files, and no leftovers of a run that was killed
// while writing.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fsError, mkdirp, pidAlive, removeDeadTemps } from '../util/fs';

const LOCK = '.fulltune.lock';

/** What fulltune writes into an output folder (removed by overwriteOutputDir). */
export const RUN_FILES = ['checkpoints', 'log.jsonl', 'metrics.json', 'report.html', 'config.json', 'generation_config.json', 'model.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

/** Output folders this process holds (by resolved path), with the token written in their lock. */
/** Folders this process holds: its lock's token, how many claims, and whether the first claim made the folder. */
const held = new Map<string, { token: string; count: number; created: boolean }>();

interface LockFile {
  pid: number;
  host: string;
  token: string;
}

function readLock(file: string): LockFile | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as LockFile;
    return typeof v.pid === 'number' && typeof v.token === 'string' ? v : null;
  } catch {
    return null; // unreadable or half-written: treated as stale
  }
}

/**
 * Takes the output folder for this process: creates it, refuses a folder another live run
 * holds, and refuses one that holds an earlier run's files unless resuming or overwriting.
 * Nothing is removed here: startOver() does that once the run is ready to write. The lock
 * names host, pid and a random token, so a later process that happens to get the same pid (a
 * container's pid 1) is not mistaken for the owner. Returns the release function.
 */
export function claimOutputDir(dir: string, o: { resume: boolean; overwrite: boolean }): () => void {
  const key = path.resolve(dir);
  const mine = held.get(key);
  const created = !mine && !fs.existsSync(dir);
  const release = () => {
    const h = held.get(key);
    if (!h || --h.count > 0) return;
    held.delete(key);
    const lock = path.join(dir, LOCK);
    if (readLock(lock)?.token === h.token) fs.rmSync(lock, { force: true });
    // a run refused before it wrote anything leaves no empty folder behind (only one it made)
    if (h.created) {
      try {
        if (fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
      } catch {
        // gone already, or not ours to remove: nothing to tidy
      }
    }
  };
  if (mine) {
    mine.count++;
    return release;
  }
  mkdirp(dir, 'create the output folder');
  const lock = path.join(dir, LOCK);
  const me: LockFile = { pid: process.pid, host: os.hostname(), token: crypto.randomBytes(12).toString('hex') };
  const take = () => fs.writeFileSync(lock, JSON.stringify(me) + '\n', { flag: 'wx' });
  try {
    take();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, lock, 'write the lock file');
    const owner = readLock(lock);
    if (owner && owner.host !== me.host) {
      throw new Error(`${dir}: a fulltune run on host ${owner.host} (pid ${owner.pid}) holds this output folder; if no run is active there, remove ${lock}`);
    }
    if (owner && owner.pid !== process.pid && pidAlive(owner.pid)) {
      throw new Error(`${dir}: another fulltune run (pid ${owner.pid}) is writing this output folder; wait for it, or choose another --output`);
    }
    // left by a run that died (or by an earlier process with our pid): move it aside atomically,
    // so that of two runs taking over only one succeeds, then take the folder
    const aside = `${lock}.stale.${process.pid}`;
    try {
      fs.renameSync(lock, aside);
      const moved = readLock(aside);
      if (owner && moved && moved.token !== owner.token) {
        fs.renameSync(aside, lock); // another run took it in between: give it back
        throw new Error('taken');
      }
      fs.rmSync(aside, { force: true });
      take();
    } catch {
      throw new Error(`${dir}: another fulltune run took this output folder at the same moment; choose another --output`);
    }
  }
  held.set(key, { token: me.token, count: 1, created });
  try {
    const earlier = fs.readdirSync(dir).filter((f) => f !== LOCK);
    if (earlier.length > 0 && !o.resume && !o.overwrite) {
      throw new Error(
        `${dir}: the output folder is not empty (${earlier.slice(0, 5).join(', ')}${earlier.length > 5 ? ', ...' : ''}); ` +
          'pass --resume to continue its run, --overwrite-output to start over in it, or choose another --output',
      );
    }
  } catch (e) {
    release();
    throw e;
  }
  return release;
}

/**
 * Prepares a claimed output folder for writing: with `overwrite`, removes the earlier run's
 * files (only now, when data and model are ready: a mistake found before leaves them alone);
 * always removes what killed runs left half-written.
 */
export function startOver(dir: string, overwrite: boolean): void {
  if (overwrite) for (const f of RUN_FILES) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  cleanLeftovers(dir);
}

/** Removes what a killed run left half-written: `.<name>.<pid>.tmp[...]` of dead processes. */
export function cleanLeftovers(dir: string): string[] {
  const temp = /^\..+\.(\d+)\.tmp(\..*)?$/;
  return [...removeDeadTemps(dir, temp), ...removeDeadTemps(path.join(dir, 'checkpoints'), temp)];
}
