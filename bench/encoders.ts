// Forward+backward of each encoder family at the bench's BERT size, fulltune against Python
// transformers on the same libtorch, threads, checkpoints and inputs, in one run.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { BenchResult, resultRow, runPython } from './common';

export async function benchEncoders(threads: number, rounds: number): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-bench-enc-'));
  let families: string[];
  try {
    families = JSON.parse(runPython('bench/torch_encoders.py', ['prepare', dir]));
  } catch {
    console.log('(encoders: skipped; the bench Python has no transformers: pip install transformers)');
    return [];
  }
  const x = JSON.parse(fs.readFileSync(path.join(dir, 'inputs.json'), 'utf8'));
  const out: BenchResult[] = [];
  for (const family of families) {
    const model = await ft.AutoModelForSequenceClassification.fromPretrained(path.join(dir, family), { warn: () => undefined });
    model.train();
    const pad = (model.config.pad_token_id as number | undefined) ?? 0;
    const ids = (x.input_ids as number[][]).map((r, i) => r.map((v, j) => (x.attention_mask[i][j] ? v : pad)));
    const inputIds = ft.keep(ft.tensor(ids, { dtype: 'int64' }));
    const attentionMask = ft.keep(ft.tensor(x.attention_mask, { dtype: 'int64' }));
    const labels = ft.keep(ft.tensor(x.labels, { dtype: 'int64' }));
    const params = model.parameters();
    const step = () =>
      ft.tidy(() => {
        ft.zeroGrad(params);
        model.forward({ inputIds, attentionMask, labels }).loss!.backward();
      });
    const timeIt = (iters: number) => {
      step();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iters; i++) step();
      return Number(process.hrtime.bigint() - t0) / 1e9 / iters;
    };
    const js: number[] = [];
    const py: number[] = [];
    for (let r = 0; r < rounds; r++) {
      py.push(JSON.parse(runPython('bench/torch_encoders.py', ['step', dir, family, String(threads), '3'])).step);
      js.push(timeIt(3));
    }
    model.dispose();
    ft.dispose([inputIds, attentionMask, labels]);
    out.push(resultRow(`${family} 4x256, batch 16 x 128: forward+backward (train mode)`, 'ms', js.map((x) => x * 1e3), py.map((x) => x * 1e3)));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}
