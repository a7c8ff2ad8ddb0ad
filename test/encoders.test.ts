// The encoder families beyond BERT against Python transformers (scripts/gen_encoder_fixtures.py ->
// test/fixtures/encoders): each family's tokenizer on the shared corpus, and every head's outputs,
// loss and every parameter's gradient on a padded batch of pairs.
import * as fs from 'fs';
import * as path from 'path';
import * as ft from '../src';
import { Tensor } from '../src';
import { closeNumbers, compareNumbers, readSafetensorsPlain } from './helpers';
import { relativePositions } from '../src/models/deberta-v2/encoder';

const FX = path.join(__dirname, 'fixtures', 'encoders');
interface B64 {
  shape: number[];
  b64: string;
}
interface HeadFx {
  outputs: Record<string, B64>;
  loss: number;
  train_loss: number;
  params: string[];
  soft_labels?: number[][];
  soft_loss?: number;
  partial_labels?: number[];
  partial_loss?: number;
  sparse?: { logits: B64; loss: number };
  short?: { inputs: Record<string, number[][]>; last_hidden_state: B64 };
  bf16?: { last_hidden_state: B64 };
}
interface TokCase {
  name: string;
  inputs: string[];
  kwargs: Record<string, unknown>;
  expected: Record<string, unknown[]>;
}
interface FamilyFx {
  tokenizer: TokCase[];
  inputs: Record<string, number[][]>;
  labels: { seqcls: number[]; tokencls: number[][]; qa_start: number[]; qa_end: number[]; mlm: number[][] };
  heads: Record<string, HeadFx>;
}
const expected = JSON.parse(fs.readFileSync(path.join(FX, 'expected.json'), 'utf8')) as { families: Record<string, FamilyFx> };
const f32 = (b: B64) => new Float32Array(Uint8Array.from(Buffer.from(b.b64, 'base64')).buffer);
const i64 = (rows: number[][] | number[]) => ft.tensor(rows, { dtype: 'int64' });
const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};
const quiet = { warn: () => undefined };

// Outputs 1e-5 absolute (float32), losses 1e-5 relative, gradients 1e-4 relative to each
// parameter's largest (plus two float32 epsilons of the model's largest gradient, for entries that
// are zero by construction). Losses met 1e-6 on the CPU the fixtures came from, but another CPU's
// kernels round differently: 1.2e-6 seen on an Intel Sapphire Rapids (DeBERTa-v3, ModernBERT).
const OUT_ATOL = 1e-5;
const LOSS_RTOL = 1e-5;
const GRAD_RTOL = 1e-4;

const AUTO: Record<string, { fromPretrained: (d: string, o: ft.FromPretrainedOptions) => Promise<ft.AnyPreTrainedModel> }> = {
  base: ft.AutoBaseModel,
  seqcls: ft.AutoModelForSequenceClassification,
  tokencls: ft.AutoModelForTokenClassification,
  qa: ft.AutoModelForQuestionAnswering,
  mlm: ft.AutoModelForMaskedLM,
};

/** The head's inputs as the Trainer passes them: token types only to models that take them. */
function inputsOf(fx: FamilyFx, head: string, m: ft.AnyPreTrainedModel): Record<string, Tensor | null> {
  const x: Record<string, Tensor | null> = { inputIds: i64(fx.inputs.input_ids), attentionMask: i64(fx.inputs.attention_mask) };
  if (fx.inputs.token_type_ids) {
    if (!m.acceptsTokenTypeIds) throw new Error('the tokenizer returned token types to a model that takes none');
    x.tokenTypeIds = i64(fx.inputs.token_type_ids);
  }
  if (head === 'seqcls') x.labels = i64(fx.labels.seqcls);
  if (head === 'tokencls') x.labels = i64(fx.labels.tokencls);
  if (head === 'mlm') x.labels = i64(fx.labels.mlm);
  if (head === 'qa') {
    x.startPositions = i64(fx.labels.qa_start);
    x.endPositions = i64(fx.labels.qa_end);
  }
  return x;
}

/** The loss the fixture used for each head; the base model's is a fixed uneven weighting of its hidden states. */
function run(m: ft.AnyPreTrainedModel, head: string, x: Record<string, Tensor | null>): { loss: Tensor; outputs: Record<string, Tensor> } {
  const out = m.forward(x);
  if (head === 'base') {
    const h = out.lastHiddenState as Tensor; // (B, T, C)
    const [, T, C] = h.shape;
    const w = ft.arange(T * C).float().sin().view(T, C);
    return { loss: h.mul(w).sum().mul(1e-2), outputs: { last_hidden_state: h } };
  }
  if (head === 'qa') return { loss: out.loss, outputs: { start_logits: out.startLogits, end_logits: out.endLogits } };
  return { loss: out.loss, outputs: { logits: out.logits } };
}

for (const [family, fx] of Object.entries(expected.families)) {
  describe(`${family} against Python transformers`, () => {
    let tok: ft.PreTrainedTokenizer;
    beforeAll(async () => {
      tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, family, 'tokenizer'));
    });

    for (const c of fx.tokenizer) {
      test(`tokenizer: ${c.name}`, async () => {
        const kw = c.kwargs;
        const pairs = kw.text_pair as string[] | undefined;
        const inputs = pairs ? c.inputs.map((t, i) => [t, pairs[i]] as [string, string]) : c.inputs;
        const enc = await tok.encode(inputs, {
          truncation: kw.truncation === true ? 'longest_first' : (kw.truncation as ft.EncodeOptions['truncation']) ?? false,
          maxLength: kw.max_length as number | undefined,
          stride: kw.stride as number | undefined,
          returnOverflowing: kw.return_overflowing_tokens as boolean | undefined,
          padding: kw.padding === 'longest' ? 'longest' : kw.padding === 'max_length' ? 'max_length' : false,
        });
        const e = c.expected;
        expect(enc.inputIds).toEqual(e.input_ids);
        if (e.token_type_ids) expect(enc.tokenTypeIds).toEqual(e.token_type_ids);
        expect(enc.attentionMask).toEqual(e.attention_mask);
        expect(enc.specialTokensMask).toEqual(e.special_tokens_mask);
        expect(enc.offsets).toEqual(e.offset_mapping);
        if (e.overflow_to_sample_mapping) expect(enc.overflowToSample).toEqual(e.overflow_to_sample_mapping);
      });
    }

    test('the tokenizer gives the model inputs the fixture used (pairs, padded)', async () => {
      const a = ['What does the fox do?', 'Where?', 'How?'];
      const b = ['The quick brown fox jumps over the lazy dog.', 'Café déjà vu!', 'Fine-tuning adapts a pretrained transformer to a new task.'];
      const enc = await tok.encode(a.map((t, i) => [t, b[i]] as [string, string]), { padding: 'longest' });
      expect(enc.inputIds).toEqual(fx.inputs.input_ids);
      expect(enc.attentionMask).toEqual(fx.inputs.attention_mask);
      if (fx.inputs.token_type_ids) expect(enc.tokenTypeIds).toEqual(fx.inputs.token_type_ids);
    });

    for (const [head, h] of Object.entries(fx.heads)) {
      const dir = path.join(FX, family, head);
      test(`${head}: outputs and loss (eval), with padding in the batch`, async () => {
        const m = await AUTO[head].fromPretrained(dir, quiet);
        m.eval();
        ft.tidy(() => {
          const { loss, outputs } = run(m, head, inputsOf(fx, head, m));
          for (const [k, want] of Object.entries(h.outputs)) {
            expect([...outputs[k].shape]).toEqual(want.shape);
            compareNumbers(outputs[k].toNumbers(), f32(want), 0, OUT_ATOL, `${family} ${head} ${k}`);
          }
          closeNumbers([loss.item()], [h.loss], LOSS_RTOL, 0, `${family} ${head} loss`);
        });
        m.dispose();
      });

      test(`${head}: train mode, every parameter's gradient`, async () => {
        const m = await AUTO[head].fromPretrained(dir, quiet);
        m.train();
        const grads = readSafetensorsPlain(path.join(FX, family, `${head}.grads.safetensors`));
        ft.tidy(() => {
          const { loss } = run(m, head, inputsOf(fx, head, m));
          closeNumbers([loss.item()], [h.train_loss], LOSS_RTOL, 0, `${family} ${head} train loss`);
          loss.backward();
          const ours = m.namedParameters() as [string, Tensor][];
          // a tied parameter is listed once, under whichever of its keys each side meets first
          const groups = m.tiedKeys();
          const canonical = (k: string) => groups.find((g) => g.includes(k))?.[0] ?? k;
          expect(ours.map(([k]) => canonical(k)).sort()).toEqual(h.params.map(canonical).sort());
          const largest = Math.max(...[...grads.values()].map((g) => maxAbs(g.data as Float32Array)));
          for (const [k, p] of ours) {
            const aliases = groups.find((g) => g.includes(k)) ?? [k];
            const want = aliases.map((a) => grads.get(a)).find((g) => g !== undefined);
            if (!want) {
              // transformers leaves no gradient on parameters the loss does not reach (the pooler of a base model's loss)
              expect(p.grad === null || maxAbs(p.grad.toNumbers()) === 0).toBe(true);
              continue;
            }
            const w = want.data as Float32Array;
            compareNumbers(p.grad!.toNumbers(), w, 0, GRAD_RTOL * maxAbs(w) + 2.4e-7 * largest, `${family} ${head} grad ${k}`);
          }
        });
        m.dispose();
      });

      if (h.bf16) {
        // measured here: bitwise equal; before rounding DeBERTa's scale to bfloat16 and rotating
        // ModernBERT's q and k in float32 (as transformers), 37% and 20% of the elements differed
        test(`${head}: bfloat16 weights and compute match transformers' (from_pretrained dtype bfloat16)`, async () => {
          const m = await AUTO[head].fromPretrained(dir, { ...quiet, dtype: 'bfloat16' });
          m.eval();
          ft.tidy(() => {
            const got = m.forward(inputsOf(fx, head, m)).lastHiddenState.float().toNumbers();
            const want = f32(h.bf16!.last_hidden_state);
            let differing = 0;
            for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) differing++;
            expect(differing / want.length).toBeLessThan(0.02);
            compareNumbers(got, want, 0, 1e-2, `${family} bf16 hidden states`);
          });
          m.dispose();
        });
      }

      if (h.short) {
        test(`${head}: a short batch (its distances reach part of the relative embedding table)`, async () => {
          const m = await AUTO[head].fromPretrained(dir, quiet);
          m.eval();
          ft.tidy(() => {
            const s = h.short!.inputs;
            const out = m.forward({ inputIds: i64(s.input_ids), attentionMask: i64(s.attention_mask), tokenTypeIds: s.token_type_ids ? i64(s.token_type_ids) : null });
            compareNumbers(out.lastHiddenState.toNumbers(), f32(h.short!.last_hidden_state), 0, OUT_ATOL, `${family} short batch`);
          });
          m.dispose();
        });
      }

      if (h.sparse) {
        test(`${head}: sparse_prediction gives logits only at the labelled positions`, async () => {
          const m = await AUTO[head].fromPretrained(dir, { ...quiet, config: { sparse_prediction: true } });
          m.eval();
          ft.tidy(() => {
            const { loss, outputs } = run(m, head, inputsOf(fx, head, m));
            expect([...outputs.logits.shape]).toEqual(h.sparse!.logits.shape);
            compareNumbers(outputs.logits.toNumbers(), f32(h.sparse!.logits), 0, OUT_ATOL, `${family} sparse logits`);
            closeNumbers([loss.item()], [h.sparse!.loss], LOSS_RTOL, 0, `${family} sparse loss`);
          });
          m.dispose();
        });
      }

      if (h.soft_loss !== undefined) {
        test(`${head}: DeBERTa's losses while problem_type is unset: soft targets, rows with a negative label left out`, async () => {
          const m = await AUTO[head].fromPretrained(dir, quiet);
          m.eval();
          ft.tidy(() => {
            const x = inputsOf(fx, 'base', m);
            closeNumbers([m.forward({ ...x, labels: ft.tensor(h.soft_labels!) }).loss.item()], [h.soft_loss!], LOSS_RTOL, 0, 'soft-target loss');
            closeNumbers([m.forward({ ...x, labels: i64(h.partial_labels!) }).loss.item()], [h.partial_loss!], LOSS_RTOL, 0, 'loss without the negative row');
            expect(m.config.problem_type).toBeNull(); // as transformers, DeBERTa does not record it
          });
          m.dispose();
        });
      }

      test(`${head}: config.json's architecture and round trip of the state dict keys`, async () => {
        const m = await AUTO[head].fromPretrained(dir, quiet);
        const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { architectures: string[] };
        expect(m.architecture).toBe(cfg.architectures[0]);
        const saved = ft.readSafetensorsHeader(path.join(dir, 'model.safetensors'));
        const ourKeys = new Set(m.stateDict().keys());
        for (const e of saved.entries) expect(ourKeys.has(e.name)).toBe(true);
        m.dispose();
      });
    }
  });
}

test("DeBERTa-v3's bucketed relative positions at its real settings (256 buckets, 512 positions, 700 tokens) equal transformers'", () => {
  const fx = (JSON.parse(fs.readFileSync(path.join(FX, 'expected.json'), 'utf8')) as {
    deberta_relative_positions: { T: number; buckets: number; max_position: number; row0: number[]; col0: number[] };
  }).deberta_relative_positions;
  ft.tidy(() => {
    const rel = relativePositions(fx.T, fx.buckets, fx.max_position, 'cpu'); // (T, T)
    expect(rel.select(0, 0).toNumbers()).toEqual(fx.row0);
    expect(rel.select(1, 0).toNumbers()).toEqual(fx.col0);
    expect(new Set(fx.row0).size).toBeGreaterThan(100); // the logarithmic part is reached
  });
});

test("ModernBERT's older config fields (global_attn_every_n_layers, global_rope_theta, local_rope_theta) give the same model as transformers 5's", async () => {
  const fx = expected.families['modernbert-mean'];
  const src = path.join(FX, 'modernbert-mean', 'base');
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'ft-modernbert-old-'));
  const cfg = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8'));
  expect(cfg.layer_types).toEqual(['full_attention', 'sliding_attention', 'full_attention']);
  const { layer_types: _l, rope_parameters: rp, ...rest } = cfg;
  expect(rp.full_attention.rope_theta).toBe(80000);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...rest, global_attn_every_n_layers: 2, global_rope_theta: 80000, local_rope_theta: 5000 }));
  fs.copyFileSync(path.join(src, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  const m = await ft.AutoBaseModel.fromPretrained(dir, quiet);
  m.eval();
  ft.tidy(() => {
    const h = m.forward({ inputIds: i64(fx.inputs.input_ids), attentionMask: i64(fx.inputs.attention_mask) }).lastHiddenState;
    compareNumbers(h.toNumbers(), f32(fx.heads.base.outputs.last_hidden_state), 0, OUT_ATOL, 'modernbert old-config hidden states');
  });
  m.dispose();
  // and a wrong theta would show: the same weights with another local theta differ
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...rest, global_attn_every_n_layers: 2, global_rope_theta: 80000, local_rope_theta: 100 }));
  const other = await ft.AutoBaseModel.fromPretrained(dir, quiet);
  other.eval();
  ft.tidy(() => {
    const h = other.forward({ inputIds: i64(fx.inputs.input_ids), attentionMask: i64(fx.inputs.attention_mask) }).lastHiddenState;
    const want = f32(fx.heads.base.outputs.last_hidden_state);
    expect(Math.max(...Array.from(h.toNumbers()).map((v, i) => Math.abs(v - want[i])))).toBeGreaterThan(1e-3);
  });
  other.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('a RoBERTa head checkpoint (no pooler, as roberta-base has none) loads into the base model, its pooler initialised and named', async () => {
  const said: string[] = [];
  const m = await ft.AutoBaseModel.fromPretrained(path.join(FX, 'roberta', 'seqcls'), { warn: (s: string) => said.push(s) });
  expect(said.join('\n')).toMatch(/newly initialised: pooler\.dense\.weight, pooler\.dense\.bias/);
  expect(said.join('\n')).toMatch(/not used by RobertaModel: classifier\./);
  m.dispose();
});

test('RoBERTa refuses a pad_token_id that leaves no positions, naming the field', async () => {
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'ft-roberta-pad-'));
  const cfg = JSON.parse(fs.readFileSync(path.join(FX, 'roberta', 'base', 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, pad_token_id: cfg.max_position_embeddings - 1 }));
  fs.copyFileSync(path.join(FX, 'roberta', 'base', 'model.safetensors'), path.join(dir, 'model.safetensors'));
  await expect(ft.AutoBaseModel.fromPretrained(dir, quiet)).rejects.toThrow(/config\.json: pad_token_id 63 leaves no positions/);
  fs.rmSync(dir, { recursive: true });
});

test('every head loads from every other head\'s checkpoint of its family (as transformers: the other head unused, its own initialised)', async () => {
  const heads = ['seqcls', 'tokencls', 'qa', 'mlm'];
  for (const family of Object.keys(expected.families)) {
    for (const src of heads) {
      for (const dst of heads) {
        const said: string[] = [];
        const m = await AUTO[dst].fromPretrained(path.join(FX, family, src), { warn: (s: string) => said.push(s), ignoreMismatchedHead: true });
        m.dispose();
        // RoBERTa's and ELECTRA's two classifiers share the name `classifier` but not the structure
        if ((family === 'roberta' || family === 'electra') && src === 'seqcls' && dst === 'tokencls') {
          expect(said.join("\n")).toMatch(/not used by \w+ForTokenClassification: classifier\.dense\.bias, classifier\.dense\.weight/);
          expect(said.join('\n')).toMatch(/newly initialised: classifier\.weight, classifier\.bias/);
        }
      }
    }
  }
});
