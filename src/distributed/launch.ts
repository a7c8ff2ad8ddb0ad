// `fulltune train --nproc-per-node N`: starts N workers of the same command on this machine with
// the environment torchrun gives its workers (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT), for users without Python. When a worker fails, the others are
// stopped (they would fail in their next collective anyway) and the launcher exits with the
// failing worker's code, naming it.
import { spawn, ChildProcess } from 'child_process';
import * as net from 'net';
import * as os from 'os';
import { constants } from 'os';

export interface LaunchOptions {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  /** the command's arguments for each worker (without the launch flags) */
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** how long workers may take to stop after one failed before they are killed (ms) */
  graceMs?: number;
  log?: (s: string) => void;
}

/** A free TCP port on the loopback interface (for a single machine's rendezvous). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the workers of this node and resolves with the exit code of the group. */
export async function launchWorkers(o: LaunchOptions): Promise<number> {
  const env = o.env ?? process.env;
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const world = o.nprocPerNode * o.nnodes;
  if (o.nodeRank >= o.nnodes) throw new RangeError(`--node-rank ${o.nodeRank} is outside 0..${o.nnodes - 1} (--nnodes ${o.nnodes})`);
  let addr = env.MASTER_ADDR;
  let port = env.MASTER_PORT;
  if (o.nnodes > 1 && (!addr || !port)) throw new Error(`--nnodes ${o.nnodes}: set MASTER_ADDR and MASTER_PORT to the address and a free port of node 0, the same on every node`);
  addr = addr || '127.0.0.1';
  port = port || String(await freePort());
  // as torchrun: the machine's cores shared among its workers unless OMP_NUM_THREADS says otherwise
  const threads = env.OMP_NUM_THREADS ?? String(Math.max(1, Math.floor(os.cpus().length / o.nprocPerNode)));
  const children: ChildProcess[] = [];
  let failed: { rank: number; code: number } | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  let forwarded = false;
  const forward = (sig: NodeJS.Signals) => () => {
    forwarded = true;
    for (const c of children) if (c.exitCode === null) c.kill(sig);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  // workers run in their own process groups (a terminal's Ctrl-C reaches the launcher alone,
  // which passes it on once): they must not outlive the launcher
  const onExit = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.on('exit', onExit);
  try {
    const exits = Array.from({ length: o.nprocPerNode }, (_, local) => {
      const rank = o.nodeRank * o.nprocPerNode + local;
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...o.args], {
        stdio: 'inherit',
        detached: true,
        env: {
          ...env,
          RANK: String(rank),
          LOCAL_RANK: String(local),
          WORLD_SIZE: String(world),
          LOCAL_WORLD_SIZE: String(o.nprocPerNode),
          GROUP_RANK: String(o.nodeRank),
          MASTER_ADDR: addr,
          MASTER_PORT: port,
          OMP_NUM_THREADS: threads,
          FULLTUNE_WORKER: '1',
          FULLTUNE_LAUNCHER_PID: String(process.pid),
        },
      });
      children.push(child);
      return new Promise<number>((resolve) => {
        child.on('error', (e) => {
          log(`fulltune: worker ${rank} of ${world} could not start: ${e.message}`);
          if (failed === null) failed = { rank, code: 1 };
          for (const other of children) if (other !== child && other.exitCode === null) other.kill('SIGTERM');
          resolve(1);
        });
        child.on('exit', (code, signal) => {
          // as a shell reports it: 128 + the signal's number
          const c = code ?? 128 + (signal ? (constants.signals[signal] ?? 15) : 15);
          // a worker that saved and stopped on a forwarded SIGINT/SIGTERM is not a failure
          const stopped = forwarded && (c === 130 || c === 143);
          if (c !== 0 && !stopped && failed === null) {
            failed = { rank, code: c };
            log(`fulltune: worker ${rank} of ${world} exited with ${signal ?? `code ${code}`}; stopping the others`);
            for (const other of children) if (other !== child && other.exitCode === null) other.kill('SIGTERM');
            killTimer = setTimeout(() => {
              for (const other of children) if (other.exitCode === null) other.kill('SIGKILL');
            }, o.graceMs ?? 30000);
            killTimer.unref();
          }
          resolve(c);
        });
      });
    });
    const codes = await Promise.all(exits);
    const f = failed as { rank: number; code: number } | null;
    return f ? f.code : codes.find((c) => c !== 0) ?? 0;
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('exit', onExit);
  }
}

/** The command line without the launcher's own flags (`--flag value` and `--flag=value`). */
export function withoutFlags(argv: string[], flags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = flags.find((f) => a === `--${f}` || a.startsWith(`--${f}=`));
    if (!name) out.push(a);
    else if (a === `--${name}`) i++; // its value
  }
  return out;
}

/**
 * In a worker of launchWorkers: when the launcher dies without passing a signal on (kill -9),
 * the worker is re-parented; it then stops as on SIGTERM (a checkpoint at the next step
 * boundary) and, if still alive 30 s later, exits. Workers never outlive their launcher.
 */
export function watchLauncher(log: (s: string) => void, o: { everyMs?: number; graceMs?: number } = {}): () => void {
  const launcher = Number(process.env.FULLTUNE_LAUNCHER_PID);
  if (process.env.FULLTUNE_WORKER !== '1' || !Number.isInteger(launcher)) return () => undefined;
  const gone = `fulltune: the launcher (pid ${launcher}) is gone: this worker stops`;
  // it died while this worker was starting: nothing has begun, nothing to save
  if (process.ppid !== launcher) {
    log(gone);
    process.exit(143);
  }
  const timer = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(timer);
    log(gone);
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(143), o.graceMs ?? 30_000).unref();
  }, o.everyMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
