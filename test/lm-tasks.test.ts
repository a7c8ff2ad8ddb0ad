// causal-lm and sft data against transformers/TRL (scripts/gen_lm_fixtures.py): features,
// what is counted and reported, and that packing changes speed, not the loss.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { closeNumbers } from './helpers';

const FX = path.join(__dirname, 'fixtures', 'lm');
const expected = JSON.parse(fs.readFileSync(path.join(FX, 'expected.json'), 'utf8'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-lm-tasks-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cacheDir = path.join(tmp, 'cache');

describe('sft', () => {
  test("prompt/completion rows: TRL's features (EOS appended to the completion, prompt masked), over-long rows cut and counted", async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    const store = await ft.prepareFeatures({ data: path.join(FX, 'pc.jsonl'), tokenizer: tok, task: 'sft', labels: [], maxLength: expected.sft.max_length, cacheDir });
    expect(store.length).toBe(expected.sft.pc.length);
    expected.sft.pc.forEach((want: { ids: number[]; label: number[] }, i: number) => expect({ i, ...store.get(i) }).toEqual({ i, ids: want.ids, label: want.label }));
    const want = expected.sft.pc as { ids: number[]; label: number[] }[];
    const cut = want.filter((f) => f.ids.length === 64);
    const empty = cut.filter((f) => f.label.slice(1).every((l) => l === -100));
    expect(cut.length).toBeGreaterThan(0);
    expect(store.meta.notes).toEqual({ 'rows cut to --max-length 64 (their end is not trained on)': cut.length, 'rows with no target left after the cut (kept; they add nothing to the loss)': empty.length });
    store.close();
  });

  test('a conversation without an assistant turn, or with a malformed message, names its line', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    const bad = [{ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] }, { messages: [{ role: 'user', content: 'only a question' }] }];
    await expect(ft.prepareFeatures({ data: ft.Dataset.fromRows(bad), tokenizer: tok, task: 'sft', labels: [], maxLength: 64, cacheDir })).rejects.toThrow(/row 2: the conversation has no assistant message/);
    await expect(ft.prepareFeatures({ data: ft.Dataset.fromRows([{ messages: [{ role: 'user' }] }]), tokenizer: tok, task: 'sft', labels: [], maxLength: 64, cacheDir })).rejects.toThrow(/row 1: column 'messages': message 0 has no content/);
  });
});

describe('sft rows', () => {
  test('a null completion, a row with both shapes, or neither, names the column and line', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    const run = (rows: Record<string, unknown>[]) => ft.prepareFeatures({ data: ft.Dataset.fromRows(rows), tokenizer: tok, task: 'sft', labels: [], maxLength: 64, cacheDir });
    await expect(run([{ prompt: 'a', completion: null }])).rejects.toThrow(/row 1: expected a 'messages' column|row 1: column 'completion' is null/);
    await expect(run([{ prompt: 'a', completion: 5 }])).rejects.toThrow(/row 1: column 'completion' is number, expected a string/);
    await expect(run([{ prompt: 'a', completion: 'b', messages: [{ role: 'user', content: 'x' }] }])).rejects.toThrow(/row 1: the row has both 'messages' and 'prompt'\/'completion'/);
    await expect(run([{ text: 'x' }])).rejects.toThrow(/row 1: expected a 'messages' column \(a conversation\), or 'prompt' and 'completion' columns \(columns: text\)/);
  });

  test("the Trainer refuses features made for another task", async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    const store = await ft.prepareFeatures({ data: path.join(FX, 'docs.txt'), tokenizer: tok, task: 'causal-lm', labels: [], maxLength: 32, cacheDir });
    const model = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'llama'), { warn: () => undefined });
    expect(() => new ft.Trainer({ model, tokenizer: tok, train: store, labels: [], args: { outputDir: path.join(tmp, 'wrong'), task: 'sft' } })).toThrow(/the train features were made for task 'causal-lm', not 'sft'/);
    model.dispose();
    // features of the Llama tokenizer (512 tokens) on the GPT-2 fixture (400): refused before any step
    const gpt2 = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'gpt2'), { warn: () => undefined });
    const t = new ft.Trainer({ model: gpt2, tokenizer: tok, train: store, labels: [], args: { outputDir: path.join(tmp, 'vocab'), task: 'causal-lm', maxSteps: 1, quiet: true } });
    await expect(t.evaluate(store)).rejects.toThrow(/token id \d+ is outside the model's vocabulary \(vocab_size 400\)/);
    await expect(t.train()).rejects.toThrow(/outside the model's vocabulary/);
    gpt2.dispose();
    store.close();
  });
});

describe('causal-lm', () => {
  test('packed and one-document-per-example evaluate to nearly the same loss; perplexity is exp(loss); long documents are split and counted', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    const losses: number[] = [];
    for (const packing of [true, false]) {
      const store = await ft.buildFeatures(path.join(FX, 'docs.txt'), tok, { task: 'causal-lm', columns: {}, maxLength: 256, blockSize: 32, packing, labels: [] }, { cacheDir });
      const model = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'llama'), { warn: () => undefined });
      const trainer = new ft.Trainer({ model, tokenizer: tok, eval: store, labels: [], args: { outputDir: '', task: 'causal-lm', batchSize: 4, quiet: true } });
      const m = await trainer.evaluate();
      expect(m.perplexity).toBeCloseTo(Math.exp(m.loss), 10);
      losses.push(m.loss);
      // one example per paragraph of docs.txt, the longer ones split (counted), none cut
      if (!packing) expect(store.length).toBeGreaterThan(12);
      if (!packing) expect(store.meta.notes!['documents split into several examples (longer than the block size)']).toBeGreaterThan(0);
      model.dispose();
      store.close();
    }
    // not equal: where a block boundary (packed) or a split (unpacked) cuts a document, the two
    // cut it at different places; the exact equality of packed and padded losses is in decoder.test.ts
    closeNumbers([losses[0]], [losses[1]], 2e-2, 0, 'packed vs unpacked');
  });
});

describe('training a decoder', () => {
  test('30 steps (AdamW, warmup, clipping, accumulation over unequal lengths) follow a PyTorch + transformers loop', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    const store = await ft.buildFeatures(path.join(FX, 'parity.jsonl'), tok, { task: 'causal-lm', columns: {}, maxLength: 256, packing: false, labels: [] }, { cacheDir });
    const model = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'llama'), { warn: () => undefined });
    const trainer = new ft.Trainer({
      model, tokenizer: tok, train: store, labels: [],
      args: { outputDir: path.join(tmp, 'parity'), task: 'causal-lm', maxSteps: 30, batchSize: 4, gradAccum: 2, lr: 1e-3, weightDecay: 0.01, warmupSteps: 3, maxGradNorm: 1, sampler: 'sequential', loggingSteps: 1, quiet: true },
    });
    await trainer.train();
    const p = expected.parity;
    const steps = trainer.log.filter((e) => typeof e.loss === 'number');
    closeNumbers(steps.map((e) => e.loss as number), p.losses, 1e-4, 0, 'losses');
    closeNumbers(steps.map((e) => e.grad_norm as number), p.grad_norms, 1e-4, 0, 'grad norms');
    ft.tidy(() => {
      for (const [k, prm] of model.namedParameters() as [string, ft.Tensor][]) {
        const flat = prm.flatten().to('float64');
        const pattern = ft.tensor(Float64Array.from({ length: flat.numel() }, (_, i) => (i % 7) - 3));
        const [norm, dot] = p.final[k];
        closeNumbers([flat.norm().item()], [norm], 1e-4, 0, `final norm ${k}`);
        closeNumbers([flat.mul(pattern).sum().item()], [dot], 0, 1e-4 * norm, `final pattern ${k}`);
      }
    });
    model.dispose();
    store.close();
  });
});

describe('decoders on the encoder tasks', () => {
  test("text-pair classification with a Llama: the pair's segment ids are not passed (transformers' Llama tokenizers return none)", async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    const rows = Array.from({ length: 8 }, (_, i) => ({ text: `first text ${i}`, pair: `second text ${i % 3}`, label: i % 2 ? 'yes' : 'no' }));
    const data = ft.Dataset.fromRows(rows);
    const labels = await ft.resolveLabels({ task: 'sequence-classification', config: {}, data, columns: { textPairColumn: 'pair' } });
    const store = await ft.prepareFeatures({ data, tokenizer: tok, task: 'sequence-classification', labels, maxLength: 32, columns: { textPairColumn: 'pair' }, cacheDir });
    expect(store.get(0).tt).toBeDefined(); // the tokenizer gives the pair segment id 1, as Llama 3's tokenizer.json does
    const model = await ft.loadTaskModel('sequence-classification', path.join(FX, 'llama'), { warn: () => undefined, config: { ...ft.headConfig('sequence-classification', labels), pad_token_id: tok.padTokenId } });
    const trainer = new ft.Trainer({ model, tokenizer: tok, train: store, eval: store, labels, args: { outputDir: path.join(tmp, 'pair'), task: 'sequence-classification', maxSteps: 2, batchSize: 4, quiet: true } });
    const { metrics } = await trainer.train();
    expect(Number.isFinite(metrics.eval_loss)).toBe(true);
    model.dispose();
    store.close();
  });
});
