// Masked language modelling on raw text, as transformers' run_mlm.py with
// DataCollatorForLanguageModeling: each document (a row's text; a paragraph of a .txt) is
// tokenised with the tokenizer's special tokens; documents are concatenated and cut into blocks of
// blockSize tokens (group_texts; the last, shorter block is kept and counted, not dropped), or kept
// one per example (split into blockSize pieces when longer). Which tokens are masked is drawn anew
// for every batch when it is collated: mlmProbability of the non-special tokens become targets, of
// which 80% are replaced by the mask token, 10% by a random token and 10% kept.
import { Feature } from '../features';
import { Example } from '../tasks';
import { CollateContext, defaultColumns, i64, str, TaskSpec } from './spec';

interface BlockState {
  ids: number[];
  special: number[];
}

export const maskedLM: TaskSpec = {
  name: 'masked-lm',
  head: 'masked-lm',
  description: 'masked-token prediction on raw text (BERT-style; --mlm-probability of the tokens, 0.15 by default)',
  hasClassLabels: false,
  packs: true,
  masksTokens: true,
  predictHint: 'masked-lm has no per-row predictions: use `fulltune eval` for loss and perplexity',
  metricNames: ['perplexity'],
  lowerIsBetter: ['perplexity'],
  resolveColumns: (c) => defaultColumns(c, { text: 'text', label: 'label' }),
  requiredColumns: (cols) => [cols.textColumn],
  toExample: (cols, row): Example => ({ line: row.line, text: str(row, cols.textColumn) }),
  headConfig: () => ({}),

  async featurize(chunk, ctx) {
    const s = ctx.settings;
    const block = s.blockSize ?? s.maxLength;
    const enc = await ctx.tokenizer.encode(chunk.map((e) => e.text as string));
    const out: Feature[] = [];
    const st = (ctx.state.blocks ??= { ids: [], special: [] }) as BlockState;
    enc.inputIds.forEach((ids, r) => {
      const special = enc.specialTokensMask[r];
      if (s.packing === false) {
        const note = 'documents split into several examples (longer than the block size)';
        if (ids.length > block) ctx.notes[note] = (ctx.notes[note] ?? 0) + 1;
        for (let i = 0; i < ids.length; i += block) out.push({ ids: ids.slice(i, i + block), special: special.slice(i, i + block) });
        return;
      }
      for (let i = 0; i < ids.length; i++) {
        st.ids.push(ids[i]);
        st.special.push(special[i]);
        if (st.ids.length === block) {
          out.push({ ids: st.ids, special: st.special });
          st.ids = [];
          st.special = [];
        }
      }
    });
    return out;
  },

  finish(ctx) {
    const st = ctx.state.blocks as BlockState | undefined;
    if (!st || st.ids.length === 0) return [];
    ctx.notes['tokens in the last, shorter block'] = st.ids.length;
    return [{ ids: st.ids, special: st.special }];
  },

  // the tokens that may be drawn as targets
  targets: (f) => (f.special ?? []).filter((x) => x === 0).length,

  collate(features, padId, c?: CollateContext) {
    if (!c || c.maskTokenId === null) throw new Error('masked-lm: collating needs the mask token, the vocabulary size and a random source (the Trainer provides them)');
    const B = features.length;
    const T = Math.max(...features.map((f) => f.ids.length));
    const ids = new Float64Array(B * T).fill(padId);
    const mask = new Float64Array(B * T);
    const labels = new Float64Array(B * T).fill(-100);
    let numItems = 0;
    features.forEach((f, b) => {
      const rand = c.randFor(b);
      f.ids.forEach((id, t) => {
        const k = b * T + t;
        ids[k] = id;
        mask[k] = 1;
        if (f.special?.[t] === 1 || rand() >= c.mlmProbability) return;
        labels[k] = id;
        numItems++;
        const r = rand();
        if (r < 0.8) ids[k] = c.maskTokenId!;
        else if (r < 0.9) ids[k] = Math.floor(rand() * c.vocabSize);
      });
    });
    return { inputIds: i64(ids, [B, T]), attentionMask: i64(mask, [B, T]), tokenTypeIds: null, labels: i64(labels, [B, T]), startPositions: null, endPositions: null, numItems };
  },

  // the loss is all evaluation needs: no per-token logits leave the device
  gather: () => undefined,
  metrics: (_p, _l, _s, loss) => ({ perplexity: Math.exp(loss) }),
  predictionRows() {
    throw new Error(maskedLM.predictHint);
  },
  servedBy: (head) => head === 'masked-lm',
};
