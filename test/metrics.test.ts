// Metrics against the reference implementations on fixed predictions: scikit-learn, scipy,
// seqeval and the SQuAD v1.1 script (scripts/gen_train_fixtures.py -> test/fixtures/train/metrics.json).
import * as fs from 'fs';
import * as path from 'path';
import { metrics as M, lrMultiplier, warmupSteps } from '../src';

const ref = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'train', 'metrics.json'), 'utf8'));
const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-12 + 1e-12 * Math.abs(b));

describe('metrics against scikit-learn, scipy, seqeval and the SQuAD script', () => {
  test('multiclass accuracy, macro and micro F1, Matthews correlation', () => {
    const { gold, pred } = ref.multiclass;
    close(M.accuracy(pred, gold), ref.multiclass.accuracy);
    close(M.f1(pred, gold, 'macro'), ref.multiclass.f1_macro);
    close(M.f1(pred, gold, 'micro'), ref.multiclass.f1_micro);
    close(M.matthews(pred, gold), ref.multiclass.matthews);
  });
  test('binary F1 and Matthews correlation', () => {
    const { gold, pred } = ref.binary;
    close(M.f1(pred, gold, 'binary'), ref.binary.f1);
    close(M.matthews(pred, gold), ref.binary.matthews);
  });
  test('Pearson and Spearman (with ties)', () => {
    const { x, y } = ref.regression;
    expect(Math.abs(M.pearson(x, y) - ref.regression.pearson)).toBeLessThan(1e-12);
    expect(Math.abs(M.spearman(x, y) - ref.regression.spearman)).toBeLessThan(1e-12);
  });
  test('seqeval entity-level precision, recall, F1 and accuracy', () => {
    const s = M.seqeval(ref.seqeval.pred, ref.seqeval.gold);
    for (const k of ['precision', 'recall', 'f1', 'accuracy'] as const) close(s[k], ref.seqeval[k]);
  });
  test('SQuAD exact match and F1', () => {
    const s = M.squad(ref.squad.preds, ref.squad.golds);
    close(s.exact_match, ref.squad.exact_match);
    close(s.f1, ref.squad.f1);
  });
});

describe('schedules (transformers get_scheduler)', () => {
  test('linear warmup then decay, cosine, constant with warmup', () => {
    expect(lrMultiplier('linear', 0, 10, 100)).toBe(0);
    expect(lrMultiplier('linear', 5, 10, 100)).toBe(0.5);
    expect(lrMultiplier('linear', 10, 10, 100)).toBe(1);
    expect(lrMultiplier('linear', 55, 10, 100)).toBe(0.5);
    expect(lrMultiplier('linear', 100, 10, 100)).toBe(0);
    expect(lrMultiplier('cosine', 55, 10, 100)).toBeCloseTo(0.5, 12);
    expect(lrMultiplier('cosine', 100, 10, 100)).toBeCloseTo(0, 12);
    expect(lrMultiplier('constant_with_warmup', 5, 10, 100)).toBe(0.5);
    expect(lrMultiplier('constant_with_warmup', 80, 10, 100)).toBe(1);
    expect(warmupSteps(225, { warmupRatio: 0.1 })).toBe(23); // rounded up, as transformers
    expect(warmupSteps(225, { warmupRatio: 0.1, warmupSteps: 7 })).toBe(7);
  });
});
