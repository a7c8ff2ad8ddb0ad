// BERT forward+backward and checkpoint load time, fulltune against Python transformers on
// the same libtorch, threads and checkpoints, in one run.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { BenchResult, median, runPython } from './common';

async function timeIt(fn: () => Promise<void> | void, iters: number): Promise<number> {
  await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9 / iters;
}

export async function benchBert(threads: number, rounds: number): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-bench-bert-'));
  try {
    runPython('bench/torch_bert.py', ['prepare', dir]);
  } catch {
    console.log('(bert: skipped; the bench Python has no transformers: pip install transformers)');
    return [];
  }
  const x = JSON.parse(fs.readFileSync(path.join(dir, 'inputs.json'), 'utf8'));
  const quiet = { warn: () => undefined };
  const model = await ft.AutoModelForSequenceClassification.fromPretrained(path.join(dir, 'step'), quiet);
  model.train();
  const inputIds = ft.keep(ft.tensor(x.input_ids, { dtype: 'int64' }));
  const attentionMask = ft.keep(ft.tensor(x.attention_mask, { dtype: 'int64' }));
  const labels = ft.keep(ft.tensor(x.labels, { dtype: 'int64' }));
  const params = model.parameters();
  const step = () =>
    ft.tidy(() => {
      ft.zeroGrad(params);
      model.forward({ inputIds, attentionMask, labels }).loss!.backward();
    });
  const load = async () => {
    const m = await ft.AutoModelForSequenceClassification.fromPretrained(path.join(dir, 'load'), quiet);
    m.dispose();
  };
  const py = { step: [] as number[], load: [] as number[] };
  const js = { step: [] as number[], load: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    py.step.push(JSON.parse(runPython('bench/torch_bert.py', ['step', dir, String(threads), '3'])).step);
    js.step.push(await timeIt(step, 3));
    py.load.push(JSON.parse(runPython('bench/torch_bert.py', ['load', dir, String(threads), '3'])).load);
    js.load.push(await timeIt(load, 3));
  }
  model.dispose();
  ft.dispose([inputIds, attentionMask, labels]);
  const mb = (fs.statSync(path.join(dir, 'load', 'model.safetensors')).size / 1e6).toFixed(0);
  fs.rmSync(dir, { recursive: true, force: true });
  const row = (name: string, j: number[], p: number[]): BenchResult => {
    const a = median(j) * 1e3;
    const b = median(p) * 1e3;
    return { name, unit: 'ms', fulltune: a, pytorch: b, ratio: a / b };
  };
  return [
    row('BERT 4x256, batch 16 x 128: forward+backward (train mode)', js.step, py.step),
    row(`load a ${mb} MB safetensors checkpoint (from_pretrained)`, js.load, py.load),
  ];
}
