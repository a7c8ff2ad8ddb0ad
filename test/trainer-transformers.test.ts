// A fulltune run equals transformers' Trainer run for the same seed: the rows of every batch,
// the dropout masks (the generator draws what the Trainer's data loaders and sampler draw), and
// so every step's loss and gradient norm and every evaluation's loss, with every dropout on;
// resumed within an epoch or at its end, a run ends with the same weights. Fixture:
// transformers' own Trainer (scripts/gen_trainer_fixtures.py).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { closeNumbers } from './helpers';

const FX = path.join(__dirname, 'fixtures');
const SEQCLS = path.join(FX, 'bert', 'seqcls');
const fx = JSON.parse(fs.readFileSync(path.join(FX, 'train', 'transformers_trainer.json'), 'utf8')) as {
  seed: number;
  runs: Record<'random' | 'group_by_length' | 'random_eval', { batches: number[][]; losses: number[]; grad_norms: number[]; eval_losses: number[] }>;
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
    expect(() => ft.randperm(3, Buffer.from([1, 2, 3]))).toThrow(/not a CPU generator state/);
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
  type Sampler = 'random' | 'group-by-length';
  interface RunOptions {
    outputDir: string;
    evaluate?: boolean;
    resume?: boolean;
    /** requestStop at the end of this step */
    stopAt?: number;
  }
  /** A Trainer on tiny.csv as in the fixture (evaluating tiny.csv at each epoch's end, or not): its log and the rows it took, in order. */
  async function train(sampler: Sampler, o: RunOptions) {
    const tok = await ft.AutoTokenizer.fromPretrained(SEQCLS);
    const features = () => ft.prepareFeatures(path.join(FX, 'train', 'tiny.csv'), tok, 'sequence-classification', { columns: {}, maxLength: 32, labels, cacheDir: path.join(tmp, 'cache') });
    const trainSet = await features();
    const taken: number[] = [];
    const get = trainSet.get.bind(trainSet);
    trainSet.get = (i: number) => (taken.push(i), get(i));
    const model = await ft.AutoModelForSequenceClassification.fromPretrained(SEQCLS, { warn: () => undefined });
    const trainer: ft.Trainer = new ft.Trainer({
      model, tokenizer: tok, train: trainSet, eval: o.evaluate ? await features() : undefined, labels,
      args: { outputDir: o.outputDir, resume: o.resume, task: 'sequence-classification', epochs: 3, batchSize: 5, evalBatchSize: 5, lr: 1e-3, weightDecay: 0.01, warmupSteps: 3, maxGradNorm: 1, seed: fx.seed, sampler, loggingSteps: 1, saveSteps: 7, quiet: true },
      callbacks: { onStepEnd: ({ step }) => (step === o.stopAt ? trainer.requestStop('a test') : undefined) },
    });
    try {
      await trainer.train();
    } catch (e) {
      if (!(e instanceof ft.TrainingInterrupted)) throw e;
    } finally {
      model.dispose();
    }
    return { log: trainer.log, taken };
  }
  const weights = (dir: string) => fs.readFileSync(path.join(dir, 'checkpoints', 'checkpoint-15', 'model.safetensors'));

  for (const [name, sampler, evaluate] of [
    ['random', 'random', false],
    ['group_by_length', 'group-by-length', false],
    ['random_eval', 'random', true],
  ] as const) {
    const what = `${sampler} sampler${evaluate ? ', evaluating at each epoch end' : ''}`;
    const dir = path.join(tmp, name);

    test(`${what}, dropout on, 3 epochs with a short last batch`, async () => {
      const run = fx.runs[name];
      const { log, taken } = await train(sampler, { outputDir: dir, evaluate });
      expect(taken).toEqual(run.batches.flat());
      const steps = log.filter((e) => typeof e.loss === 'number');
      closeNumbers(steps.map((e) => e.loss as number), run.losses, TOL.loss, 0, 'losses');
      closeNumbers(steps.map((e) => e.grad_norm as number), run.grad_norms, TOL.gradNorm, 0, 'grad norms');
      closeNumbers(log.filter((e) => typeof e.eval_loss === 'number').map((e) => e.eval_loss as number), run.eval_losses, TOL.loss, 0, 'evaluation losses');
    });

    test(`${what}: resumed within an epoch, the same rows and weights`, async () => {
      // step 7 is the second batch of the second epoch (5 batches an epoch)
      const out = path.join(tmp, `${name}-resumed`);
      fs.mkdirSync(path.join(out, 'checkpoints'), { recursive: true });
      fs.cpSync(path.join(dir, 'checkpoints', 'checkpoint-7'), path.join(out, 'checkpoints', 'checkpoint-7'), { recursive: true });
      const { taken } = await train(sampler, { outputDir: out, evaluate, resume: true });
      expect(taken).toEqual(fx.runs[name].batches.slice(7).flat());
      expect(weights(out).equals(weights(dir))).toBe(true);
    });

    test(`${what}: stopped at the end of an epoch${evaluate ? ' (in its evaluation)' : ''} and resumed, the same rows and weights`, async () => {
      const out = path.join(tmp, `${name}-stopped`);
      const first = await train(sampler, { outputDir: out, evaluate, stopAt: 5 });
      expect(first.taken).toEqual(fx.runs[name].batches.slice(0, 5).flat());
      expect(ft.latestCheckpoint(out)).toBe(path.join(out, 'checkpoints', 'checkpoint-5'));
      const { taken, log } = await train(sampler, { outputDir: out, evaluate, resume: true });
      expect(taken).toEqual(fx.runs[name].batches.slice(5).flat());
      expect(log.filter((e) => typeof e.eval_loss === 'number').length).toBe(evaluate ? 3 : 0);
      expect(weights(out).equals(weights(dir))).toBe(true);
    });
  }
});
