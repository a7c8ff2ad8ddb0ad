// The output folder of a training run: one run at a time (a lock file naming the owner's pid),
// no silent mixing with an earlier run's files, and no leftovers of a run that was killed
// while writing.
import * as fs from 'fs';
import * as path from 'path';
import { fsError, mkdirp, pidAlive, removeDeadTemps } from '../util/fs';

const LOCK = '.fulltune.lock';

/** What fulltune writes into an output folder (removed by overwriteOutputDir). */
export const RUN_FILES = ['checkpoints', 'log.jsonl', 'metrics.json', 'report.html', 'config.json', 'generation_config.json', 'model.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

/**
 * Takes the output folder for this process: creates it, refuses a folder another live run
 * holds, and refuses one that holds an earlier run's files unless resuming or overwriting
 * (with overwrite, those files are removed first). Returns the release function.
 */
export function claimOutputDir(dir: string, o: { resume: boolean; overwrite: boolean }): () => void {
  mkdirp(dir, 'create the output folder');
  const lock = path.join(dir, LOCK);
  // this process holds it already (the command claims it before the Trainer does): nothing to check
  if (fs.existsSync(lock) && fs.readFileSync(lock, 'utf8').trim() === String(process.pid)) return () => undefined;
  const take = () => fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
  try {
    take();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, lock, 'write the lock file');
    const owner = Number(fs.readFileSync(lock, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) {
      throw new Error(`${dir}: another fulltune run (pid ${owner}) is writing this output folder; wait for it, or choose another --output`);
    }
    fs.rmSync(lock, { force: true }); // left by a run that died
    try {
      take();
    } catch {
      throw new Error(`${dir}: another fulltune run took this output folder at the same moment; choose another --output`);
    }
  }
  const release = () => {
    try {
      if (fs.readFileSync(lock, 'utf8').trim() === String(process.pid)) fs.rmSync(lock, { force: true });
    } catch {
      /* already gone */
    }
  };
  try {
    const earlier = fs.readdirSync(dir).filter((f) => f !== LOCK);
    if (earlier.length > 0 && !o.resume) {
      if (!o.overwrite) {
        throw new Error(
          `${dir}: the output folder is not empty (${earlier.slice(0, 5).join(', ')}${earlier.length > 5 ? ', ...' : ''}); ` +
            'pass --resume to continue its run, --overwrite-output to start over in it, or choose another --output',
        );
      }
      for (const f of RUN_FILES) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    }
    cleanLeftovers(dir);
  } catch (e) {
    release();
    throw e;
  }
  return release;
}

/** Removes what a killed run left half-written: `.<name>.<pid>.tmp[...]` of dead processes. */
export function cleanLeftovers(dir: string): string[] {
  const temp = /^\..+\.(\d+)\.tmp(\..*)?$/;
  return [...removeDeadTemps(dir, temp), ...removeDeadTemps(path.join(dir, 'checkpoints'), temp)];
}
