// The training step does not wait for the device: the loss, the non-finite check, the fp16
// overflow flag and the gradient norm stay where they were computed, and are read one step
// behind (the device has finished that step by then), or at logging, an evaluation, a checkpoint
// or a step callback, in one transfer each.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';

const FX = path.join(__dirname, 'fixtures');
/** the training step's own code (the models' padding checks are theirs, as in transformers) */
const TRAINING_CODE = /[\\/]src[\\/](train[\\/](trainer|grad|optimizer)|tensor[\\/]amp)\.ts:/;

test('training reads device values one step behind or when logging (one transfer each), or each step for a step callback', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-reads-'));
  const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'bert', 'seqcls'));
  const labels = ['neg', 'neutral', 'pos'];
  const train = await ft.prepareFeatures(path.join(FX, 'train', 'tiny.csv'), tok, 'sequence-classification', { columns: {}, maxLength: 32, labels, cacheDir: path.join(tmp, 'c') });
  // reads of a tensor's values made by the training step's code
  let reads = 0;
  const spies = (['item', 'toArray', 'toNumbers'] as const).map((m) => {
    const original = ft.Tensor.prototype[m] as (...a: unknown[]) => unknown;
    return jest.spyOn(ft.Tensor.prototype, m).mockImplementation(function (this: ft.Tensor, ...args: unknown[]) {
      // the first frame outside this file and jest's mock machinery is the caller
      const caller = (new Error().stack ?? '').split('\n').slice(1).find((l) => !/host-reads\.test|node_modules/.test(l)) ?? '';
      if (TRAINING_CODE.test(caller)) reads++;
      return original.apply(this, args);
    } as never);
  });
  const run = async (name: string, callbacks?: ft.Callbacks) => {
    const model = await ft.AutoModelForSequenceClassification.fromPretrained(path.join(FX, 'bert', 'seqcls'), { warn: () => undefined });
    const t = new ft.Trainer({
      model, tokenizer: tok, train, labels, callbacks,
      args: { outputDir: path.join(tmp, name), task: 'sequence-classification', maxSteps: 8, batchSize: 4, gradAccum: 2, maxGradNorm: 1, loggingSteps: 4, lr: 1e-3, quiet: true },
    });
    reads = 0;
    await t.train();
    model.dispose();
    return t.log.filter((e) => typeof e.loss === 'number');
  };
  try {
    const logged = await run('plain');
    // 8 steps of 2 micro-batches with clipping: at the logging steps 4 and 8 (steps 3-4 and
    // 7-8), otherwise one step behind (steps 1, 2, 5, 6), one transfer each: not 24 reads
    expect(reads).toBe(6);
    expect(logged.map((e) => e.step)).toEqual([4, 8]);
    expect(logged.every((e) => Number.isFinite(e.loss) && (e.grad_norm as number) > 0)).toBe(true);
    // a step callback is handed each step's loss: a read per step, the same training
    const losses: number[] = [];
    const again = await run('callback', { onStepEnd: ({ loss }) => void losses.push(loss) });
    expect(reads).toBe(8);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(again).toEqual(logged.map((e) => ({ ...e, samples_per_second: again[logged.indexOf(e)].samples_per_second })));
  } finally {
    for (const s of spies) s.mockRestore();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}, 120000);
