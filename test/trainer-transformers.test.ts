// A fulltune run equals transformers' Trainer run for the same seed: the rows of every batch,
// the dropout masks (the generator draws what the Trainer's data loader and sampler draw), and
// so every step's loss and gradient norm, with every dropout on. Fixture: transformers' own
// Trainer (scripts/gen_trainer_fixtures.py).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { closeNumbers } from './helpers';

const FX = path.join(__dirname, 'fixtures');
const SEQCLS = path.join(FX, 'bert', 'seqcls');
const fx = JSON.parse(fs.readFileSync(path.join(FX, 'train', 'transformers_trainer.json'), 'utf8')) as {
  seed: number;
  runs: Record<'random' | 'group_by_length', { batches: number[][]; losses: number[]; grad_norms: number[] }>;
  draws: {
    seeded: { n: number; seed: number; perm: number[] }[];
    default: { seed: number; perm: number[]; rand_after: number[] };
    random_: { seed: number; value: string; rand_after: number[] };
  };
};
// Each about ten times the largest difference measured (torch 2.13 CPU), relative to
// transformers' value: loss 2.0e-7, gradient norm 1.6e-7 over the 15 steps of each run.
const TOL = { loss: 2e-6, gradNorm: 5e-6 };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-hf-trainer-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the generator draws of PyTorch samplers', () => {
  test('randperm from a seed, from a state, and from the default generator', () => {
    for (const d of fx.draws.seeded) expect(Array.from(ft.tidy(() => ft.randperm(d.n, d.seed).toArray() as BigInt64Array), Number)).toEqual(d.perm);
    const { seed, perm, rand_after } = fx.draws.default;
    ft.manualSeed(seed);
    expect(Array.from(ft.tidy(() => ft.randperm(perm.length).toArray() as BigInt64Array), Number)).toEqual(perm);
    // the default generator was advanced as torch.randperm advances it
    expect(Array.from(ft.tidy(() => ft.rand([3], { dtype: 'float64' }).toArray() as Float64Array))).toEqual(rand_after);
    // a state gives what the generator in that state would give, and leaves the default one alone
    ft.manualSeed(seed);
    const state = ft.rngState('cpu');
    ft.manualSeed(99);
    expect(Array.from(ft.tidy(() => ft.randperm(perm.length, state).toArray() as BigInt64Array), Number)).toEqual(perm);
    ft.manualSeed(99);
    const next = ft.tidy(() => ft.rand([2]).toArray());
    ft.manualSeed(99);
    ft.tidy(() => {
      ft.randperm(perm.length, state);
    });
    expect(ft.tidy(() => ft.rand([2]).toArray())).toEqual(next);
    expect(() => ft.randperm(-1)).toThrow(TypeError);
    expect(() => ft.randperm(3, 1.5)).toThrow(TypeError);
  });

  test("the data loader's draw at each epoch (int64 random_)", () => {
    const { seed, value, rand_after } = fx.draws.random_;
    ft.manualSeed(seed);
    expect(ft.tidy(() => (ft.empty([], { dtype: 'int64' }).random_().toArray() as BigInt64Array)[0]).toString()).toBe(value);
    expect(Array.from(ft.tidy(() => ft.rand([3], { dtype: 'float64' }).toArray() as Float64Array))).toEqual(rand_after);
  });
});

describe("Trainer runs equal transformers' Trainer runs for the same seed", () => {
  const labels = ['neg', 'neutral', 'pos'];
  /** A Trainer on tiny.csv as in the fixture, and the rows it takes, in order. */
  async function setup(sampler: 'random' | 'group-by-length', o: { outputDir: string; resume?: boolean }) {
    const tok = await ft.AutoTokenizer.fromPretrained(SEQCLS);
    const train = await ft.prepareFeatures(path.join(FX, 'train', 'tiny.csv'), tok, 'sequence-classification', { columns: {}, maxLength: 32, labels, cacheDir: path.join(tmp, 'cache') });
    const taken: number[] = [];
    const get = train.get.bind(train);
    train.get = (i: number) => (taken.push(i), get(i));
    const model = await ft.AutoModelForSequenceClassification.fromPretrained(SEQCLS, { warn: () => undefined });
    const trainer = new ft.Trainer({
      model, tokenizer: tok, train, labels,
      args: { ...o, task: 'sequence-classification', epochs: 3, batchSize: 5, lr: 1e-3, weightDecay: 0.01, warmupSteps: 3, maxGradNorm: 1, seed: fx.seed, sampler, loggingSteps: 1, saveSteps: 7, quiet: true },
    });
    return { trainer, model, taken };
  }

  for (const [name, sampler] of [
    ['random', 'random'],
    ['group_by_length', 'group-by-length'],
  ] as const) {
    test(`${sampler} sampler, dropout on, 3 epochs with a short last batch`, async () => {
      const run = fx.runs[name];
      const { trainer, model, taken } = await setup(sampler, { outputDir: path.join(tmp, sampler) });
      await trainer.train();
      model.dispose();
      expect(taken).toEqual(run.batches.flat());
      const steps = trainer.log.filter((e) => typeof e.loss === 'number');
      closeNumbers(steps.map((e) => e.loss as number), run.losses, TOL.loss, 0, 'losses');
      closeNumbers(steps.map((e) => e.grad_norm as number), run.grad_norms, TOL.gradNorm, 0, 'grad norms');
    });

    test(`${sampler} sampler: resumed within an epoch, the same rows and weights`, async () => {
      // step 7 is the second batch of the second epoch (5 batches an epoch)
      const out = path.join(tmp, `${sampler}-resumed`);
      fs.mkdirSync(path.join(out, 'checkpoints'), { recursive: true });
      fs.cpSync(path.join(tmp, sampler, 'checkpoints', 'checkpoint-7'), path.join(out, 'checkpoints', 'checkpoint-7'), { recursive: true });
      const { trainer, model, taken } = await setup(sampler, { outputDir: out, resume: true });
      await trainer.train();
      model.dispose();
      expect(taken).toEqual(fx.runs[name].batches.slice(7).flat());
      const weights = (dir: string) => fs.readFileSync(path.join(dir, 'checkpoints', 'checkpoint-15', 'model.safetensors'));
      expect(weights(out).equals(weights(path.join(tmp, sampler)))).toBe(true);
    });
  }
});
