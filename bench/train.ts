// Training throughput of `fulltune train` against a transformers Trainer run on the same data
// (data/sentiment/train.csv), model, batch and threads, in one run; and peak memory (RSS).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchResult, resultRow, runPython } from './common';

const ROOT = path.resolve(__dirname, '..');

export async function benchTrain(threads: number, rounds: number): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-bench-train-'));
  try {
    runPython('bench/torch_train.py', ['prepare', dir, path.join(ROOT, 'test', 'fixtures', 'bert', 'tokenizer-vocab')]);
  } catch {
    console.log('(train: skipped; the bench Python has no transformers: pip install transformers)');
    return [];
  }
  const steps = '40';
  const py: { sps: number[]; rss: number[] } = { sps: [], rss: [] };
  const js: { sps: number[]; rss: number[] } = { sps: [], rss: [] };
  for (let r = 0; r < rounds; r++) {
    const p = JSON.parse(runPython('bench/torch_train.py', ['run', dir, String(threads), steps], { OMP_NUM_THREADS: String(threads) }));
    py.sps.push(p.samples_per_second);
    py.rss.push(p.peak_rss_mb);
    const out = path.join(dir, `ft-out-${r}`);
    execFileSync(process.execPath, [
      path.join(ROOT, 'bin', 'fulltune.js'), 'train', '--model', path.join(dir, 'model'), '--output', out,
      '--train', path.join(ROOT, 'data', 'sentiment', 'train.csv'), '--batch-size', '32', '--max-length', '64',
      '--max-steps', steps, '--lr', '5e-5', '--cache-dir', path.join(dir, 'cache'), '--quiet',
    ], { env: { ...process.env, OMP_NUM_THREADS: String(threads) }, stdio: ['ignore', 'ignore', 'inherit'] });
    const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    js.sps.push(m.train_samples_per_second);
    js.rss.push(m.peak_rss_mb);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return [
    resultRow('train BERT 4x256 on 2,400 sentences, batch 32 (samples/s; ratio = fulltune/PyTorch, above 1 is faster)', '/s', js.sps, py.sps),
    resultRow('peak RSS of that training process', 'MB', js.rss, py.rss),
  ];
}
