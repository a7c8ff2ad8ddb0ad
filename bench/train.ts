// `fulltune train` and `fulltune eval` against a transformers Trainer (train, predict) on the same
// data, model, batch and threads, in one run: throughput and peak memory (RSS). Two sets of real
// text: short sentences at sequence 64 (data/sentiment) and email bodies at sequence 128
// (bench/data/emails.csv).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchResult, resultRow, runPython } from './common';

const ROOT = path.resolve(__dirname, '..');

interface Setting {
  name: string;
  csv: string;
  maxLength: number;
  batch: number;
}

const SETTINGS: Setting[] = [
  { name: '2,400 sentences (about 18 tokens), sequence 64, batch 32', csv: path.join(ROOT, 'data', 'sentiment', 'train.csv'), maxLength: 64, batch: 32 },
  { name: '1,200 email bodies, sequence 128, batch 16', csv: path.join(ROOT, 'bench', 'data', 'emails.csv'), maxLength: 128, batch: 16 },
];

function fulltune(args: string[], threads: number): string {
  return execFileSync(process.execPath, [path.join(ROOT, 'bin', 'fulltune.js'), ...args], {
    env: { ...process.env, OMP_NUM_THREADS: String(threads) }, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 26,
  });
}

export async function benchTrain(threads: number, rounds: number): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-bench-train-'));
  try {
    runPython('bench/torch_train.py', ['prepare', dir, path.join(ROOT, 'test', 'fixtures', 'bert', 'tokenizer-vocab')]);
  } catch {
    console.log('(train: skipped; the bench Python has no transformers: pip install transformers)');
    return [];
  }
  const steps = '40';
  const model = path.join(dir, 'model');
  const env = { OMP_NUM_THREADS: String(threads) };
  const rows: BenchResult[] = [];
  try {
    for (const s of SETTINGS) {
      const py = { sps: [] as number[], rss: [] as number[], eval: [] as number[] };
      const js = { sps: [] as number[], rss: [] as number[], eval: [] as number[] };
      const L = String(s.maxLength);
      const B = String(s.batch);
      for (let r = 0; r < rounds; r++) {
        const p = JSON.parse(runPython('bench/torch_train.py', ['train', dir, String(threads), steps, s.csv, L, B], env));
        py.sps.push(p.samples_per_second);
        py.rss.push(p.peak_rss_mb);
        const out = path.join(dir, `ft-out-${s.maxLength}-${r}`);
        fulltune(['train', '--model', model, '--output', out, '--train', s.csv, '--batch-size', B, '--max-length', L,
          '--max-steps', steps, '--lr', '5e-5', '--cache-dir', path.join(dir, 'cache'), '--quiet'], threads);
        const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
        js.sps.push(m.train_samples_per_second);
        js.rss.push(m.peak_rss_mb);
        // both evaluate the model fulltune just trained (its folder is what transformers loads)
        py.eval.push(JSON.parse(runPython('bench/torch_train.py', ['predict', out, String(threads), s.csv, L, B], env)).samples_per_second);
        const e = JSON.parse(lastLine(fulltune(['eval', '--model', out, '--data', s.csv, '--batch-size', B, '--max-length', L,
          '--cache-dir', path.join(dir, 'cache'), '--quiet'], threads)));
        js.eval.push(e.eval_samples_per_second);
      }
      rows.push(
        resultRow(`train BERT 4x256 on ${s.name} (samples/s; ratio = fulltune/PyTorch, above 1 is faster)`, '/s', js.sps, py.sps),
        resultRow(`peak RSS of that training process`, 'MB', js.rss, py.rss),
        resultRow(`evaluate the same rows, same batch (\`fulltune eval\` against Trainer.predict; samples/s)`, '/s', js.eval, py.eval),
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop()!;
}
