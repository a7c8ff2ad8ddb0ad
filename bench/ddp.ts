// Data-parallel training: `fulltune train --nproc-per-node 2` against PyTorch DDP (a
// transformers Trainer under torchrun, Gloo) on the same packed blocks, model, per-process batch
// and threads (2 processes x 1 thread); the data-parallel efficiency of each (2 processes x 1
// thread against 1 process x 2 threads with the same global batch); and rank 0's peak memory
// with --shard-optimizer and (at blocks of 512) --gradient-checkpointing, and what the latter costs.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ft from '../src';
import { benchPython, BenchResult, median, resultRow } from './common';
import { prepareLMBench } from './train_lm';

const ROOT = path.resolve(__dirname, '..');
const DATA = path.join(ROOT, 'data', 'sentiment', 'train.csv');

export async function benchDDP(_threads: number, rounds: number): Promise<BenchResult[]> {
  if (!ft.ProcessGroup.available()) {
    console.log('(ddp: skipped; the addon was built without Gloo)');
    return [];
  }
  const torchrun = path.join(path.dirname(benchPython()), 'torchrun');
  if (!fs.existsSync(torchrun)) {
    console.log('(ddp: skipped; the bench Python has no torchrun)');
    return [];
  }
  const prepared = await prepareLMBench('ddp');
  if (!prepared) return [];
  const { dir, cache } = prepared;
  const steps = '30';
  const python = (procs: number, batch: number) => {
    const env = { ...process.env, OMP_NUM_THREADS: String(2 / procs), PYTHONWARNINGS: 'ignore' };
    const script = [path.join(ROOT, 'bench', 'torch_train_lm.py'), 'run', dir, String(2 / procs), steps, path.join(dir, 'blocks.json'), String(batch)];
    const [cmd, argv] = procs === 1 ? [benchPython(), script] : [torchrun, ['--nproc-per-node', String(procs), '--master-port', String(29600 + Math.floor(Math.random() * 300)), ...script]];
    // torchrun has been seen to exit 1 after both ranks finished (a rank's teardown): the
    // result line, printed by rank 0 after training, is what counts
    const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (!line.startsWith('{"samples_per_second"')) throw new Error(`${cmd} failed (${r.status}): ${r.stderr.slice(-2000)}`);
    return JSON.parse(line) as { samples_per_second: number; peak_rss_mb: number };
  };
  let n = 0;
  const fulltune = (procs: number, batch: number, extra: string[] = [], block = 128, maxSteps = steps) => {
    const out = path.join(dir, `ft-out-${n++}`);
    execFileSync(process.execPath, [
      path.join(ROOT, 'bin', 'fulltune.js'), 'train', '--model', path.join(dir, 'model'), '--output', out, '--task', 'causal-lm',
      '--train', DATA, '--batch-size', String(batch), '--max-length', String(block), '--block-size', String(block), '--max-steps', maxSteps, '--lr', '5e-4',
      '--warmup-steps', '4', '--cache-dir', cache, '--quiet', ...(procs > 1 ? ['--nproc-per-node', String(procs)] : []), ...extra,
    ], { env: { ...process.env, OMP_NUM_THREADS: String(2 / procs) }, stdio: ['ignore', 'ignore', 'inherit'] });
    return JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as { train_samples_per_second: number; peak_rss_mb: number; optimizer_state_mb: number };
  };
  const r = { py2: [] as number[], py1: [] as number[], ft2: [] as number[], ft1: [] as number[], pyRss: [] as number[], ftRss: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    const p2 = python(2, 8);
    r.py2.push(p2.samples_per_second);
    r.pyRss.push(p2.peak_rss_mb);
    r.py1.push(python(1, 16).samples_per_second);
    const f2 = fulltune(2, 8);
    r.ft2.push(f2.train_samples_per_second);
    r.ftRss.push(f2.peak_rss_mb);
    r.ft1.push(fulltune(1, 16).train_samples_per_second);
  }
  const plain = fulltune(2, 8);
  const sharded = fulltune(2, 8, ['--shard-optimizer']);
  // activations outweigh the weights at longer blocks: 512 tokens, batch 8 per process
  const long = fulltune(2, 8, [], 512, '8');
  const ckpt = fulltune(2, 8, ['--gradient-checkpointing'], 512, '8');
  fs.rmSync(dir, { recursive: true, force: true });
  const m = (a: number[]) => median(a);
  return [
    resultRow('train a Llama 6x384 (causal-lm, blocks of 128) on 2 processes x 1 thread, batch 8 each, against PyTorch DDP under torchrun (blocks/s; ratio = fulltune/PyTorch, above 1 is faster)', '/s', r.ft2, r.py2),
    { name: 'data-parallel efficiency: 2 processes x 1 thread against 1 process x 2 threads, global batch 16 (ratio of throughputs)', unit: 'x', fulltune: m(r.ft2) / m(r.ft1), pytorch: m(r.py2) / m(r.py1), ratio: m(r.ft2) / m(r.ft1) / (m(r.py2) / m(r.py1)) },
    resultRow('peak RSS of rank 0 in that data-parallel run', 'MB', r.ftRss, r.pyRss),
    { name: 'rank 0 optimizer state: --shard-optimizer against plain data parallel (fulltune column: sharded; PyTorch column: fulltune unsharded)', unit: 'MB', fulltune: sharded.optimizer_state_mb, pytorch: plain.optimizer_state_mb, ratio: sharded.optimizer_state_mb / plain.optimizer_state_mb },
    { name: 'rank 0 peak RSS: --shard-optimizer against plain data parallel (same columns)', unit: 'MB', fulltune: sharded.peak_rss_mb, pytorch: plain.peak_rss_mb, ratio: sharded.peak_rss_mb / plain.peak_rss_mb },
    { name: 'rank 0 peak RSS at blocks of 512: --gradient-checkpointing against plain data parallel (same columns)', unit: 'MB', fulltune: ckpt.peak_rss_mb, pytorch: long.peak_rss_mb, ratio: ckpt.peak_rss_mb / long.peak_rss_mb },
    { name: 'throughput at blocks of 512: --gradient-checkpointing against plain data parallel (same columns; blocks/s)', unit: '/s', fulltune: ckpt.train_samples_per_second, pytorch: long.train_samples_per_second, ratio: ckpt.train_samples_per_second / long.train_samples_per_second },
  ];
}
