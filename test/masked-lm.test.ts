// Masked-LM training (--task masked-lm), as transformers' run_mlm.py with
// DataCollatorForLanguageModeling: blocks of text, targets drawn per batch (15% of the
// non-special tokens; 80% masked, 10% random, 10% kept), through the Trainer and the command.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { collate, prng } from '../src/data/collate';
import { cli } from './cli';

const FX = path.join(__dirname, 'fixtures');
const DOCS = path.join(FX, 'lm', 'docs.txt');
const ENC = path.join(FX, 'encoders');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-mlm-'));
const cacheDir = path.join(tmp, 'cache');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A folder as the Hub has it: a masked-LM checkpoint with its tokenizer. */
function hubLike(family: string): string {
  const d = path.join(tmp, `${family}-hub`);
  fs.mkdirSync(d, { recursive: true });
  for (const src of [path.join(ENC, family, 'mlm'), path.join(ENC, family, 'tokenizer')]) for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(d, f));
  return d;
}

test('collation draws mlmProbability of the non-special tokens as targets, 80% masked, 10% random, 10% kept; the same seed draws the same', () => {
  const MASK = 4;
  const V = 500;
  const features = Array.from({ length: 40 }, (_, b) => {
    const n = 100 + (b % 7) * 10;
    const ids = Array.from({ length: n }, (_, t) => 10 + ((b * 31 + t * 17) % 400));
    const special = ids.map((_, t) => (t === 0 || t === n - 1 ? 1 : 0));
    return { ids, special };
  });
  const draw = (seed: number) => collate(features, 'masked-lm', 0, { maskTokenId: MASK, vocabSize: V, mlmProbability: 0.15, randFor: (row) => prng(seed * 1000 + row) });
  const b = draw(7);
  const [B, T] = b.inputIds.shape;
  const ids = b.inputIds.toNumbers();
  const labels = b.labels!.toNumbers();
  const mask = b.attentionMask!.toNumbers();
  let targets = 0;
  let masked = 0;
  let kept = 0;
  let candidates = 0;
  for (let r = 0; r < B; r++) {
    const f = features[r];
    for (let t = 0; t < T; t++) {
      const k = r * T + t;
      if (t >= f.ids.length) {
        expect([ids[k], labels[k], mask[k]]).toEqual([0, -100, 0]); // padding: never a target
        continue;
      }
      expect(mask[k]).toBe(1);
      if (f.special[t]) {
        expect(labels[k]).toBe(-100); // special tokens: never targets
        expect(ids[k]).toBe(f.ids[t]);
        continue;
      }
      candidates++;
      if (labels[k] === -100) {
        expect(ids[k]).toBe(f.ids[t]); // not a target: unchanged
        continue;
      }
      expect(labels[k]).toBe(f.ids[t]); // the target is the original token
      targets++;
      if (ids[k] === MASK) masked++;
      else if (ids[k] === f.ids[t]) kept++;
      expect(ids[k]).toBeLessThan(V);
    }
  }
  expect(b.numItems).toBe(targets);
  // binomial bounds, about five standard deviations wide
  expect(targets / candidates).toBeGreaterThan(0.13);
  expect(targets / candidates).toBeLessThan(0.17);
  expect(masked / targets).toBeGreaterThan(0.74);
  expect(masked / targets).toBeLessThan(0.86);
  expect(kept / targets).toBeGreaterThan(0.05); // 10% kept (and random draws that happen to hit the token)
  expect(kept / targets).toBeLessThan(0.16);
  expect(draw(7).inputIds.toNumbers()).toEqual(ids);
  expect(draw(8).inputIds.toNumbers()).not.toEqual(ids);
});

test('the Trainer trains RoBERTa on masked tokens: the loss falls, evaluation reports perplexity, and its masks are the same at every evaluation', async () => {
  const dir = hubLike('roberta');
  const tok = await ft.AutoTokenizer.fromPretrained(dir);
  const train = await ft.prepareFeatures(DOCS, tok, 'masked-lm', { columns: {}, maxLength: 32, labels: [], cacheDir });
  expect(train.meta.notes?.['tokens in the last, shorter block']).toBeGreaterThan(0); // kept and counted, not dropped
  const model = await ft.AutoModelForMaskedLM.fromPretrained(dir, { warn: () => undefined });
  const trainer = new ft.Trainer({
    model, tokenizer: tok, train, eval: train, labels: [],
    args: { outputDir: path.join(tmp, 'roberta-mlm'), task: 'masked-lm', maxSteps: 12, batchSize: 8, lr: 3e-3, warmupSteps: 0, loggingSteps: 1, quiet: true },
  });
  const before = await trainer.evaluate();
  const again = await trainer.evaluate();
  expect(again.loss).toBe(before.loss); // the same masks: evaluations compare
  // each feature's masks are its own, whatever batch it falls in
  const other = new ft.Trainer({ model, tokenizer: tok, eval: train, labels: [], args: { outputDir: path.join(tmp, 'roberta-mlm-eval'), task: 'masked-lm', evalBatchSize: 3, quiet: true } });
  expect((await other.evaluate()).loss).toBeCloseTo(before.loss, 5);
  expect(before.perplexity).toBeCloseTo(Math.exp(before.loss), 6);
  await trainer.train();
  const after = await trainer.evaluate();
  expect(after.loss).toBeLessThan(before.loss);
  model.dispose();
});

test('masked-lm needs a mask token and a masked-LM head, and --mlm-probability applies to it only', async () => {
  // a config without mask_token: the class default found in the vocabulary (<mask> for RoBERTa), as transformers
  const dir = path.join(tmp, 'no-mask');
  fs.cpSync(hubLike('roberta'), dir, { recursive: true });
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const { mask_token: _m, ...cfg } = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const roberta = await ft.AutoTokenizer.fromPretrained(dir);
  expect(roberta.maskTokenId).toBe(roberta.tokenToId('<mask>'));
  // a tokenizer with no mask token at all (GPT-2's)
  const gpt2 = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'lm', 'gpt2'));
  expect(gpt2.maskTokenId).toBeNull();
  const model = await ft.AutoModelForMaskedLM.fromPretrained(dir, { warn: () => undefined });
  expect(() => new ft.Trainer({ model, tokenizer: gpt2, labels: [], args: { outputDir: path.join(tmp, 'nm'), task: 'masked-lm' } })).toThrow(/--task masked-lm needs a tokenizer with a mask token \(tokenizer_config.json's mask_token\)/);
  model.dispose();
  // the command refuses it before reading any data
  const mixed = path.join(tmp, 'mixed');
  fs.mkdirSync(mixed, { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(ENC, 'roberta', 'mlm', f), path.join(mixed, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(FX, 'lm', 'gpt2', f), path.join(mixed, f));
  const nm = cli(['train', '--model', mixed, '--task', 'masked-lm', '--train', DOCS, '--output', path.join(tmp, 'nm-cli'), '--cache-dir', cacheDir]);
  expect(nm.status).toBe(2);
  expect(nm.stderr).toMatch(/--task masked-lm needs a tokenizer with a mask token/);
  expect(nm.stderr).not.toMatch(/tokenising/);
  // a family without a masked-LM head
  const r = cli(['train', '--model', path.join(FX, 'lm', 'llama'), '--task', 'masked-lm', '--train', DOCS, '--output', path.join(tmp, 'x'), '--cache-dir', cacheDir]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/model_type 'llama' has no masked-lm model/);
  expect(r.stderr).not.toMatch(/tokenising/); // refused before any data is read
  const s = cli(['train', '--model', path.join(FX, 'bert', 'seqcls'), '--train', path.join(FX, 'train', 'tiny.csv'), '--output', path.join(tmp, 'y'), '--mlm-probability', '0.2', '--cache-dir', cacheDir]);
  expect(s.status).toBe(2);
  expect(s.stderr).toMatch(/--mlm-probability applies to --task masked-lm only/);
  const p = cli(['train', '--model', hubLike('roberta'), '--task', 'masked-lm', '--train', DOCS, '--output', path.join(tmp, 'z'), '--mlm-probability', '1.5', '--cache-dir', cacheDir]);
  expect(p.status).toBe(2);
  expect(p.stderr).toMatch(/--mlm-probability/);
});

test('the command trains, evaluates and refuses to predict masked-lm (DeBERTa-v3 from its masked-LM checkpoint)', () => {
  const model = hubLike('deberta-v3');
  const out = path.join(tmp, 'deberta-mlm');
  const r = cli(['train', '--model', model, '--task', 'masked-lm', '--train', DOCS, '--validation', DOCS, '--output', out, '--max-length', '32', '--max-steps', '3', '--batch-size', '4', '--mlm-probability', '0.3', '--cache-dir', cacheDir, '--quiet']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
  expect(m.eval_perplexity).toBeCloseTo(Math.exp(m.eval_loss), 4);
  const e = cli(['eval', '--model', out, '--task', 'masked-lm', '--data', DOCS, '--max-length', '32', '--cache-dir', cacheDir]);
  expect(e.status).toBe(0);
  const p = cli(['predict', '--model', out, '--task', 'masked-lm', '--data', DOCS, '--cache-dir', cacheDir]);
  expect(p.status).not.toBe(0);
  expect(p.stderr).toMatch(/masked-lm has no per-row predictions/);
});

test("RoBERTa's usable length is max_position_embeddings - pad_token_id - 1: the default max length fits, one more is refused before any work", () => {
  const model = hubLike('roberta'); // max_position_embeddings 64, pad_token_id 1: 62 tokens
  const out = path.join(tmp, 'roberta-len');
  const r = cli(['train', '--model', model, '--task', 'masked-lm', '--train', DOCS, '--output', out, '--max-steps', '1', '--batch-size', '4', '--cache-dir', cacheDir, '--quiet']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const bad = cli(['train', '--model', model, '--task', 'masked-lm', '--train', DOCS, '--output', path.join(tmp, 'roberta-len2'), '--max-length', '63', '--cache-dir', cacheDir]);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/--max-length 63 exceeds the model's max_position_embeddings - pad_token_id - 1 62/);
});
