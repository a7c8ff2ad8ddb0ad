// File-system helpers shared by the writers: errors that name the file and keep the system's
// reason, and removal of temporary files left by processes that died while writing.
import * as fs from 'fs';
import * as path from 'path';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Error for a file-system failure, naming the path and keeping the system's code (ENOSPC, EROFS, EACCES, ...). */
export function fsError(e: unknown, file: string, doing: string): Error {
  const err = e as NodeJS.ErrnoException & { named?: boolean };
  // only the system's errors (they carry a syscall; a tokenizer's 'GenericFailure' does not), once
  if (!err || typeof err.code !== 'string' || typeof err.syscall !== 'string' || err.named) return e as Error;
  const why: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EROFS: 'the file system is read-only',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EDQUOT: 'disk quota exceeded',
    ENOTDIR: 'a part of the path is not a folder',
    EISDIR: 'it is a folder',
  };
  const out = new Error(`${file}: cannot ${doing}: ${why[err.code] ?? err.message} (${err.code})`) as NodeJS.ErrnoException & { named?: boolean };
  out.code = err.code;
  out.named = true;
  return out;
}

/**
 * mkdir -p that reports the real reason: Node's recursive mkdir says ENOENT where a parent
 * cannot be created (a read-only mount gives ENOENT, not EROFS), so retry the first missing
 * level alone to learn why.
 */
export function mkdirp(dir: string, doing = 'create the folder'): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, dir, doing);
    let missing = path.resolve(dir);
    while (!fs.existsSync(path.dirname(missing)) && path.dirname(missing) !== missing) missing = path.dirname(missing);
    try {
      fs.mkdirSync(missing);
    } catch (e2) {
      throw fsError(e2, dir, doing);
    }
    throw fsError(e, dir, doing);
  }
}

/** Runs `fn`; a file-system error from it becomes fsError(file, doing). */
export function withFile<T>(file: string, doing: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fsError(e, file, doing);
  }
}

/**
 * Removes the entries of `dir` whose name matches `pattern` (its first group a pid) and whose
 * process is gone: what a killed writer left. A live process's are still being written.
 */
export function removeDeadTemps(dir: string, pattern: RegExp): string[] {
  const removed: string[] = [];
  if (!fs.existsSync(dir)) return removed;
  for (const f of fs.readdirSync(dir)) {
    const m = pattern.exec(f);
    if (!m || pidAlive(Number(m[1]))) continue;
    fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    removed.push(path.join(dir, f));
  }
  return removed;
}
