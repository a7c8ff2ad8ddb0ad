// Process groups on c10d's TCPStore and ProcessGroupGloo, two processes over loopback: every
// collective's values, and the failures a multi-process run meets (a rank that dies, one that
// hangs, a port in use, a rank that never comes) end in an error naming the rank, not a hang.
import { spawn } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import { ProcessGroup } from '../src/distributed/process-group';
import { readLaunchEnv } from '../src/distributed/env';
import { freePort } from '../src/distributed/launch';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(__dirname, 'scripts', 'collectives.ts');


interface Ran {
  code: number | null;
  out: string;
  err: string;
}

function rank(r: number, port: number, extra: NodeJS.ProcessEnv, killAfterMs?: number): Promise<Ran> {
  return new Promise((resolve) => {
    const env = { ...process.env, WORLD_SIZE: '2', RANK: String(r), LOCAL_RANK: String(r), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ...extra };
    const p = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', SCRIPT], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = killAfterMs ? setTimeout(() => p.kill('SIGKILL'), killAfterMs) : null;
    p.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const json = (r: Ran) => JSON.parse(r.out.trim().split('\n').pop()!);

const maybe = ProcessGroup.available() ? describe : describe.skip;
if (!ProcessGroup.available()) {
  test('the addon was built with Gloo (install libgloo-dev and rebuild)', () => {
    throw new Error('this addon was built without Gloo: apt-get install libgloo-dev, then npm run build:native');
  });
}

maybe('process groups over loopback (Gloo)', () => {
  test('all-reduce (each tensor on its own), max, broadcast, all-gather, objects with NaN and infinities, barrier, numbers, reduce-scatter, and bucketed gradients after or during backward agree on both ranks', async () => {
    const port = await freePort();
    const [a, b] = await Promise.all([rank(0, port, {}), rank(1, port, {})]);
    expect([a.code, b.code]).toEqual([0, 0]);
    for (const r of [json(a), json(b)]) {
      expect(r.sum).toEqual([3, 30, -1]);
      expect(r.other).toEqual([300]);
      expect(JSON.parse(r.objects)).toEqual([['NaN', '0', 'Infinity'], ['-Infinity', '1', 'Infinity']]);
      expect(r.max).toEqual([1, 5]);
      expect(r.bcast).toEqual([7, 8]);
      expect(r.gather).toEqual([[0, 0], [1, 2]]);
      expect(r.wGrad).toEqual([2, 4, 6, 2, 4, 6]); // (1 + 1) x [1, 2, 3] per row
      expect(r.uGrad).toEqual([3, 3, 3, 3]); // rank 1's alone: rank 0 had none
      expect(r.vGrad).toBe(true); // a gradient nowhere stays absent
      expect(r.nums).toEqual([2, 4]);
      expect(r.scattered).toEqual(r.rank === 0 ? [3, 3] : [30, 30]);
      // overlapped with backward: every bucket launched before finish, sums as one step of both
      expect(r.overlap).toEqual({
        reduced: true,
        buckets: 4,
        overlapped: 4,
        w: [7, 7, 7, 7, 7, 7], // (1 + 2) + (2 + 2), the no_sync micro-batch's part included
        u: [3, 3, 3, 3], // rank 1's alone
        v: true, // a gradient nowhere stays absent
        t: [7, 7, 7], // (2 + 1) + (2 + 2): both uses, one hook call
        e: [5, 5], // unused by the last micro-batch: its accumulated 2 + 3
      });
      expect(r.twice).toMatch(/accumulated twice in one backward pass/);
    }
  }, 60000);

  test('a rank that dies makes the other fail at once, naming itself', async () => {
    const port = await freePort();
    const [a, b] = await Promise.all([rank(0, port, { MODE: 'die' }), rank(1, port, { MODE: 'die' })]);
    expect(b.code).toBe(3);
    expect(a.code).toBe(2);
    const r = json(a);
    expect(r.error).toMatch(/^rank 0 of 2: all-reduce failed: another rank is gone/);
    expect(r.seconds).toBeLessThan(10);
  }, 60000);

  test('a rank that hangs makes the other fail within the timeout', async () => {
    const port = await freePort();
    const [a] = await Promise.all([rank(0, port, { MODE: 'hang', TIMEOUT: '3' }), rank(1, port, { MODE: 'hang', TIMEOUT: '3' }, 8000)]);
    expect(a.code).toBe(2);
    const r = json(a);
    expect(r.error).toMatch(/^rank 0 of 2: all-reduce failed: another rank did not take part within 3 s/);
    expect(r.seconds).toBeGreaterThanOrEqual(2.5);
    expect(r.seconds).toBeLessThan(10);
  }, 60000);

  test('a rank that never comes: the rendezvous fails within the timeout, naming what to check', async () => {
    const port = await freePort();
    const t0 = Date.now();
    expect(() => ProcessGroup.init({ rank: 0, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutSeconds: 2 })).toThrow(/rank 0 of 2: the other ranks did not join within 2 s at 127\.0\.0\.1:\d+ \(is every rank started/);
    expect(Date.now() - t0).toBeLessThan(10000);
  }, 30000);

  test('a MASTER_PORT in use is named', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect(() => ProcessGroup.init({ rank: 0, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutSeconds: 2 })).toThrow(`rank 0 of 2: MASTER_PORT ${port} is in use on this machine`);
    } finally {
      server.close();
    }
  }, 30000);

  test('a group of one needs no peers; a destroyed group refuses collectives', async () => {
    const pg = ProcessGroup.init({ rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: await freePort(), timeoutSeconds: 5 });
    expect(pg.allReduceNumbers([1.5, -2])).toEqual([1.5, -2]);
    pg.destroy();
    expect(() => pg.barrier()).toThrow('the process group is destroyed');
  }, 30000);
});

describe('the launch environment (torchrun names)', () => {
  const base = { WORLD_SIZE: '2', RANK: '1', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500' };
  test('read as torchrun sets it', () => {
    expect(readLaunchEnv({})).toBeNull();
    expect(readLaunchEnv({ WORLD_SIZE: '1' })).toBeNull();
    expect(readLaunchEnv({ ...base, LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '2' })).toEqual({
      rank: 1, worldSize: 2, localRank: 1, localWorldSize: 2, masterAddr: '10.0.0.1', masterPort: 29500, agentStore: true, restartCount: 2,
    });
  });
  test('bad values name the variable and what was expected', () => {
    expect(() => readLaunchEnv({ ...base, RANK: '2' })).toThrow('environment variable RANK=2 is outside 0..1 (WORLD_SIZE=2)');
    expect(() => readLaunchEnv({ ...base, RANK: 'one' })).toThrow('environment variable RANK="one": expected an integer >= 0');
    expect(() => readLaunchEnv({ ...base, MASTER_ADDR: '' })).toThrow('environment variable MASTER_ADDR is not set');
    expect(() => readLaunchEnv({ ...base, MASTER_PORT: '70000' })).toThrow('MASTER_PORT=70000: expected a port, 1..65535');
    const { RANK: _r, ...noRank } = base;
    expect(() => readLaunchEnv(noRank)).toThrow('environment variable RANK is not set');
  });
});
