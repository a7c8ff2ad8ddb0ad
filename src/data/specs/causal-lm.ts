// Causal language modelling on raw text: each document (a row's text; a paragraph of a .txt)
// is tokenised with the tokenizer's special tokens and an EOS appended, then either packed into
// blocks of blockSize tokens (run_clm's group_texts, but padding-free: positions restart at each
// document and documents do not attend to each other, so packing changes speed, not the loss)
// or kept one document per example (split into blockSize pieces when longer, never cut).
import { Feature } from '../features';
import { Example } from '../tasks';
import { defaultColumns, i64, str, TaskSpec } from './spec';

interface PackState {
  ids: number[];
  pos: number[];
  labels: number[];
}

/** A document's tokens with EOS appended (unless the tokenizer's post-processor already ends it so). */
function withEos(ids: number[], eos: number | null): number[] {
  if (eos === null || ids[ids.length - 1] === eos) return ids;
  return [...ids, eos];
}

export const causalLM: TaskSpec = {
  name: 'causal-lm',
  head: 'causal-lm',
  description: 'next-token prediction on raw text (.txt paragraphs, or a text column)',
  hasClassLabels: false,
  packs: true,
  predictHint: 'causal-lm has no per-row predictions: use `fulltune generate` to continue text, or `fulltune eval` for loss and perplexity',
  metricNames: ['perplexity'],
  lowerIsBetter: ['perplexity'],
  resolveColumns: (c) => defaultColumns(c, { text: 'text', label: 'label' }),
  requiredColumns: (cols) => [cols.textColumn],
  toExample: (cols, row): Example => ({ line: row.line, text: str(row, cols.textColumn) }),
  headConfig: () => ({}),

  async featurize(chunk, ctx) {
    const s = ctx.settings;
    const block = s.blockSize ?? s.maxLength;
    const eos = ctx.tokenizer.eosTokenId;
    const enc = await ctx.tokenizer.encode(chunk.map((e) => e.text as string));
    const out: Feature[] = [];
    const st = (ctx.state.pack ??= { ids: [], pos: [], labels: [] }) as PackState;
    // documents end with EOS: generation must stop at it (the Trainer checks the model's stop tokens)
    if (eos !== null) {
      const ends = ((ctx.state.endTokens as number[] | undefined) ??= []);
      if (!ends.includes(eos)) ends.push(eos);
    }
    for (const ids0 of enc.inputIds) {
      const ids = withEos(ids0, eos);
      if (s.packing === false) {
        if (ids.length > block) ctx.notes['documents split into several examples (longer than the block size)'] = (ctx.notes['documents split into several examples (longer than the block size)'] ?? 0) + 1;
        for (let i = 0; i < ids.length; i += block) {
          const piece = ids.slice(i, i + block);
          out.push({ ids: piece, label: piece });
        }
        continue;
      }
      // a document's first token is not a target: nothing before it in its document predicts it
      let p = 0;
      for (let i = 0; i < ids.length; i++) {
        st.ids.push(ids[i]);
        st.pos.push(p++);
        st.labels.push(i === 0 ? -100 : ids[i]);
        if (st.ids.length === block) {
          out.push({ ids: st.ids, pos: st.pos, label: st.labels });
          st.ids = [];
          st.pos = [];
          st.labels = [];
          p = 0; // the rest of this document starts a new block at position 0
        }
      }
    }
    return out;
  },

  finish(ctx) {
    const st = ctx.state.pack as PackState | undefined;
    if (!st || st.ids.length === 0) return [];
    ctx.notes['tokens in the last, shorter block'] = st.ids.length;
    return [{ ids: st.ids, pos: st.pos, label: st.labels }];
  },

  // the first position predicts nothing (labels shift left)
  targets: (f) => ((f.label as number[] | undefined) ?? []).slice(1).filter((l) => l !== -100).length,

  collate(features, padId) {
    const B = features.length;
    const T = Math.max(...features.map((f) => f.ids.length));
    const ids = new Float64Array(B * T).fill(padId);
    const labels = new Float64Array(B * T).fill(-100);
    const packed = features[0].pos !== undefined;
    const pos = packed ? new Float64Array(B * T) : null;
    const mask = packed ? null : new Float64Array(B * T);
    let numItems = 0;
    features.forEach((f, b) => {
      const lab = (f.label as number[] | undefined) ?? [];
      for (let t = 0; t < T; t++) {
        const real = t < f.ids.length;
        if (real) {
          ids[b * T + t] = f.ids[t];
          if (t < lab.length) labels[b * T + t] = lab[t];
          if (t > 0 && t < lab.length && lab[t] !== -100) numItems++;
        }
        if (mask && real) mask[b * T + t] = 1;
        // padding of a packed batch is one more document of its own (positions from 0): no
        // attention mask is needed, and no real token attends to it
        if (pos) pos[b * T + t] = real ? f.pos![t] : t - f.ids.length;
      }
    });
    const withLabels = features[0].label !== undefined;
    return {
      inputIds: i64(ids, [B, T]),
      attentionMask: mask ? i64(mask, [B, T]) : null,
      positionIds: pos ? i64(pos, [B, T]) : null,
      tokenTypeIds: null,
      labels: withLabels ? i64(labels, [B, T]) : null,
      startPositions: null,
      endPositions: null,
      numItems,
    };
  },

  // the loss is all evaluation needs: no per-token logits leave the device
  gather: () => undefined,
  metrics: (_p, _l, _s, loss) => ({ perplexity: Math.exp(loss) }),
  predictionRows() {
    throw new Error(causalLM.predictHint);
  },
  servedBy: (head) => head === 'causal-lm',
};
