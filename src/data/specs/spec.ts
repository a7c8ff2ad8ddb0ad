// A task is one object: how rows become examples and features, how features collate into a
// batch, which model head serves it, what evaluation copies of the outputs, which metrics it
// reports and what a prediction row looks like. The Trainer, the feature cache and the command
// look tasks up here (index.ts); none of them names a task.
import { HeadKind } from '../../models/registry';
import { tensor } from '../../tensor/create';
import { Tensor } from '../../tensor/tensor';
import { PreTrainedTokenizer } from '../../tokenize/tokenizer';
import { Batch } from '../collate';
import { Feature, FeatureSettings, FeatureStore, QAExample } from '../features';
import { RawRow } from '../readers';
import { Columns, Example } from '../tasks';
import { DataError } from '../readers';

export type ResolvedColumns = Required<Omit<Columns, 'textPairColumn'>> & { textPairColumn?: string };

/** What evaluation keeps of the model's outputs, per feature, in order. */
export interface Predictions {
  /** per feature: logits (classification/regression), per-token logits (token classification), or [start, end] logits (QA) */
  logits: number[][] | number[][][];
  /** per feature: the label id(s) it was evaluated against (null when the data has no labels) */
  labels: (number | number[] | null)[];
}

export interface FeaturizeContext {
  tokenizer: PreTrainedTokenizer;
  settings: FeatureSettings;
  labelIds: Map<string, number>;
  file: string;
  /** QA: the examples answers are read back from */
  qa: QAExample[];
  /** state a task keeps across chunks of one file (packing carries tokens over) */
  state: Record<string, unknown>;
  /** counts worth reporting (truncated rows, ...) */
  notes: Record<string, number>;
}

/** What collating needs beyond the features for tasks that draw their targets per batch (masked-lm). */
export interface CollateContext {
  /** the tokenizer's mask token (null: it has none) */
  maskTokenId: number | null;
  /** random replacement tokens are drawn from [0, vocabSize) */
  vocabSize: number;
  /** the share of (non-special) tokens drawn as targets */
  mlmProbability: number;
  /** a uniform [0, 1) generator for each row of the batch, seeded by the caller (by the feature, not the batch it falls in) */
  randFor: (row: number) => () => number;
}

export interface TaskSpec {
  readonly name: string;
  /** the model head that serves this task */
  readonly head: HeadKind;
  /** one-line description for --help */
  readonly description: string;
  resolveColumns(c: Columns): ResolvedColumns;
  /** columns every row must have (checked on the first row: a property of the file) */
  requiredColumns(cols: ResolvedColumns, withLabels: boolean): string[];
  /** one row to one example; throws a string describing the problem */
  toExample(cols: ResolvedColumns, row: RawRow, withLabels: boolean): Example;
  /** whether examples carry class names that make up the label set */
  readonly hasClassLabels: boolean;
  /** rows hold lists of words (the command's --text-column names that column) */
  readonly wordLists?: boolean;
  /** every example is a text pair (question and context) */
  readonly alwaysPairs?: boolean;
  /** long inputs become overlapping windows (--doc-stride applies) */
  readonly windows?: boolean;
  /** documents are packed into blocks (--block-size and --no-packing apply) */
  readonly packs?: boolean;
  /** why `fulltune predict` does not apply, and what to use instead (tasks without per-row predictions) */
  readonly predictHint?: string;
  /** config.json overrides that make a head fit the task and labels */
  headConfig(labels: string[]): Record<string, unknown>;
  featurize(chunk: Example[], ctx: FeaturizeContext): Promise<Feature[]>;
  /** features left over at the end of a file (packing's last block) */
  finish?(ctx: FeaturizeContext): Feature[];
  /** the loss targets of one feature, for tasks whose labels are per token (the store refuses data with none) */
  targets?(f: Feature): number;
  /** the targets are drawn when batches are collated (collate needs a CollateContext) */
  readonly masksTokens?: boolean;
  /** pads features into a batch; numItems counts the targets the loss is normalised by */
  collate(features: Feature[], padId: number, ctx?: CollateContext): Batch;
  /** copies what metrics need of one evaluation batch to JS (nothing for language modelling) */
  gather(out: Record<string, Tensor | null>, feats: Feature[], into: Predictions): void;
  /** metrics evaluation reports besides loss (without eval_), what metricForBestModel may name */
  readonly metricNames: readonly string[];
  /** metrics where lower is better (besides loss) */
  readonly lowerIsBetter?: readonly string[];
  metrics(p: Predictions, labelNames: string[], store: FeatureStore | undefined, loss: number): Record<string, number>;
  /** one JSON-able object per input row for `fulltune predict` */
  predictionRows(p: Predictions, store: FeatureStore, labels: string[]): Iterable<unknown>;
  /** whether a saved head of this kind (config.json's problem_type) can serve this task */
  servedBy(head: HeadKind, problemType: string | undefined): boolean;
}

export const i64 = (a: ArrayLike<number>, shape: number[]): Tensor => tensor(Float64Array.from(a), { shape, dtype: 'int64' });

export function defaultColumns(c: Columns, d: { text: string; pair?: string; label: string }): ResolvedColumns {
  return { textColumn: c.textColumn ?? d.text, textPairColumn: c.textPairColumn ?? d.pair, labelColumn: c.labelColumn ?? d.label, tokensColumn: c.tokensColumn ?? 'tokens' };
}

export function labelName(v: unknown): string | null {
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  return null;
}

export function listOf(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s.startsWith('[')) {
      try {
        const a = JSON.parse(s);
        return Array.isArray(a) ? a : null;
      } catch {
        return null;
      }
    }
    return s === '' ? [] : s.split(/[,;|]/).map((x) => x.trim()).filter((x) => x !== '');
  }
  return null;
}

/** A column's value; throws (a string) naming the column when the row lacks it. */
export function need(row: RawRow, c: string): unknown {
  if (!(c in row.values)) throw `missing column '${c}' (columns: ${Object.keys(row.values).join(', ')})`;
  return row.values[c];
}

export function str(row: RawRow, c: string): string {
  const x = need(row, c);
  if (typeof x !== 'string') throw `column '${c}' is ${x === null ? 'null' : typeof x}, expected a string`;
  return x;
}

export function labelId(labelIds: Map<string, number>, l: string, file: string, line: number): number {
  const id = labelIds.get(l);
  if (id === undefined) {
    const known = [...labelIds.keys()];
    throw new DataError(file, line, `label '${l}' was not seen in training (known: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''})`);
  }
  return id;
}

export const argmax = (v: number[]): number => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);

export function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** ids padded with padId into (B, T), and the 0/1 mask of real tokens. */
export function padIds(features: Feature[], padId: number, padToMultipleOf = 1): { ids: Float64Array; mask: Float64Array; B: number; T: number } {
  const B = features.length;
  let T = Math.max(...features.map((f) => f.ids.length));
  T = Math.ceil(T / padToMultipleOf) * padToMultipleOf;
  const ids = new Float64Array(B * T).fill(padId);
  const mask = new Float64Array(B * T);
  features.forEach((f, b) =>
    f.ids.forEach((id, t) => {
      ids[b * T + t] = id;
      mask[b * T + t] = 1;
    }),
  );
  return { ids, mask, B, T };
}

/** The batch fields every encoder task shares: ids, mask and token types. */
export function encoderBatch(features: Feature[], padId: number): { batch: Batch; B: number; T: number } {
  const { ids, mask, B, T } = padIds(features, padId);
  const anyTT = features.some((f) => f.tt);
  let tt: Float64Array | null = null;
  if (anyTT) {
    tt = new Float64Array(B * T);
    features.forEach((f, b) => f.tt?.forEach((v, t) => (tt![b * T + t] = v)));
  }
  return {
    batch: { inputIds: i64(ids, [B, T]), attentionMask: i64(mask, [B, T]), tokenTypeIds: tt ? i64(tt, [B, T]) : null, labels: null, startPositions: null, endPositions: null, numItems: B },
    B,
    T,
  };
}
