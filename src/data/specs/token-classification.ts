// Token classification (NER and the like): a tag per word; the first sub-token of each word
// carries it, served by a *ForTokenClassification head, scored with seqeval.
import { Tensor } from '../../tensor/tensor';
import { seqeval } from '../../train/metrics';
import { Feature } from '../features';
import { Example } from '../tasks';
import { argmax, defaultColumns, encoderBatch, i64, labelId, labelName, listOf, need, softmax, TaskSpec } from './spec';

export const tokenClassification: TaskSpec = {
  name: 'token-classification',
  head: 'token-classification',
  description: 'a tag per word (named entities and the like)',
  hasClassLabels: true,
  wordLists: true,
  metricNames: ['precision', 'recall', 'f1', 'accuracy'],
  resolveColumns: (c) => defaultColumns(c, { text: 'text', label: 'ner_tags' }),
  requiredColumns: (cols, withLabels) => [cols.tokensColumn, ...(withLabels ? [cols.labelColumn] : [])],

  toExample(cols, row, withLabels): Example {
    const words = listOf(need(row, cols.tokensColumn));
    if (!words || !words.every((w) => typeof w === 'string')) throw `column '${cols.tokensColumn}' must be a list of strings`;
    const ex: Example = { line: row.line, text: words as string[] };
    if (withLabels) {
      const tags = listOf(need(row, cols.labelColumn));
      if (!tags) throw `column '${cols.labelColumn}' must be a list of tags`;
      if (tags.length !== words.length) throw `${words.length} words but ${tags.length} tags`;
      const names = tags.map(labelName);
      if (names.some((n) => n === null)) throw `column '${cols.labelColumn}' has a tag that is not a string or number`;
      ex.label = names as string[];
    }
    return ex;
  },

  headConfig(labels) {
    return { id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])), label2id: Object.fromEntries(labels.map((l, i) => [l, i])) };
  },

  async featurize(chunk, ctx) {
    const enc = await ctx.tokenizer.encode(chunk.map((e) => e.text as string[]), { isSplitIntoWords: true, truncation: 'longest_first', maxLength: ctx.settings.maxLength });
    return chunk.map((e, i) => {
      const f: Feature = { ids: enc.inputIds[i], words: enc.wordIds[i], tokens: e.text as string[] };
      if (ctx.settings.withLabels ?? true) {
        const tags = e.label as string[];
        let prev: number | null = null;
        // the first sub-token of each word carries its tag; the rest and special tokens -100
        f.label = enc.wordIds[i].map((w) => {
          const first = w !== null && w !== prev;
          prev = w;
          return first ? labelId(ctx.labelIds, tags[w!], ctx.file, e.line) : -100;
        });
      }
      return f;
    });
  },

  collate(features, padId) {
    const { batch, B, T } = encoderBatch(features, padId);
    if (features[0].label === undefined) return batch;
    const labels = new Float64Array(B * T).fill(-100);
    features.forEach((f, b) => (f.label as number[]).forEach((v, t) => (labels[b * T + t] = v)));
    batch.labels = i64(labels, [B, T]);
    batch.numItems = labels.reduce((n, v) => n + (v !== -100 ? 1 : 0), 0);
    return batch;
  },

  gather(out, feats, into) {
    const l = (out.logits as Tensor).float().to('cpu');
    const flat = l.toNumbers();
    const [, T, L] = l.shape;
    feats.forEach((f, r) => {
      (into.logits as number[][][]).push(Array.from({ length: f.ids.length }, (_, t) => flat.slice((r * T + t) * L, (r * T + t + 1) * L)));
      into.labels.push((f.label as number[] | undefined) ?? null);
    });
  },

  metrics(p, labelNames) {
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
  },

  // one entry per input word, aligned by index: the prediction of the word's first sub-token,
  // null for a word the model did not see (cut by --max-length, or no tokens at all)
  *predictionRows(p, store, labels) {
    for (const [i, tokens] of (p.logits as number[][][]).entries()) {
      const f = store.get(i);
      const words = f.tokens ?? [];
      const out = { tokens: words, labels: words.map(() => null as string | null), scores: words.map(() => null as number | null), unseen: 0 };
      const done = new Set<number>();
      tokens.forEach((v, t) => {
        const w = f.words?.[t] ?? null;
        if (w === null || done.has(w)) return;
        done.add(w);
        const pr = softmax(v);
        const b = pr.indexOf(Math.max(...pr));
        out.labels[w] = labels[b];
        out.scores[w] = pr[b];
      });
      out.unseen = words.length - done.size;
      yield out;
    }
  },

  servedBy: (head) => head === 'token-classification',
};
