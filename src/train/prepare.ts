// From files to a model, tokenizer and feature stores for a task: what both the command and
// library users need before a Trainer.
import { buildFeatures, collectLabels, FeatureStore } from '../data/features';
import { Columns, Task } from '../data/tasks';
import { AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoModelForTokenClassification } from '../models/auto';
import { PreTrainedModel } from '../models/pretrained';
import { FromPretrainedOptions, readJson } from '../hub/pretrained';
import { resolveModelDir } from '../hub/hub';
import { PreTrainedTokenizer } from '../tokenize/tokenizer';
import * as path from 'path';

export const MAX_LENGTH_DEFAULT = 128;

/** The smaller of 128, the tokenizer's model_max_length and the model's position table. */
export function defaultMaxLength(tok: PreTrainedTokenizer, config: Record<string, unknown>): number {
  const pos = typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : Infinity;
  return Math.min(MAX_LENGTH_DEFAULT, tok.modelMaxLength ?? Infinity, pos);
}

/** Label names from the model config when it names real labels, else from the training data. */
export async function resolveLabels(task: Task, modelConfig: Record<string, unknown>, trainFile: string | null, columns: Columns, skipBadRows: boolean): Promise<string[]> {
  if (task === 'regression' || task === 'question-answering') return [];
  const id2label = modelConfig.id2label as Record<string, string> | undefined;
  const fromConfig = id2label
    ? Object.keys(id2label).sort((a, b) => Number(a) - Number(b)).map((k) => id2label[k])
    : null;
  const generic = !fromConfig || fromConfig.every((n, i) => n === `LABEL_${i}`);
  if (!trainFile) {
    if (!fromConfig) throw new Error('the model config has no id2label: cannot name the labels');
    return fromConfig;
  }
  const fromData = await collectLabels(trainFile, task, columns, skipBadRows);
  if (!generic) {
    const known = new Set(fromConfig!);
    const extra = fromData.filter((l) => !known.has(l));
    if (extra.length === 0) return fromConfig!; // a model trained on these labels keeps its ids
  }
  return fromData;
}

/** config.json overrides that make a head fit the task and labels. */
export function headConfig(task: Task, labels: string[]): Record<string, unknown> {
  if (task === 'regression') return { num_labels: 1, problem_type: 'regression' };
  if (task === 'question-answering') return { num_labels: 2 };
  const id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  const label2id = Object.fromEntries(labels.map((l, i) => [l, i]));
  const pt = task === 'multi-label' ? 'multi_label_classification' : task === 'sequence-classification' ? 'single_label_classification' : null;
  return { id2label, label2id, ...(pt ? { problem_type: pt } : {}) };
}

export async function loadTaskModel(task: Task, model: string, o: FromPretrainedOptions): Promise<PreTrainedModel> {
  if (task === 'token-classification') return AutoModelForTokenClassification.fromPretrained(model, o);
  if (task === 'question-answering') return AutoModelForQuestionAnswering.fromPretrained(model, o);
  return AutoModelForSequenceClassification.fromPretrained(model, o);
}

export async function modelConfig(model: string): Promise<{ dir: string; config: Record<string, unknown> }> {
  const dir = await resolveModelDir(model);
  return { dir, config: readJson(path.join(dir, 'config.json')) };
}

export async function features(
  file: string,
  tok: PreTrainedTokenizer,
  task: Task,
  o: { columns: Columns; maxLength: number; labels: string[]; docStride?: number; skipBadRows?: boolean; withLabels?: boolean; cacheDir?: string; onProgress?: (rows: number) => void },
): Promise<FeatureStore> {
  return buildFeatures(file, tok, { task, columns: o.columns, maxLength: o.maxLength, labels: o.labels, docStride: o.docStride, skipBadRows: o.skipBadRows, withLabels: o.withLabels }, { cacheDir: o.cacheDir, onProgress: o.onProgress });
}
