// Decoders: GPT-2- and Llama-shaped forward+backward and greedy generation with the cache,
// fulltune against Python transformers on the same libtorch, threads and checkpoints, in one run.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { BenchResult, resultRow, runPython } from './common';

function seconds(fn: () => void, iters: number): number {
  fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e9 / iters;
}

export async function benchDecoder(threads: number, rounds: number): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-bench-decoder-'));
  try {
    runPython('bench/torch_decoder.py', ['prepare', dir]);
  } catch {
    console.log('(decoder: skipped; the bench Python has no transformers: pip install transformers)');
    return [];
  }
  const x = JSON.parse(fs.readFileSync(path.join(dir, 'inputs.json'), 'utf8'));
  const out: BenchResult[] = [];
  for (const name of ['gpt2', 'llama']) {
    const model = await ft.AutoModelForCausalLM.fromPretrained(path.join(dir, name), { warn: () => undefined });
    const ids = ft.keep(ft.tensor(x.input_ids, { dtype: 'int64' }));
    const params = model.parameters();
    const step = () =>
      ft.tidy(() => {
        ft.zeroGrad(params);
        model.train();
        model.forward({ inputIds: ids, labels: ids }).loss!.backward();
      });
    const py = { step: [] as number[], g1: [] as number[], g8: [] as number[] };
    const js = { step: [] as number[], g1: [] as number[], g8: [] as number[] };
    const gen = (b: number) => {
      const p = ft.tensor(x.prompts.slice(0, b), { dtype: 'int64' });
      model.generate(p, { maxNewTokens: 4, eosTokenId: null }).dispose(); // warm up
      const t0 = process.hrtime.bigint();
      const o = model.generate(p, { maxNewTokens: 128, eosTokenId: null });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (o.size(1) !== 16 + 128) throw new Error('generation stopped early');
      ft.dispose([o, p]);
      return s;
    };
    for (let r = 0; r < rounds; r++) {
      py.step.push(JSON.parse(runPython('bench/torch_decoder.py', ['step', dir, name, String(threads), '2'])).step);
      js.step.push(seconds(step, 2));
      py.g1.push(JSON.parse(runPython('bench/torch_decoder.py', ['generate', dir, name, String(threads), '1'])).generate);
      js.g1.push(gen(1));
      py.g8.push(JSON.parse(runPython('bench/torch_decoder.py', ['generate', dir, name, String(threads), '8'])).generate);
      js.g8.push(gen(8));
    }
    model.dispose();
    ids.dispose();
    const label = name === 'gpt2' ? 'GPT-2 6x384' : 'Llama 6x384 (2 kv heads)';
    out.push(resultRow(`${label}, batch 8 x 256: forward+backward (causal-LM loss)`, 'ms', js.step.map((x) => x * 1e3), py.step.map((x) => x * 1e3)));
    for (const [bs, j, p] of [[1, js.g1, py.g1], [8, js.g8, py.g8]] as const) {
      const rate = (xs: readonly number[]) => xs.map((x) => (bs * 128) / x);
      out.push(resultRow(`${label}: greedy generation with the cache, batch ${bs}, 128 new tokens (tokens/s; ratio = fulltune/PyTorch, above 1 is faster)`, '/s', rate(j), rate(p)));
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}
