// Extractive question answering: a span of the context, found over overlapping windows of long
// contexts, served by a *ForQuestionAnswering head, scored with SQuAD's exact match and F1.
import { Tensor } from '../../tensor/tensor';
import { squad } from '../../train/metrics';
import { Feature, FeatureStore } from '../features';
import { Example } from '../tasks';
import { defaultColumns, encoderBatch, i64, need, Predictions, str, TaskSpec } from './spec';

export const questionAnswering: TaskSpec = {
  name: 'question-answering',
  head: 'question-answering',
  description: 'the answer span of a question in a context',
  hasClassLabels: false,
  alwaysPairs: true,
  windows: true,
  metricNames: ['exact_match', 'f1'],
  resolveColumns: (c) => defaultColumns(c, { text: 'question', pair: 'context', label: 'answers' }),
  requiredColumns: (cols, withLabels) => [cols.textColumn, cols.textPairColumn!, ...(withLabels ? [cols.labelColumn] : [])],

  toExample(cols, row, withLabels): Example {
    const ex: Example = { line: row.line, text: str(row, cols.textColumn), pair: str(row, cols.textPairColumn!), id: String(row.values.id ?? row.line) };
    if (!withLabels) return ex;
    let a = need(row, cols.labelColumn) as unknown;
    if (typeof a === 'string') {
      try {
        a = JSON.parse(a);
      } catch {
        throw `column '${cols.labelColumn}' is not JSON`;
      }
    }
    const ans = a as { text?: unknown; answer_start?: unknown };
    if (!ans || !Array.isArray(ans.text) || !Array.isArray(ans.answer_start) || ans.text.length !== ans.answer_start.length) {
      throw `column '${cols.labelColumn}' must be {"text": [...], "answer_start": [...]} of equal lengths`;
    }
    const ctx = ex.pair!;
    ans.answer_start.forEach((s, i) => {
      const t = (ans.text as unknown[])[i];
      if (typeof t !== 'string' || !Number.isInteger(s)) throw `answer ${i} must be a string with an integer answer_start`;
      if (ctx.slice(s as number, (s as number) + t.length) !== t) throw `answer ${i} '${t}' is not at character ${s} of the context`;
    });
    ex.answers = { text: ans.text as string[], answerStart: ans.answer_start as number[] };
    return ex;
  },

  headConfig: () => ({ num_labels: 2 }),

  async featurize(chunk, ctx) {
    const s = ctx.settings;
    const withLabels = s.withLabels ?? true;
    const stride = s.docStride ?? Math.min(128, Math.floor(s.maxLength / 4));
    const enc = await ctx.tokenizer.encode(chunk.map((e) => [e.text as string, e.pair!] as [string, string]), {
      truncation: 'only_second',
      maxLength: s.maxLength,
      stride,
      returnOverflowing: true,
    });
    const base = ctx.qa.length;
    chunk.forEach((e) => ctx.qa.push({ id: e.id!, context: e.pair!, answers: e.answers }));
    return enc.inputIds.map((ids, r) => {
      const exIdx = enc.overflowToSample[r];
      const e = chunk[exIdx];
      const seq = enc.sequenceIds[r];
      const offs = enc.offsets[r];
      const f: Feature = { ids, tt: enc.tokenTypeIds[r], ex: base + exIdx, offsets: offs.map((o, k) => (seq[k] === 1 ? o : null)) };
      if (withLabels && e.answers && e.answers.text.length > 0) {
        const startChar = e.answers.answerStart[0];
        const endChar = startChar + e.answers.text[0].length;
        let ctxStart = 0;
        while (seq[ctxStart] !== 1) ctxStart++;
        let ctxEnd = seq.length - 1;
        while (seq[ctxEnd] !== 1) ctxEnd--;
        if (offs[ctxStart][0] > startChar || offs[ctxEnd][1] < endChar) {
          f.start = 0;
          f.end = 0; // the answer is not in this window: point at [CLS], as Hugging Face's recipe
        } else {
          let a = ctxStart;
          while (a <= ctxEnd && offs[a][0] <= startChar) a++;
          let b = ctxEnd;
          while (b >= ctxStart && offs[b][1] >= endChar) b--;
          f.start = a - 1;
          f.end = b + 1;
        }
      } else if (withLabels) {
        f.start = 0;
        f.end = 0;
      }
      return f;
    });
  },

  collate(features, padId) {
    const { batch, B } = encoderBatch(features, padId);
    if (features[0].start === undefined) return batch;
    batch.startPositions = i64(features.map((f) => f.start!), [B]);
    batch.endPositions = i64(features.map((f) => f.end!), [B]);
    return batch;
  },

  gather(out, feats, into) {
    const s = (out.startLogits as Tensor).float().to('cpu');
    const e = (out.endLogits as Tensor).float().to('cpu');
    const T = s.size(1);
    const sa = s.toNumbers(), ea = e.toNumbers();
    feats.forEach((f, r) => {
      (into.logits as number[][][]).push(Array.from({ length: f.ids.length }, (_, t) => [sa[r * T + t], ea[r * T + t]]));
      into.labels.push(f.start !== undefined ? [f.start, f.end!] : null);
    });
  },

  metrics(p, _labels, store) {
    const answers = qaAnswers(p, store!);
    const qa = store!.meta.qa!;
    return squad(answers.map((a) => a.text), qa.map((e) => (e.answers?.text.length ? e.answers.text : [''])));
  },

  *predictionRows(p, store) {
    for (const a of qaAnswers(p, store)) yield { id: a.id, answer: a.text, score: a.score };
  },

  servedBy: (head) => head === 'question-answering',
};

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
