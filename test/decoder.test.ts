// Decoders against Python transformers (scripts/gen_decoder_fixtures.py -> test/fixtures/decoder):
// GPT-2 and the Llama family (GQA, tied and untied, rope llama3/linear/dynamic, q/k/v bias,
// sliding window), logits, losses, every gradient, packed documents and greedy generation.
import * as fs from 'fs';
import * as path from 'path';
import * as ft from '../src';
import { Tensor } from '../src';
import { closeNumbers, compareNumbers } from './helpers';

const FX = path.join(__dirname, 'fixtures', 'decoder');
interface B64 {
  shape: number[];
  b64: string;
}
interface Gen {
  input_ids: number[][];
  attention_mask: number[][];
  pad_token_id: number;
  eos_token_id: number;
  max_new_tokens: number;
  output: number[][];
  single: number[][];
}
interface ModelFx {
  logits: B64;
  loss: number;
  train_loss: number;
  labels?: number[];
  grads: Record<string, B64>;
  params: string[];
  loss_sum?: number;
  targets?: number;
  packed?: { input_ids: number[][]; position_ids: number[][]; labels: number[][]; logits: B64; loss: number };
  generate?: Gen;
}
const expected = JSON.parse(fs.readFileSync(path.join(FX, 'expected.json'), 'utf8')) as {
  inputs: Record<string, number[][]>;
  models: Record<string, ModelFx>;
};
const f32 = (b: B64) => new Float32Array(Uint8Array.from(Buffer.from(b.b64, 'base64')).buffer);
const ids = (rows: number[][]) => ft.tensor(rows, { dtype: 'int64' });
const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};
const quiet = { warn: () => undefined };

// Tolerances (the bar): logits 1e-5 absolute, losses 1e-6 relative, gradients 1e-4
// relative to each parameter's largest gradient (plus two float32 epsilons of the model's largest,
// for gradients that are zero by construction).
const LOGITS_ATOL = 1e-5;
const LOSS_RTOL = 1e-6;
const GRAD_RTOL = 1e-4;

const x = () => ({ inputIds: ids(expected.inputs.input_ids), attentionMask: ids(expected.inputs.attention_mask) });
const labelsOf = (name: string): Tensor =>
  expected.models[name].labels ? ft.tensor(expected.models[name].labels!, { dtype: 'int64' }) : ids(expected.inputs.labels);

describe('decoders against Python transformers', () => {
  for (const name of Object.keys(expected.models)) {
    const fx = expected.models[name];
    test(`${name}: logits and loss (eval), with padding in the batch`, async () => {
      const m = await ft.AutoModel.fromPretrained(path.join(FX, name), quiet);
      m.eval();
      ft.tidy(() => {
        const out = m.forward({ ...x(), labels: labelsOf(name) });
        expect([...out.logits.shape]).toEqual(fx.logits.shape);
        compareNumbers(out.logits.toNumbers(), f32(fx.logits), 0, LOGITS_ATOL, `${name} logits`);
        closeNumbers([out.loss.item()], [fx.loss], LOSS_RTOL, 0, `${name} loss`);
        if (fx.loss_sum !== undefined) {
          const s = m.forward({ ...x(), labels: labelsOf(name), lossReduction: 'sum' });
          closeNumbers([s.loss.item()], [fx.loss_sum], LOSS_RTOL, 0, `${name} summed loss`);
          expect(ft.causalLMTargets(labelsOf(name)).item()).toBe(fx.targets);
        }
      });
      m.dispose();
    });

    test(`${name}: train mode, every parameter's gradient`, async () => {
      const m = await ft.AutoModel.fromPretrained(path.join(FX, name), quiet);
      m.train();
      ft.tidy(() => {
        const out = m.forward({ ...x(), labels: labelsOf(name) });
        closeNumbers([out.loss.item()], [fx.train_loss], LOSS_RTOL, 0, `${name} train loss`);
        out.loss.backward();
        const ours = m.namedParameters() as [string, Tensor][];
        expect(ours.map(([k]) => k).sort()).toEqual([...fx.params].sort());
        const largest = Math.max(...Object.values(fx.grads).map((g) => maxAbs(f32(g))));
        for (const [k, p] of ours) {
          const want = f32(fx.grads[k]);
          compareNumbers(p.grad!.toNumbers(), want, 0, GRAD_RTOL * maxAbs(want) + 2.4e-7 * largest, `${name} grad ${k}`);
        }
      });
      m.dispose();
    });

    if (fx.packed) {
      test(`${name}: packed documents (positions restart, no attention mask) do not attend across boundaries`, async () => {
        const m = await ft.AutoModel.fromPretrained(path.join(FX, name), quiet);
        m.eval();
        ft.tidy(() => {
          const p = fx.packed!;
          const out = m.forward({ inputIds: ids(p.input_ids), positionIds: ids(p.position_ids), labels: ids(p.labels) });
          compareNumbers(out.logits.toNumbers(), f32(p.logits), 0, LOGITS_ATOL, `${name} packed logits`);
          closeNumbers([out.loss.item()], [p.loss], LOSS_RTOL, 0, `${name} packed loss`);
          // the same targets as the padded batch: packing changes speed, not the loss
          closeNumbers([out.loss.item()], [fx.loss], 1e-5, 0, `${name} packed vs padded loss`);
        });
        m.dispose();
      });
    }
  }
});

describe('model families', () => {
  test('an unknown model_type names the supported ones', async () => {
    const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'ft-family-'));
    fs.copyFileSync(path.join(FX, 'llama', 'model.safetensors'), path.join(dir, 'model.safetensors'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'falcon' }));
    await expect(ft.AutoModel.fromPretrained(dir, quiet)).rejects.toThrow(/model_type "falcon" is not supported \(supported: bert, gpt2, llama, mistral, qwen2\)/);
    fs.rmSync(dir, { recursive: true });
  });

  test('a base checkpoint loads into a head model and a head checkpoint into the base model', async () => {
    const lm = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'llama'), quiet);
    const base = await ft.AutoBaseModel.fromPretrained(path.join(FX, 'llama'), quiet);
    expect(base.architecture).toBe('LlamaModel');
    ft.tidy(() => expect(base.norm.weight.sub(lm.model.norm.weight).abs().max().item()).toBe(0));
    lm.dispose();
    base.dispose();
  });

  test('module names are the checkpoint keys (Conv1D keeps its (in, out) layout)', async () => {
    const g = await ft.AutoModel.fromPretrained(path.join(FX, 'gpt2'), quiet);
    expect([...g.stateDict().get('transformer.h.0.attn.c_attn.weight')!.shape]).toEqual([32, 96]);
    expect(g.tiedKeys()).toEqual([['transformer.wte.weight', 'lm_head.weight']]);
    g.dispose();
    const q = await ft.AutoModel.fromPretrained(path.join(FX, 'qwen2'), quiet);
    const keys = [...q.stateDict().keys()];
    expect(keys).toContain('model.layers.0.self_attn.q_proj.bias');
    expect(keys).not.toContain('model.layers.0.self_attn.o_proj.bias');
    expect(q.architecture).toBe('Qwen2ForCausalLM');
    q.dispose();
  });
});
