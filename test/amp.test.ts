// Mixed precision: bfloat16 autocast (CPU), and the float16 loss scaler's kernels.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';

const FX = path.join(__dirname, 'fixtures');

describe('autocast', () => {
  test('matmuls run in bfloat16 inside, float32 outside; layer norms stay float32', () => {
    ft.tidy(() => {
      const a = ft.randn([4, 8]);
      const w = ft.randn([3, 8]);
      expect(ft.autocast('cpu', 'bfloat16', () => ft.linear(a, w).dtype)).toBe('bfloat16');
      expect(ft.linear(a, w).dtype).toBe('float32');
      expect(ft.autocast('cpu', 'bfloat16', () => ft.layerNorm(a, [8]).dtype)).toBe('float32');
    });
  });

  test('--bf16 trains a model close to float32 training', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-bf16-'));
    const losses: number[][] = [];
    for (const bf16 of [false, true]) {
      const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'bert', 'seqcls'));
      const labels = ['neg', 'neutral', 'pos'];
      const train = await ft.prepareFeatures(path.join(FX, 'train', 'tiny.csv'), tok, 'sequence-classification', { columns: {}, maxLength: 32, labels, cacheDir: path.join(tmp, 'c') });
      const model = await ft.AutoModelForSequenceClassification.fromPretrained(path.join(FX, 'bert', 'seqcls'), { warn: () => undefined, config: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 } });
      const t = new ft.Trainer({ model, tokenizer: tok, train, labels, args: { outputDir: path.join(tmp, String(bf16)), task: 'sequence-classification', maxSteps: 6, batchSize: 8, lr: 1e-3, sampler: 'sequential', loggingSteps: 1, bf16, quiet: true } });
      await t.train();
      losses.push(t.log.filter((e) => typeof e.loss === 'number').map((e) => e.loss as number));
      model.dispose();
    }
    losses[0].forEach((l, i) => expect(Math.abs(losses[1][i] - l)).toBeLessThan(0.05 * l));
    expect(losses[1]).not.toEqual(losses[0]); // it did run in lower precision
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});

describe('GradScaler (dynamic loss scaling)', () => {
  test('unscales gradients, detects overflow, backs off and grows the scale', () => {
    const w = ft.keep(ft.ones([3], { requiresGrad: true }));
    const s = new ft.GradScaler('cpu', { initScale: 1024, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2 });
    ft.tidy(() => s.scaleLoss(w.mul(ft.tensor([1, 2, 3], { dtype: 'float32' })).sum()).backward());
    expect(w.grad!.toNumbers()).toEqual([1024, 2048, 3072]);
    expect(s.unscale([w])).toBe(false);
    expect(w.grad!.toNumbers()).toEqual([1, 2, 3]);
    s.update();
    s.update(); // two clean steps: grows
    expect(s.scale).toBe(2048);
    w.grad = ft.keep(ft.tensor([Infinity, 0, 0], { dtype: 'float32' }));
    expect(s.unscale([w])).toBe(true);
    s.update(); // overflow: backs off
    expect(s.scale).toBe(1024);
    s.dispose();
    w.dispose();
  });

  test('--fp16 on the CPU is refused with a clear message', () => {
    expect(() => new ft.Trainer({ model: null as unknown as ft.PreTrainedModel, labels: [], args: { outputDir: '', task: 'regression', fp16: true } })).toThrow(/fp16 needs a CUDA device/);
  });
});
