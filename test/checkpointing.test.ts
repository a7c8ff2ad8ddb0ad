// Gradient checkpointing: every family's layers recomputed in the backward pass give the
// gradients of an ordinary backward (dropout on: the recomputation draws the same masks), leave
// the generator where an ordinary pass leaves it, and keep less in memory.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { CheckpointSession } from '../src/nn/checkpoint';
import { Tensor } from '../src/tensor/tensor';
import { cli } from './cli';

const FX = path.join(__dirname, 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-ckpt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const DROPOUT_KEYS = ['hidden_dropout_prob', 'attention_probs_dropout_prob', 'dropout', 'attention_dropout', 'embedding_dropout', 'mlp_dropout', 'resid_pdrop', 'attn_pdrop', 'embd_pdrop'];
const CASES: [string, string, 'seqcls' | 'causal'][] = [
  ['BERT', 'bert/seqcls', 'seqcls'],
  ['RoBERTa', 'encoders/roberta/seqcls', 'seqcls'],
  ['DistilBERT', 'encoders/distilbert/seqcls', 'seqcls'],
  ['ELECTRA', 'encoders/electra/seqcls', 'seqcls'],
  ['DeBERTa-v3', 'encoders/deberta-v3/seqcls', 'seqcls'],
  ['ModernBERT', 'encoders/modernbert/seqcls', 'seqcls'],
  ['GPT-2', 'decoder/gpt2', 'causal'],
  ['Llama', 'decoder/llama', 'causal'],
  ['Qwen2', 'decoder/qwen2', 'causal'],
];

/** Gradients of every parameter and the next draw of the generator after one forward and backward in train mode. */
function pass(m: ft.AnyPreTrainedModel, x: Record<string, Tensor>, checkpointing: boolean): { loss: number; grads: Map<string, Float32Array>; next: number[] } {
  ft.zeroGrad(m.parameters());
  ft.manualSeed(1234);
  const s = checkpointing ? new CheckpointSession() : null;
  try {
    // a tidy scope: tensors left to the GC would be freed during a later suite of this worker
    return ft.tidy(() => {
      const out = s ? s.record(() => m.forward(x)) : m.forward(x);
      if (s) s.backward(out.loss);
      else out.loss.backward();
      const grads = new Map(m.namedParameters().filter(([, p]) => p.grad).map(([k, p]) => [k, p.grad!.toArray() as Float32Array]));
      return { loss: out.loss.item(), grads, next: Array.from(ft.rand([4]).toArray() as Float32Array) };
    });
  } finally {
    s?.dispose();
  }
}

describe('gradient checkpointing: the gradients of an ordinary backward, per family (dropout on)', () => {
  for (const [name, dir, head] of CASES) {
    test(name, async () => {
      const cls = head === 'seqcls' ? ft.AutoModelForSequenceClassification : ft.AutoModelForCausalLM;
      // dropout on everywhere the family has it (most fixtures have it off, for parity tests):
      // the recomputed layers must draw the masks the first pass drew
      const model = path.join(tmp, name);
      fs.cpSync(path.join(FX, dir), model, { recursive: true });
      const raw = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
      const keys = DROPOUT_KEYS.filter((k) => k in raw);
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys) raw[k] = 0.1;
      fs.writeFileSync(path.join(model, 'config.json'), JSON.stringify(raw));
      const m = await cls.fromPretrained(model);
      m.train();
      const cfg = m.config as Record<string, unknown>;
      const V = cfg.vocab_size as number;
      const ids = ft.tensor([[5, 9, 13, 17, 21, 25, 29, 33], [7, 11, 15, 19, 23, 0, 0, 0]].map((r) => r.map((v) => v % V)), { dtype: 'int64' });
      const mask = ft.tensor([[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]], { dtype: 'int64' });
      const x: Record<string, Tensor> = { inputIds: ids, attentionMask: mask };
      if (head === 'seqcls') x.labels = ft.tensor([1, 0], { dtype: 'int64' });
      else x.labels = ft.tensor([[5, 9, 13, 17, 21, 25, 29, 33], [7, 11, 15, 19, 23, -100, -100, -100]].map((r) => r.map((v) => (v < 0 ? v : v % V))), { dtype: 'int64' });
      const plain = pass(m, x, false);
      const ckpt = pass(m, x, true);
      expect(ckpt.loss).toBe(plain.loss);
      expect([...ckpt.grads.keys()].sort()).toEqual([...plain.grads.keys()].sort());
      expect(plain.grads.size).toBeGreaterThan(10);
      for (const [k, g] of plain.grads) {
        const h = ckpt.grads.get(k)!;
        let scale = 0;
        let diff = 0;
        for (let i = 0; i < g.length; i++) {
          scale = Math.max(scale, Math.abs(g[i]));
          diff = Math.max(diff, Math.abs(g[i] - h[i]));
        }
        if (diff > 1e-6 * Math.max(scale, 1e-3)) throw new Error(`${k}: gradients differ by ${diff} (largest ${scale})`);
      }
      expect(ckpt.next).toEqual(plain.next);
      ft.zeroGrad(m.parameters());
      ft.dispose(Object.values(x));
      m.dispose();
    }, 60000);
  }
});

test('checkpointing is off outside a recording session and without gradients', async () => {
  const m = await ft.AutoModelForSequenceClassification.fromPretrained(path.join(FX, 'bert', 'seqcls'));
  m.train();
  const x = { inputIds: ft.tensor([[2, 3, 4]], { dtype: 'int64' }) };
  const s = new CheckpointSession();
  // under noGrad nothing is recorded: an evaluation inside a session builds no segments
  ft.tidy(() => {
    const y = s.record(() => ft.noGrad(() => m.forward(x).logits));
    expect(y.requiresGrad).toBe(false);
  });
  s.dispose();
  x.inputIds.dispose();
  m.dispose();
});

describe('gradient checkpointing keeps less in memory (peak RSS of one training step, in a fresh process)', () => {
  const script = path.join(__dirname, 'scripts', 'checkpoint-memory.ts');
  const peak = (model: string, on: boolean) => {
    // RSS as a measure of live memory: no large-block cache (the Trainer turns it off when
    // checkpointing), and glibc maps every block over 128 KiB on its own, so that what is freed
    // leaves at once
    const env = { ...process.env, OMP_NUM_THREADS: '2', FULLTUNE_CPU_CACHE: '0', MALLOC_MMAP_THRESHOLD_: '131072' };
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', script, model, on ? '1' : '0'], { cwd: path.join(__dirname, '..'), encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as { peakMb: number; baseMb: number; loss: number };
  };
  for (const model of ['bert-512', 'llama-1024']) {
    test(model, () => {
      const off = peak(model, false);
      const on = peak(model, true);
      expect(on.loss).toBe(off.loss);
      const [a, b] = [off.peakMb - off.baseMb, on.peakMb - on.baseMb];
      console.log(`${model}: one training step's peak above the loaded model: ${a.toFixed(0)} MB, with checkpointing ${b.toFixed(0)} MB`);
      expect(b).toBeLessThan(0.6 * a);
    }, 120000);
  }
});

test('fulltune train --gradient-checkpointing trains to the weights of a run without it', () => {
  const args = ['train', '--model', path.join(FX, 'lm', 'llama'), '--task', 'causal-lm', '--train', path.join(__dirname, '..', 'data', 'sentiment', 'validation.csv'), '--block-size', '32', '--max-steps', '6', '--batch-size', '4', '--lr', '1e-3', '--quiet', '--cache-dir', path.join(tmp, 'cache')];
  const a = path.join(tmp, 'plain');
  const b = path.join(tmp, 'checkpointed');
  expect(cli([...args, '--output', a]).status).toBe(0);
  const r = cli([...args, '--output', b, '--gradient-checkpointing']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const x = ft.loadSafetensors(path.join(a, 'model.safetensors'));
  const y = ft.loadSafetensors(path.join(b, 'model.safetensors'));
  ft.tidy(() => {
    for (const [k, t] of x) expect(t.sub(y.get(k)!).abs().max().item()).toBeLessThanOrEqual(1e-6 * Math.max(1e-3, t.abs().max().item()));
  });
  ft.dispose([...x.values(), ...y.values()]);
  const la = fs.readFileSync(path.join(a, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
  const lb = fs.readFileSync(path.join(b, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
  expect(lb).toEqual(la);
}, 120000);
