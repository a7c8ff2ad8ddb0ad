// BERT forward+backward and checkpoint load time, fulltune against Python transformers on
// the same libtorch, threads and checkpoints, in one run.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { BenchResult, nativeFloor, resultRow, runPython } from './common';

/**
 * The matrix products of a BERT classifier's training step (forward and both backward products of
 * each linear layer and of attention's two batched products), as (m, k, n, batch) for
 * bench/native_floor.cc: the step's GEMM floor. `tokens` real tokens of batch x seq: with
 * `firstTokenOnly` the products fulltune's sequence classifier computes (per-token layers over
 * the real tokens alone, the last layer for the first tokens alone: its keys and values over
 * every token), otherwise the padded layout's (transformers').
 */
export function bertStepGemms(
  c: { hidden_size: number; intermediate_size: number; num_hidden_layers: number; num_attention_heads: number },
  batch: number,
  seq: number,
  o: { tokens?: number; firstTokenOnly?: boolean } = {},
): Float64Array {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const heads = c.num_attention_heads;
  const d = H / heads;
  const N = o.firstTokenOnly ? (o.tokens ?? batch * seq) : batch * seq;
  const out: number[] = [];
  // y (rows, out) = x (rows, in) W^T; backward dx = dy W, dW = dy^T x
  const linear = (rows: number, inF: number, outF: number) => out.push(rows, inF, outF, 1, rows, outF, inF, 1, outF, rows, inF, 1);
  const bh = batch * heads;
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const firstOnly = o.firstTokenOnly && l === c.num_hidden_layers - 1;
    const q = firstOnly ? batch : N; // rows of the queries, attention output and feed-forward
    const tq = firstOnly ? 1 : seq; // queries per sequence
    linear(N, H, H); // key
    linear(N, H, H); // value
    linear(q, H, H); // query
    linear(q, H, H); // attention output
    linear(q, H, I);
    linear(q, I, H);
    // scores = q k^T (tq, d) x (d, T); backward dq = ds k, dk = ds^T q
    out.push(tq, d, seq, bh, tq, seq, d, bh, seq, tq, d, bh);
    // context = p v (tq, T) x (T, d); backward dp = dc v^T, dv = p^T dc
    out.push(tq, seq, d, bh, tq, d, seq, bh, seq, tq, d, bh);
  }
  linear(batch, H, H); // pooler
  return Float64Array.from(out);
}

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
  const firstRow = ft.keep(inputIds.narrow(0, 0, 1));
  const loadForward = async () => {
    const m = await ft.AutoModelForSequenceClassification.fromPretrained(path.join(dir, 'load'), quiet);
    m.eval();
    ft.noGrad(() => ft.tidy(() => void m.forward({ inputIds: firstRow })));
    m.dispose();
  };
  const floor = nativeFloor();
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'step', 'config.json'), 'utf8'));
  const tokens = (x.attention_mask as number[][]).flat().reduce((a, b) => a + b, 0);
  const gemms = bertStepGemms(cfg, 16, 128, { tokens, firstTokenOnly: true });
  const paddedGemms = bertStepGemms(cfg, 16, 128);
  const py = { step: [] as number[], load: [] as number[], loadForward: [] as number[] };
  const js = { step: [] as number[], load: [] as number[], loadForward: [] as number[], floor: [] as number[], paddedFloor: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    py.step.push(JSON.parse(runPython('bench/torch_bert.py', ['step', dir, String(threads), '3'])).step);
    js.step.push(await timeIt(step, 3));
    js.floor.push(floor.floorGemms(gemms, 3)); // in this process, right after the step's own timing
    js.paddedFloor.push(floor.floorGemms(paddedGemms, 3));
    const pl = JSON.parse(runPython('bench/torch_bert.py', ['load', dir, String(threads), '3']));
    py.load.push(pl.load);
    py.loadForward.push(pl.load_forward);
    js.load.push(await timeIt(load, 3));
    js.loadForward.push(await timeIt(loadForward, 3));
  }
  model.dispose();
  ft.dispose([inputIds, attentionMask, labels, firstRow]);
  const mb = (fs.statSync(path.join(dir, 'load', 'model.safetensors')).size / 1e6).toFixed(0);
  fs.rmSync(dir, { recursive: true, force: true });
  const ms = (xs: number[]) => xs.map((x) => x * 1e3);
  return [
    resultRow('BERT 4x256, batch 16 x 128: forward+backward (train mode)', 'ms', ms(js.step), ms(py.step)),
    resultRow(`floor of fulltune's step: its ${gemms.length / 4} matrix products alone (real tokens; the last layer for the first tokens), from C++ (ratio = floor/PyTorch's step)`, 'ms', ms(js.floor), ms(py.step)),
    resultRow(`floor of the padded step, transformers' products (every position, every layer), from C++ (ratio = floor/PyTorch's step)`, 'ms', ms(js.paddedFloor), ms(py.step)),
    resultRow(`load a ${mb} MB safetensors checkpoint (from_pretrained)`, 'ms', ms(js.load), ms(py.load)),
    resultRow(`load it and run a first forward (eval, 1 x 128): Python's mapped weights read on use`, 'ms', ms(js.loadForward), ms(py.loadForward)),
  ];
}
