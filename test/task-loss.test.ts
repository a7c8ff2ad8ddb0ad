// The Trainer's loss for every task against the transformers model's own loss on the same
// features (scripts/gen_task_loss_fixtures.py -> test/fixtures/train/task_losses.json): through
// evaluate() (eval_loss), and through one training step whose two micro-batches differ in size
// and in labelled targets, so that normalising per micro-batch instead of over the whole step
// would show.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { closeNumbers } from './helpers';

const FX = path.join(__dirname, 'fixtures');
interface Case {
  task: ft.Task;
  model: string;
  data: string;
  max_length: number;
  doc_stride?: number;
  labels: string[];
  batch_size: number;
  features: { ids: number[]; tt?: number[]; label?: number | number[]; start?: number; end?: number }[];
  loss: number;
  /** masked-lm: the first step's loss (its targets are drawn with the epoch's seeds, evaluation's with its own) */
  train_loss?: number;
}
const fixture = JSON.parse(fs.readFileSync(path.join(FX, 'train', 'task_losses.json'), 'utf8')) as { cases: Case[] };
// The logged training loss and eval_loss against transformers' loss: measured (torch 2.13 CPU)
// 1.2e-7 relative at most (token classification, eval_loss).
const LOSS_RTOL = 1e-6;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-task-loss-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the Trainer loss of every task equals transformers', () => {
  test('the fixture covers every task', () => {
    expect(fixture.cases.map((c) => c.task).sort()).toEqual([...ft.TASKS].sort());
  });

  for (const c of fixture.cases) {
    test(`${c.task}: eval_loss and the loss of a step of two unequal micro-batches`, async () => {
      const dir = path.join(FX, 'bert', c.model);
      const file = path.join(FX, 'train', c.data);
      const tok = await ft.AutoTokenizer.fromPretrained(dir);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      const labels = await ft.resolveLabels(c.task, config, file, {}, false);
      expect(labels).toEqual(c.labels);
      const store = await ft.prepareFeatures(file, tok, c.task, { columns: {}, maxLength: c.max_length, docStride: c.doc_stride, labels, cacheDir: path.join(tmp, 'cache') });
      // the same features as Hugging Face's recipes make, so that a difference below is the loss's
      expect(store.length).toBe(c.features.length);
      c.features.forEach((want, i) => {
        const got = store.get(i);
        expect({ i, ids: got.ids, label: got.label, start: got.start, end: got.end }).toEqual({ i, ids: want.ids, label: want.label, start: want.start, end: want.end });
        if (want.tt && want.tt.some((t) => t !== 0)) expect(got.tt).toEqual(want.tt);
      });
      const model = await ft.loadTaskModel(c.task, dir, {
        warn: () => undefined,
        config: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, ...ft.headConfig(c.task, labels) },
      });
      const trainer = new ft.Trainer({
        model, tokenizer: tok, train: store, labels,
        args: { outputDir: path.join(tmp, c.task), task: c.task, maxSteps: 1, batchSize: c.batch_size, gradAccum: 2, loggingSteps: 1, warmupSteps: 0, sampler: 'sequential', quiet: true },
      });
      const ev = await trainer.evaluate(store);
      closeNumbers([ev.loss], [c.loss], LOSS_RTOL, 0, `${c.task} eval_loss`);
      await trainer.train();
      const logged = trainer.log.filter((e) => typeof e.loss === 'number');
      expect(logged.map((e) => e.step)).toEqual([1]);
      closeNumbers([logged[0].loss as number], [c.train_loss ?? c.loss], LOSS_RTOL, 0, `${c.task} training loss`);
      model.dispose();
      store.close();
    });
  }
});
