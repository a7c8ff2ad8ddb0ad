// The environment a launcher gives each worker, as torchrun sets it (and `fulltune train
// --nproc-per-node` does): RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT; TORCHELASTIC_USE_AGENT_STORE when the launcher serves the store itself.

/** Where this process stands in a multi-process run. */
export interface LaunchEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** torchrun's agent serves the TCPStore at MASTER_PORT: every rank connects to it as a client */
  agentStore: boolean;
  /** torchrun's restart count: a restarted group rendezvouses under fresh keys */
  restartCount: number;
}

function int(env: NodeJS.ProcessEnv, name: string, min: number, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new Error(`environment variable ${name} is not set (WORLD_SIZE is: a launcher such as torchrun sets both)`);
  }
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min) throw new Error(`environment variable ${name}=${JSON.stringify(raw)}: expected an integer >= ${min}`);
  return n;
}

/**
 * The launch environment, or null for a single process (WORLD_SIZE unset or 1). Errors name the
 * variable and what was expected.
 */
export function readLaunchEnv(env: NodeJS.ProcessEnv = process.env): LaunchEnv | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return null;
  const worldSize = int(env, 'WORLD_SIZE', 1);
  if (worldSize === 1) return null;
  const rank = int(env, 'RANK', 0);
  if (rank >= worldSize) throw new Error(`environment variable RANK=${rank} is outside 0..${worldSize - 1} (WORLD_SIZE=${worldSize})`);
  const localWorldSize = int(env, 'LOCAL_WORLD_SIZE', 1, worldSize);
  const localRank = int(env, 'LOCAL_RANK', 0, rank % localWorldSize);
  if (localRank >= localWorldSize) throw new Error(`environment variable LOCAL_RANK=${localRank} is outside 0..${localWorldSize - 1} (LOCAL_WORLD_SIZE=${localWorldSize})`);
  const masterAddr = env.MASTER_ADDR;
  if (!masterAddr) throw new Error('environment variable MASTER_ADDR is not set: the address of rank 0 (or of the rendezvous) is needed');
  const masterPort = int(env, 'MASTER_PORT', 1);
  if (masterPort > 65535) throw new Error(`environment variable MASTER_PORT=${masterPort}: expected a port, 1..65535`);
  return {
    rank,
    worldSize,
    localRank,
    localWorldSize,
    masterAddr,
    masterPort,
    agentStore: /^(1|true)$/i.test(env.TORCHELASTIC_USE_AGENT_STORE ?? ''),
    restartCount: int(env, 'TORCHELASTIC_RESTART_COUNT', 0, 0),
  };
}
