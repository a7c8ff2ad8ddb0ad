// Decoders against Python transformers (scripts/gen_decoder_fixtures.py -> test/fixtures/decoder):
// GPT-2 and the Llama family (GQA, tied and untied, rope llama3/linear/dynamic, q/k/v bias,
// sliding window), logits, losses, every gradient, packed documents and greedy generation.
import * as fs from 'fs';
import * as path from 'path';
import * as ft from '../src';
import { llamaConfig, ropeLayers, slidingWindows } from '../src/models/llama/config';
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
    await expect(ft.AutoModel.fromPretrained(dir, quiet)).rejects.toThrow(/model_type "falcon" is not supported \(supported: bert, deberta-v2, distilbert, electra, gpt2, llama, mistral, modernbert, qwen2, qwen3, roberta, smollm3, xlm-roberta\)/);
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

  test("a list of EOS ids (Llama 3's) is kept through a save, and generation stops at each", async () => {
    const m = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'llama'), { ...quiet, config: { eos_token_id: [2, 30] } });
    const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'ft-eos-'));
    m.generationConfig = null;
    ft.savePretrained(m, dir);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).eos_token_id).toEqual([2, 30]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'generation_config.json'), 'utf8')).eos_token_id).toEqual([2, 30]);
    const again = await ft.AutoModelForCausalLM.fromPretrained(dir, quiet);
    // the llama fixture's second prompt emits 30 at its fourth step (see the generation fixture)
    const gx = expected.models.llama.generate!;
    const row = gx.input_ids[1].filter((_, i) => gx.attention_mask[1][i] === 1);
    const out = ft.tidy(() => rowsOf(again.generate(ids([row]), { maxNewTokens: 12 })));
    expect(out[0].slice(row.length)).toEqual([13, 34, 46, 30]);
    m.dispose();
    again.dispose();
    fs.rmSync(dir, { recursive: true });
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

  test("SmolLM3's layers without rotary: every fourth by default, no_rope_layers when given, checked", () => {
    const base = { model_type: 'smollm3', vocab_size: 96, hidden_size: 32, intermediate_size: 48, num_attention_heads: 4, num_key_value_heads: 2, pad_token_id: 0 };
    expect(ropeLayers(llamaConfig({ ...base, num_hidden_layers: 8 }))).toEqual([true, true, true, false, true, true, true, false]);
    expect(ropeLayers(llamaConfig({ ...base, num_hidden_layers: 3, no_rope_layer_interval: 2 }))).toEqual([true, false, true]);
    // layers without rotary slide when use_sliding_window and a window are set
    expect(slidingWindows(llamaConfig({ ...base, num_hidden_layers: 4, use_sliding_window: true, sliding_window: 8 }))).toEqual([null, null, null, 8]);
    expect(() => llamaConfig({ ...base, num_hidden_layers: 2, no_rope_layers: [1] })).toThrow(/no_rope_layers has 1 entries for 2 layers/);
    expect(() => llamaConfig({ ...base, num_hidden_layers: 2, no_rope_layers: [1, 'x'] })).toThrow(/no_rope_layers\[1\] is "x", expected 0 or 1/);
  });
});

describe('generation against transformers', () => {
  for (const name of Object.keys(expected.models)) {
    const gx = expected.models[name].generate;
    if (!gx) continue;
    for (const useCache of [true, false]) {
      test(`${name}: greedy, batched with left padding, ${useCache ? 'with' : 'without'} the cache: token-identical`, async () => {
        const m = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, name), quiet);
        const opts = { attentionMask: gx.attention_mask, maxNewTokens: gx.max_new_tokens, padTokenId: gx.pad_token_id, eosTokenId: gx.eos_token_id, useCache };
        ft.tidy(() => {
          expect(rowsOf(m.generate(ids(gx.input_ids), opts))).toEqual(gx.output);
          expect(rowsOf(m.generate(ids([gx.input_ids[0].filter((_, i) => gx.attention_mask[0][i] === 1)]), { ...opts, attentionMask: undefined }))).toEqual(gx.single);
        });
        m.dispose();
      });
    }
  }

  test('sampling with a seed is reproducible, and its first-token frequencies fit the model softmax (chi-square)', async () => {
    const m = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'llama'), quiet);
    const prompt = expected.inputs.input_ids[0].slice(0, 4);
    const N = 4000;
    const draws = ft.tidy(() => {
      const a = rowsOf(m.generate(ids([prompt, prompt]), { doSample: true, maxNewTokens: 6, seed: 7, topK: 0, eosTokenId: null }));
      const b = rowsOf(m.generate(ids([prompt, prompt]), { doSample: true, maxNewTokens: 6, seed: 7, topK: 0, eosTokenId: null }));
      expect(a).toEqual(b);
      expect(a[0]).not.toEqual(a[1]); // rows draw independently
      const batch = ids(Array.from({ length: N }, () => prompt));
      return rowsOf(m.generate(batch, { doSample: true, maxNewTokens: 1, seed: 11, topK: 0, eosTokenId: null, temperature: 0.7 })).map((r) => r[r.length - 1]);
    });
    const probs = ft.tidy(() => {
      m.eval();
      return m.forward({ inputIds: ids([prompt]) }).logits.select(1, -1).div(0.7).softmax(-1).toNumbers();
    });
    const counts = new Array(probs.length).fill(0);
    for (const t of draws) counts[t]++;
    // chi-square over tokens expected at least 5 times, the rest pooled
    let chi = 0;
    let df = -1;
    let restE = 0;
    let restO = 0;
    probs.forEach((p, t) => {
      if (p * N >= 5) {
        chi += (counts[t] - p * N) ** 2 / (p * N);
        df++;
      } else {
        restE += p * N;
        restO += counts[t];
      }
    });
    if (restE > 0) {
      chi += (restO - restE) ** 2 / restE;
      df++;
    }
    // the 0.999 quantile of chi-square(df) (Wilson-Hilferty): a correct sampler fails 1 run in 1000
    const z = 3.09;
    const q = df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
    expect(df).toBeGreaterThan(10);
    expect(chi).toBeLessThan(q);
    m.dispose();
  });

  test('top-k 1 is greedy; bad options are refused before any work', async () => {
    const m = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'gpt2'), quiet);
    const prompt = ids([expected.inputs.input_ids[0].slice(0, 4)]);
    ft.tidy(() => expect(rowsOf(m.generate(prompt, { doSample: true, topK: 1, seed: 3, maxNewTokens: 5 }))).toEqual(rowsOf(m.generate(prompt, { maxNewTokens: 5 }))));
    expect(() => m.generate(prompt, { maxNewTokens: 0 })).toThrow(/maxNewTokens must be an integer >= 1/);
    expect(() => m.generate(prompt, { doSample: true, temperature: 0 })).toThrow(/temperature must be > 0/);
    expect(() => m.generate(prompt, { doSample: true, topP: 1.5 })).toThrow(/topP must be in \(0, 1\]/);
    expect(rowsOf(m.generate(prompt, { temperature: 0, maxNewTokens: 3 }))[0].length).toBe(7); // greedy ignores sampling settings, as transformers
    expect(() => m.generate(ids([[]]), {})).toThrow(/the prompt is empty/);
    expect(() => m.generate(ids([[5, 6], [7, 8]]), { attentionMask: [[1, 0], [1, 1]] })).toThrow(/row 0 of attentionMask has padding after a real token: pad prompts on the left/);
    expect(() => m.generate(ids([[5, 999]]), {})).toThrow(/token id 999, outside the model's vocabulary \(vocab_size 96\)/);
    m.generationConfig = { do_sample: true, temperature: -1 };
    expect(() => m.generate(prompt, {})).toThrow(/generation_config.json temperature must be > 0, got -1/);
    m.generationConfig = null;
    expect(() => m.generate(prompt, { max_new_tokens: 3 } as never)).toThrow(/maxNewTokens/);
    expect(() => m.generate(prompt, { maxNewTokens: 100 })).toThrow(/a prompt of 4 tokens and maxNewTokens 100 need 104 positions, more than the model's 64/);
    m.dispose();
  });
});

function rowsOf(t: Tensor): number[][] {
  const [B, T] = t.shape;
  const flat = t.toNumbers();
  return Array.from({ length: B }, (_, b) => flat.slice(b * T, (b + 1) * T));
}
