// Causal-LM training throughput of `fulltune train --task causal-lm` against a transformers
// Trainer on the same packed blocks (built by fulltune from data/sentiment/train.csv), model,
// batch and threads, in one run; and peak memory (RSS).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { BenchResult, resultRow, runPython } from './common';

const ROOT = path.resolve(__dirname, '..');
const DATA = path.join(ROOT, 'data', 'sentiment', 'train.csv');

/**
 * A temporary folder with the bench's random Llama (model/), the packed blocks of 128 fulltune
 * builds from DATA (blocks.json, for the Python side) and their feature cache (cache/); null
 * when the bench Python has no transformers.
 */
export async function prepareLMBench(name: string): Promise<{ dir: string; cache: string } | null> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ft-bench-${name}-`));
  try {
    runPython('bench/torch_train_lm.py', ['prepare', dir, path.join(ROOT, 'test', 'fixtures', 'lm', 'llama')]);
  } catch {
    console.log(`(${name}: skipped; the bench Python has no transformers: pip install transformers)`);
    fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
  const cache = path.join(dir, 'cache');
  const tok = await ft.AutoTokenizer.fromPretrained(path.join(dir, 'model'));
  const store = await ft.buildFeatures(DATA, tok, { task: 'causal-lm', columns: {}, maxLength: 128, blockSize: 128, labels: [] }, { cacheDir: cache });
  const blocks = Array.from({ length: store.length }, (_, i) => store.get(i));
  store.close();
  fs.writeFileSync(path.join(dir, 'blocks.json'), JSON.stringify(blocks));
  return { dir, cache };
}

export async function benchTrainLM(threads: number, rounds: number): Promise<BenchResult[]> {
  const prepared = await prepareLMBench('train-lm');
  if (!prepared) return [];
  const { dir, cache } = prepared;
  const steps = '30';
  const py = { sps: [] as number[], rss: [] as number[] };
  const js = { sps: [] as number[], rss: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const p = JSON.parse(runPython('bench/torch_train_lm.py', ['run', dir, String(threads), steps, path.join(dir, 'blocks.json')], { OMP_NUM_THREADS: String(threads) }));
    py.sps.push(p.samples_per_second);
    py.rss.push(p.peak_rss_mb);
    const out = path.join(dir, `ft-out-${r}`);
    execFileSync(process.execPath, [
      path.join(ROOT, 'bin', 'fulltune.js'), 'train', '--model', path.join(dir, 'model'), '--output', out, '--task', 'causal-lm',
      '--train', DATA, '--batch-size', '8', '--max-length', '128', '--block-size', '128', '--max-steps', steps, '--lr', '5e-4',
      '--warmup-steps', '4', '--cache-dir', cache, '--quiet',
    ], { env: { ...process.env, OMP_NUM_THREADS: String(threads) }, stdio: ['ignore', 'ignore', 'inherit'] });
    const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    js.sps.push(m.train_samples_per_second);
    js.rss.push(m.peak_rss_mb);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return [
    resultRow('train a Llama 6x384 (causal-lm, packed blocks of 128), batch 8 (blocks/s; ratio = fulltune/PyTorch, above 1 is faster)', '/s', js.sps, py.sps),
    resultRow('peak RSS of that training process', 'MB', js.rss, py.rss),
  ];
}
