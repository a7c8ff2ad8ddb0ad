// Sequence tasks: single-label classification, multi-label classification and regression on a
// text (or a text pair), served by a *ForSequenceClassification head.
import { tensor } from '../../tensor/create';
import { Tensor } from '../../tensor/tensor';
import { HeadKind } from '../../models/registry';
import { Feature } from '../features';
import { Example } from '../tasks';
import { accuracy, f1, matthews, pearson, spearman } from '../../train/metrics';
import { argmax, defaultColumns, encoderBatch, i64, labelId, labelName, listOf, need, Predictions, softmax, str, TaskSpec } from './spec';

type Kind = 'sequence-classification' | 'multi-label' | 'regression';

function sequenceSpec(name: Kind, description: string, metricNames: string[]): TaskSpec {
  return {
    name,
    head: 'sequence-classification',
    description,
    hasClassLabels: name !== 'regression',
    metricNames,
    lowerIsBetter: name === 'regression' ? ['mse'] : [],
    resolveColumns: (c) => defaultColumns(c, { text: 'text', label: 'label' }),
    requiredColumns: (cols, withLabels) => [cols.textColumn, ...(cols.textPairColumn ? [cols.textPairColumn] : []), ...(withLabels ? [cols.labelColumn] : [])],

    toExample(cols, row, withLabels): Example {
      const ex: Example = { line: row.line, text: str(row, cols.textColumn) };
      if (cols.textPairColumn) ex.pair = str(row, cols.textPairColumn);
      if (!withLabels) return ex;
      const raw = need(row, cols.labelColumn);
      if (name === 'regression') {
        const x = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
        if (typeof x !== 'number' || !Number.isFinite(x)) throw `label ${JSON.stringify(raw)} is not a number`;
        ex.label = x;
      } else if (name === 'multi-label') {
        const l = listOf(raw);
        if (!l) throw `label ${JSON.stringify(raw)} is not a list of labels`;
        const names = l.map(labelName);
        if (names.some((n) => n === null)) throw `label ${JSON.stringify(raw)} has an entry that is not a string or number`;
        ex.label = names as string[];
      } else {
        const n = labelName(raw);
        if (n === null) throw `label ${JSON.stringify(raw)} is not a string or number`;
        ex.label = n;
      }
      return ex;
    },

    headConfig(labels) {
      if (name === 'regression') return { num_labels: 1, problem_type: 'regression' };
      const id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
      const label2id = Object.fromEntries(labels.map((l, i) => [l, i]));
      return { id2label, label2id, problem_type: name === 'multi-label' ? 'multi_label_classification' : 'single_label_classification' };
    },

    async featurize(chunk, ctx) {
      const s = ctx.settings;
      const inputs = chunk.map((e) => (e.pair !== undefined ? ([e.text as string, e.pair] as [string, string]) : (e.text as string)));
      const enc = await ctx.tokenizer.encode(inputs, { truncation: 'longest_first', maxLength: s.maxLength });
      return chunk.map((e, i) => {
        const f: Feature = { ids: enc.inputIds[i] };
        if (enc.tokenTypeIds[i].some((t) => t !== 0)) f.tt = enc.tokenTypeIds[i];
        if (s.withLabels ?? true) {
          if (name === 'regression') f.label = e.label as number;
          else if (name === 'multi-label') {
            const hot = new Array(s.labels.length).fill(0);
            for (const l of e.label as string[]) hot[labelId(ctx.labelIds, l, ctx.file, e.line)] = 1;
            f.label = hot;
          } else f.label = labelId(ctx.labelIds, e.label as string, ctx.file, e.line);
        }
        return f;
      });
    },

    collate(features, padId) {
      const { batch, B } = encoderBatch(features, padId);
      if (features[0].label === undefined) return batch;
      if (name === 'multi-label') {
        const L = (features[0].label as number[]).length;
        batch.labels = tensor(Float32Array.from(features.flatMap((f) => f.label as number[])), { shape: [B, L] });
        batch.numItems = B * L;
      } else if (name === 'regression') {
        batch.labels = tensor(Float32Array.from(features.map((f) => f.label as number)), { shape: [B] });
      } else {
        batch.labels = i64(features.map((f) => f.label as number), [B]);
      }
      return batch;
    },

    gather(out, feats, into) {
      const l = (out.logits as Tensor).float().to('cpu');
      const flat = l.toNumbers();
      const L = l.size(-1);
      feats.forEach((f, r) => {
        (into.logits as number[][]).push(flat.slice(r * L, (r + 1) * L));
        into.labels.push((f.label as number | number[] | undefined) ?? null);
      });
    },

    metrics(p, labelNames) {
      if (name === 'sequence-classification') {
        const pred = (p.logits as number[][]).map(argmax);
        const gold = p.labels as number[];
        // macro and micro over the labels present in gold or predictions: scikit-learn's default
        const m: Record<string, number> = { accuracy: accuracy(pred, gold), f1_macro: f1(pred, gold, 'macro'), f1_micro: f1(pred, gold, 'micro'), matthews_correlation: matthews(pred, gold) };
        m.f1 = labelNames.length === 2 ? f1(pred, gold, 'binary') : m.f1_macro;
        return m;
      }
      if (name === 'multi-label') {
        const pred = (p.logits as number[][]).map((v) => v.map((x) => (x > 0 ? 1 : 0))); // sigmoid > 0.5
        const gold = p.labels as number[][];
        const flatP = pred.flat(), flatG = gold.flat();
        const L = labelNames.length;
        let macro = 0;
        for (let l = 0; l < L; l++) macro += f1(pred.map((r) => r[l]), gold.map((r) => r[l]), 'binary');
        const subset = pred.filter((r, i) => r.every((x, j) => x === gold[i][j])).length / pred.length;
        return { f1_micro: f1(flatP, flatG, 'binary'), f1_macro: macro / L, f1: f1(flatP, flatG, 'binary'), accuracy: subset };
      }
      const pred = (p.logits as number[][]).map((v) => v[0]);
      const gold = p.labels as number[];
      const mse = pred.reduce((s, x, i) => s + (x - gold[i]) ** 2, 0) / pred.length;
      return { pearson: pearson(pred, gold), spearmanr: spearman(pred, gold), mse };
    },

    *predictionRows(p: Predictions, _store, labels) {
      for (const logits of p.logits as number[][]) {
        if (name === 'regression') yield { label: logits[0], score: logits[0], logits };
        else if (name === 'multi-label') {
          const probs = logits.map((x) => 1 / (1 + Math.exp(-x)));
          yield { label: labels.filter((_, i) => probs[i] > 0.5), score: probs, logits };
        } else {
          const probs = softmax(logits);
          const b = probs.indexOf(Math.max(...probs));
          yield { label: labels[b] ?? b, score: probs[b], logits };
        }
      }
    },

    servedBy(head: HeadKind, pt: string | undefined) {
      if (head !== 'sequence-classification') return false;
      const served = pt === 'regression' ? 'regression' : pt === 'multi_label_classification' ? 'multi-label' : 'sequence-classification';
      // a head saved before its problem type was decided serves either classification
      return served === name || (served === 'sequence-classification' && pt === undefined && name === 'multi-label');
    },
  };
}

export const sequenceClassification = sequenceSpec('sequence-classification', 'one label per text (or text pair)', ['accuracy', 'f1', 'f1_macro', 'f1_micro', 'matthews_correlation']);
export const multiLabel = sequenceSpec('multi-label', 'any number of labels per text', ['accuracy', 'f1', 'f1_macro', 'f1_micro']);
export const regression = sequenceSpec('regression', 'a number per text', ['pearson', 'spearmanr', 'mse']);
