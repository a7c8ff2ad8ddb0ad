// From files to a model, tokenizer and feature stores for a task: what both the command and
// library users need before a Trainer.
import { DataSource } from '../data/dataset';
import { buildFeatures, collectLabels, FeatureStore } from '../data/features';
import { checkKeys } from '../util/names';
import { checkTask } from './args';
import { Columns, Task } from '../data/tasks';
import { AnyPreTrainedModel } from '../models/auto';
import { buildModel, findFamily } from '../models/registry';
import '../models/families'; // every family registers itself
import { taskSpec } from '../data/specs';
import { fromPretrained, FromPretrainedOptions, readJson } from '../hub/pretrained';
import { resolveModelDir } from '../hub/hub';
import { PreTrainedTokenizer } from '../tokenize/tokenizer';
import * as path from 'path';

export const MAX_LENGTH_DEFAULT = 128;

/** The smaller of 128, the tokenizer's model_max_length and the model's position table. */
export function defaultMaxLength(tok: PreTrainedTokenizer, config: Record<string, unknown>): number {
  const pos = maxPositions(config)?.value ?? Infinity;
  return Math.min(MAX_LENGTH_DEFAULT, tok.modelMaxLength ?? Infinity, pos);
}

/** The longest sequence a model's position table takes and the config field that says so (max_position_embeddings; GPT-2's n_positions), or null when unbounded. */
export function maxPositions(config: Record<string, unknown>): { value: number; field: string } | null {
  const own = findFamily(config)?.maxPositions;
  if (own) return own(config);
  for (const k of ['max_position_embeddings', 'n_positions']) if (typeof config[k] === 'number') return { value: config[k] as number, field: k };
  return null;
}

export interface ResolveLabelsOptions {
  task: Task;
  /** the model's config.json (its id2label) */
  config: Record<string, unknown>;
  /** training data: a file, a Dataset or an array of rows; null: the config's labels */
  data: DataSource | null;
  columns?: Columns;
  skipBadRows?: boolean;
}

/**
 * Label names in id order: the model config's when it names real labels that cover the
 * training data, else the data's (sorted; numerically when all are integers). Empty for
 * regression and question answering.
 */
export async function resolveLabels(o: ResolveLabelsOptions): Promise<string[]>;
export async function resolveLabels(task: Task, modelConfig: Record<string, unknown>, trainFile: DataSource | null, columns: Columns, skipBadRows: boolean): Promise<string[]>;
export async function resolveLabels(...a: unknown[]): Promise<string[]> {
  const o: ResolveLabelsOptions =
    a.length === 1 ? (a[0] as ResolveLabelsOptions) : { task: a[0] as Task, config: a[1] as Record<string, unknown>, data: a[2] as DataSource | null, columns: a[3] as Columns, skipBadRows: a[4] as boolean };
  checkKeys('resolveLabels options', o, ['task', 'config', 'data', 'columns', 'skipBadRows']);
  checkTask(o.task);
  const { task, config: modelConfig } = o;
  if (!taskSpec(task).hasClassLabels) return [];
  const id2label = modelConfig.id2label as Record<string, string> | undefined;
  const fromConfig = id2label
    ? Object.keys(id2label).sort((x, y) => Number(x) - Number(y)).map((k) => id2label[k])
    : null;
  const generic = !fromConfig || fromConfig.every((n, i) => n === `LABEL_${i}`);
  if (o.data === null || o.data === undefined) {
    if (!fromConfig) throw new Error('the model config has no id2label: cannot name the labels');
    return fromConfig;
  }
  const fromData = await collectLabels(o.data, task, o.columns ?? {}, !!o.skipBadRows);
  if (!generic) {
    const known = new Set(fromConfig!);
    const extra = fromData.filter((l) => !known.has(l));
    if (extra.length === 0) return fromConfig!; // a model trained on these labels keeps its ids
  }
  return fromData;
}

/** config.json overrides that make a head fit the task and labels. */
export function headConfig(task: Task, labels: string[]): Record<string, unknown> {
  return taskSpec(task).headConfig(labels);
}

/** The model class that serves a task (its spec's head) in the family config.json names. */
export async function loadTaskModel(task: Task, model: string, o: FromPretrainedOptions): Promise<AnyPreTrainedModel> {
  const head = taskSpec(task).head;
  return fromPretrained(model, (raw, where) => buildModel(raw, where, head) as AnyPreTrainedModel, o);
}

export async function modelConfig(model: string): Promise<{ dir: string; config: Record<string, unknown> }> {
  const dir = await resolveModelDir(model);
  return { dir, config: readJson(path.join(dir, 'config.json')) };
}

export interface PrepareFeaturesOptions {
  /** a data file (.csv, .tsv, .jsonl, .parquet), a Dataset, or an array of row objects */
  data: DataSource;
  tokenizer: PreTrainedTokenizer;
  task: Task;
  /** label names in id order (resolveLabels) */
  labels: string[];
  maxLength: number;
  columns?: Columns;
  /** QA: tokens shared by the windows of a long context */
  docStride?: number;
  skipBadRows?: boolean;
  /** false for data without labels (predict) */
  withLabels?: boolean;
  /** causal-lm: tokens per packed block (default maxLength) */
  blockSize?: number;
  /** causal-lm: pack documents into blocks (default true) */
  packing?: boolean;
  /** sft: variables the chat template sees besides the messages, as apply_chat_template(**kwargs) ({ enable_thinking: false }) */
  chatTemplateKwargs?: Record<string, unknown>;
  cacheDir?: string;
  onProgress?: (rows: number) => void;
}

const PREPARE_KEYS = ['data', 'tokenizer', 'task', 'labels', 'maxLength', 'columns', 'docStride', 'skipBadRows', 'withLabels', 'blockSize', 'packing', 'chatTemplateKwargs', 'cacheDir', 'onProgress'];
type LegacyFeatureOptions = Omit<PrepareFeaturesOptions, 'data' | 'tokenizer' | 'task' | 'columns'> & { columns: Columns };

/** Tokenised features of a dataset for a task, cached on disk (see buildFeatures). */
export async function features(o: PrepareFeaturesOptions): Promise<FeatureStore>;
export async function features(data: DataSource, tok: PreTrainedTokenizer, task: Task, o: LegacyFeatureOptions): Promise<FeatureStore>;
export async function features(...a: unknown[]): Promise<FeatureStore> {
  const o: PrepareFeaturesOptions =
    a.length === 1 ? (a[0] as PrepareFeaturesOptions) : { ...(a[3] as LegacyFeatureOptions), data: a[0] as DataSource, tokenizer: a[1] as PreTrainedTokenizer, task: a[2] as Task };
  checkKeys('prepareFeatures options', o, PREPARE_KEYS);
  checkTask(o.task);
  if (!Number.isInteger(o.maxLength) || o.maxLength < 1) throw new RangeError(`prepareFeatures: maxLength must be an integer >= 1, got ${o.maxLength}`);
  const k = o.chatTemplateKwargs;
  if (k !== undefined && (k === null || typeof k !== 'object' || Array.isArray(k))) throw new TypeError(`prepareFeatures: chatTemplateKwargs must be an object of template variables, got ${JSON.stringify(k)}`);
  return buildFeatures(
    o.data,
    o.tokenizer,
    { task: o.task, columns: o.columns ?? {}, maxLength: o.maxLength, labels: o.labels, docStride: o.docStride, skipBadRows: o.skipBadRows, withLabels: o.withLabels, blockSize: o.blockSize, packing: o.packing, chatTemplateKwargs: o.chatTemplateKwargs },
    { cacheDir: o.cacheDir, onProgress: o.onProgress },
  );
}
