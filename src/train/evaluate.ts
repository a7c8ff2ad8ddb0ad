// From a model's outputs on an evaluation set to the metrics of its task.
import { FeatureStore } from '../data/features';
import { Task } from '../data/tasks';
import { accuracy, f1, matthews, pearson, seqeval, spearman, squad } from './metrics';

export interface Predictions {
  /** per feature: logits (classification/regression), per-token logits (token classification), or [start, end] logits (QA) */
  logits: number[][] | number[][][];
  /** per feature: the label id(s) it was evaluated against (null when the data has no labels) */
  labels: (number | number[] | null)[];
}

const argmax = (v: number[]) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);

/** The metrics (without eval_) that evaluation reports for a task: what metricForBestModel may name. */
export function metricNames(task: Task): string[] {
  const byTask: Record<Task, string[]> = {
    'sequence-classification': ['accuracy', 'f1', 'f1_macro', 'f1_micro', 'matthews_correlation'],
    'multi-label': ['accuracy', 'f1', 'f1_macro', 'f1_micro'],
    regression: ['pearson', 'spearmanr', 'mse'],
    'token-classification': ['precision', 'recall', 'f1', 'accuracy'],
    'question-answering': ['exact_match', 'f1'],
  };
  return ['loss', ...byTask[task]];
}

/** Metrics without the eval_ prefix; labelNames maps ids to names (token classification). */
export function computeMetrics(task: Task, p: Predictions, labelNames: string[], store?: FeatureStore): Record<string, number> {
  if (task === 'sequence-classification') {
    const pred = (p.logits as number[][]).map(argmax);
    const gold = p.labels as number[];
    // macro and micro over the labels present in gold or predictions: scikit-learn's default
    const m: Record<string, number> = { accuracy: accuracy(pred, gold), f1_macro: f1(pred, gold, 'macro'), f1_micro: f1(pred, gold, 'micro'), matthews_correlation: matthews(pred, gold) };
    if (labelNames.length === 2) m.f1 = f1(pred, gold, 'binary');
    else m.f1 = m.f1_macro;
    return m;
  }
  if (task === 'multi-label') {
    const pred = (p.logits as number[][]).map((v) => v.map((x) => (x > 0 ? 1 : 0))); // sigmoid > 0.5
    const gold = p.labels as number[][];
    const flatP = pred.flat(), flatG = gold.flat();
    const L = labelNames.length;
    let macro = 0;
    for (let l = 0; l < L; l++) macro += f1(pred.map((r) => r[l]), gold.map((r) => r[l]), 'binary');
    const subset = pred.filter((r, i) => r.every((x, j) => x === gold[i][j])).length / pred.length;
    return { f1_micro: f1(flatP, flatG, 'binary'), f1_macro: macro / L, f1: f1(flatP, flatG, 'binary'), accuracy: subset };
  }
  if (task === 'regression') {
    const pred = (p.logits as number[][]).map((v) => v[0]);
    const gold = p.labels as number[];
    const mse = pred.reduce((s, x, i) => s + (x - gold[i]) ** 2, 0) / pred.length;
    return { pearson: pearson(pred, gold), spearmanr: spearman(pred, gold), mse };
  }
  if (task === 'token-classification') {
    const preds: string[][] = [];
    const golds: string[][] = [];
    (p.logits as number[][][]).forEach((tokens, i) => {
      const lab = p.labels[i] as number[];
      const ps: string[] = [];
      const gs: string[] = [];
      tokens.forEach((v, t) => {
        if (lab[t] === -100) return;
        ps.push(labelNames[argmax(v)]);
        gs.push(labelNames[lab[t]]);
      });
      preds.push(ps);
      golds.push(gs);
    });
    const s = seqeval(preds, golds);
    return { precision: s.precision, recall: s.recall, f1: s.f1, accuracy: s.accuracy };
  }
  const answers = qaAnswers(p, store!);
  const qa = store!.meta.qa!;
  return squad(answers.map((a) => a.text), qa.map((e) => e.answers?.text.length ? e.answers.text : ['']));
}

/**
 * Best answer span per example over all its windows (Hugging Face's postprocess_qa_predictions:
 * 20 best starts and ends, spans inside the context, at most 30 tokens, start <= end).
 */
export function qaAnswers(p: Predictions, store: FeatureStore, nBest = 20, maxAnswerLength = 30): { id: string; text: string; score: number }[] {
  const qa = store.meta.qa!;
  const best = qa.map((e) => ({ id: e.id, text: '', score: -Infinity }));
  (p.logits as number[][][]).forEach((se, fi) => {
    const f = store.get(fi);
    const [start, end] = [se.map((x) => x[0]), se.map((x) => x[1])];
    const top = (v: number[]) => v.map((x, i) => [x, i] as const).sort((a, b) => b[0] - a[0]).slice(0, nBest).map(([, i]) => i);
    for (const s of top(start)) {
      for (const e of top(end)) {
        const os = f.offsets![s];
        const oe = f.offsets![e];
        if (!os || !oe || e < s || e - s + 1 > maxAnswerLength) continue;
        const score = start[s] + end[e];
        const b = best[f.ex!];
        if (score > b.score) {
          b.score = score;
          b.text = qa[f.ex!].context.slice(os[0], oe[1]);
        }
      }
    }
  });
  return best;
}
