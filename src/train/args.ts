// The Trainer's arguments: one table of what each accepts, used by the Trainer for library
// users and by the command for its flags, so that a bad value is refused before work starts
// with the option's name and the allowed range (and a "did you mean" for unknown names).
import { TASKS, Task } from '../data/tasks';
import { checkKeys, didYouMean } from '../util/names';
import { SCHEDULES } from './schedule';
import type { TrainingArgs } from './trainer';

type Rule =
  | { kind: 'int' | 'number'; min?: number; max?: number; above?: number; below?: number }
  | { kind: 'choice'; choices: readonly string[] }
  | { kind: 'boolean' | 'string' | 'device' | 'task' | 'resume' | 'betas' | 'processGroup' };

export const ARG_RULES: Record<keyof TrainingArgs, Rule> = {
  outputDir: { kind: 'string' },
  task: { kind: 'task' },
  epochs: { kind: 'number', above: 0 },
  maxSteps: { kind: 'int', min: 1 },
  batchSize: { kind: 'int', min: 1 },
  evalBatchSize: { kind: 'int', min: 1 },
  lr: { kind: 'number', above: 0 },
  weightDecay: { kind: 'number', min: 0 },
  schedule: { kind: 'choice', choices: SCHEDULES },
  warmupRatio: { kind: 'number', min: 0, max: 1 },
  warmupSteps: { kind: 'int', min: 0 },
  gradAccum: { kind: 'int', min: 1 },
  maxGradNorm: { kind: 'number', min: 0 },
  optimizer: { kind: 'choice', choices: ['adamw', 'sgd'] },
  adamBetas: { kind: 'betas' },
  adamEps: { kind: 'number', above: 0 },
  momentum: { kind: 'number', min: 0, below: 1 },
  seed: { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER },
  device: { kind: 'device' },
  bf16: { kind: 'boolean' },
  fp16: { kind: 'boolean' },
  sampler: { kind: 'choice', choices: ['random', 'group-by-length', 'sequential'] },
  evalSteps: { kind: 'int', min: 1 },
  saveSteps: { kind: 'int', min: 1 },
  saveTotalLimit: { kind: 'int', min: 1 },
  loggingSteps: { kind: 'int', min: 1 },
  metricForBestModel: { kind: 'string' },
  greaterIsBetter: { kind: 'boolean' },
  earlyStoppingPatience: { kind: 'int', min: 1 },
  loadBestModelAtEnd: { kind: 'boolean' },
  skipNonfinite: { kind: 'boolean' },
  resume: { kind: 'resume' },
  overwriteOutputDir: { kind: 'boolean' },
  quiet: { kind: 'boolean' },
  mlmProbability: { kind: 'number', above: 0, below: 1 },
  processGroup: { kind: 'processGroup' },
  gradientCheckpointing: { kind: 'boolean' },
  shardOptimizer: { kind: 'boolean' },
};

/** transformers' TrainingArguments names and the fulltune option each corresponds to. */
export const TRANSFORMERS_NAMES: Record<string, keyof TrainingArgs> = {
  output_dir: 'outputDir',
  gradient_checkpointing: 'gradientCheckpointing',
  learning_rate: 'lr',
  num_train_epochs: 'epochs',
  max_steps: 'maxSteps',
  per_device_train_batch_size: 'batchSize',
  per_device_eval_batch_size: 'evalBatchSize',
  weight_decay: 'weightDecay',
  lr_scheduler_type: 'schedule',
  warmup_ratio: 'warmupRatio',
  warmup_steps: 'warmupSteps',
  gradient_accumulation_steps: 'gradAccum',
  max_grad_norm: 'maxGradNorm',
  adam_epsilon: 'adamEps',
  logging_steps: 'loggingSteps',
  eval_steps: 'evalSteps',
  save_steps: 'saveSteps',
  save_total_limit: 'saveTotalLimit',
  metric_for_best_model: 'metricForBestModel',
  greater_is_better: 'greaterIsBetter',
  load_best_model_at_end: 'loadBestModelAtEnd',
  resume_from_checkpoint: 'resume',
  overwrite_output_dir: 'overwriteOutputDir',
};

/** transformers' pipeline task names and the fulltune task each corresponds to. */
const TASK_ALIASES: Record<string, Task> = {
  'text-classification': 'sequence-classification',
  'sentiment-analysis': 'sequence-classification',
  'multi-label-classification': 'multi-label',
  ner: 'token-classification',
  'extractive-question-answering': 'question-answering',
};

/** Throws TypeError naming the task when it is not one of TASKS. */
export function checkTask(task: unknown, name = 'task'): asserts task is Task {
  if (typeof task === 'string' && (TASKS as readonly string[]).includes(task)) return;
  const s = String(task);
  const alias = TASK_ALIASES[s];
  const hint = alias ? ` (did you mean '${alias}'? fulltune's name for transformers' '${s}')` : didYouMean(s, TASKS);
  throw new TypeError(`${name}: unknown task ${JSON.stringify(task)}${hint}; tasks: ${TASKS.join(', ')}`);
}

function range(r: { min?: number; max?: number; above?: number; below?: number }): string {
  const parts: string[] = [];
  if (r.above !== undefined) parts.push(`> ${r.above}`);
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.below !== undefined) parts.push(`< ${r.below}`);
  if (r.max !== undefined && r.max !== Number.MAX_SAFE_INTEGER) parts.push(`<= ${r.max}`);
  return parts.join(' and ');
}

/**
 * Checks one value against its rule; throws RangeError (out of range) or TypeError (wrong type)
 * with `name` (an option key, or a flag such as --batch-size) in the message.
 */
export function checkArg(key: keyof TrainingArgs, v: unknown, name: string = key): void {
  if (v === undefined) return;
  const r = ARG_RULES[key];
  const got = JSON.stringify(v) ?? String(v);
  switch (r.kind) {
    case 'int':
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${name} must be a number, got ${got}`);
      if (r.kind === 'int' && !Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${got}`);
      const bad = (r.min !== undefined && v < r.min) || (r.max !== undefined && v > r.max) || (r.above !== undefined && v <= r.above) || (r.below !== undefined && v >= r.below);
      if (bad) throw new RangeError(`${name} must be ${range(r)}, got ${v}`);
      return;
    }
    case 'choice':
      if (typeof v !== 'string' || !r.choices.includes(v)) throw new TypeError(`${name} must be one of ${r.choices.join(', ')}, got ${got}${didYouMean(String(v), r.choices)}`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') throw new TypeError(`${name} must be true or false, got ${got}`);
      return;
    case 'string':
      if (typeof v !== 'string') throw new TypeError(`${name} must be a string, got ${got}`);
      return;
    case 'resume':
      if (typeof v !== 'boolean' && (typeof v !== 'string' || v === '')) throw new TypeError(`${name} must be true, false or a checkpoint directory, got ${got}`);
      return;
    case 'device':
      if (typeof v !== 'string' || !/^(cpu|cuda(:\d+)?)$/.test(v)) throw new TypeError(`${name} must be cpu, cuda or cuda:N, got ${got}`);
      return;
    case 'task':
      checkTask(v, name);
      return;
    case 'betas':
      if (!Array.isArray(v) || v.length !== 2 || !v.every((b) => typeof b === 'number' && b >= 0 && b < 1)) throw new RangeError(`${name} must be two numbers in [0, 1), got ${got}`);
      return;
    case 'processGroup': {
      const g = v as { rank?: unknown; worldSize?: unknown; allReduceGradients?: unknown };
      if (typeof v !== 'object' || v === null || typeof g.rank !== 'number' || typeof g.worldSize !== 'number' || typeof g.allReduceGradients !== 'function') {
        throw new TypeError(`${name} must be a ProcessGroup (ProcessGroup.init or ProcessGroup.fromEnv), got ${got}`);
      }
      return;
    }
  }
}

export interface ArgsContext {
  /** the metrics the task reports: metricForBestModel must be one of them */
  metricNames?: readonly string[];
  /** whether evaluation data is given: evalSteps, early stopping and the best-model options need it */
  hasEval?: boolean;
  /** how messages name an option: its key (the library, the default) or its flag (the command) */
  name?: (key: keyof TrainingArgs) => string;
  /** how messages name the evaluation data */
  evalName?: string;
}

/**
 * Validates a whole TrainingArgs object: unknown keys, each value, and the combinations. The one
 * check of both the Trainer and the command (which names flags through `name`).
 */
export function validateTrainingArgs(a: TrainingArgs, c: ArgsContext = {}): void {
  const name = c.name ?? ((k: keyof TrainingArgs) => k);
  const known = Object.keys(ARG_RULES);
  checkKeys('TrainingArgs', a, known, Object.fromEntries(Object.entries(TRANSFORMERS_NAMES)));
  for (const k of known as (keyof TrainingArgs)[]) checkArg(k, a[k], name(k));
  if (a.fp16 && a.bf16) throw new TypeError(`${name('fp16')} and ${name('bf16')} exclude each other`);
  if (a.fp16 && !(a.device ?? 'cpu').startsWith('cuda')) throw new TypeError(`${name('fp16')} needs a CUDA device (dynamic loss scaling); on the CPU use ${name('bf16')}`);
  if (a.resume && a.overwriteOutputDir) throw new TypeError(`${name('resume')} and ${name('overwriteOutputDir')} exclude each other`);
  if (a.metricForBestModel !== undefined && c.metricNames) checkMetric(a.metricForBestModel, c.metricNames, name('metricForBestModel'));
  if (c.hasEval === false) {
    for (const k of ['evalSteps', 'earlyStoppingPatience', 'metricForBestModel', 'loadBestModelAtEnd'] as const) {
      if (a[k] !== undefined && a[k] !== false) throw new TypeError(`${name(k)} needs ${c.evalName ?? 'evaluation data (eval)'}`);
    }
  }
}

/** Throws TypeError unless `metric` (with or without eval_) is one the task reports. */
export function checkMetric(metric: string, names: readonly string[], name: string): void {
  const m = metric.replace(/^eval_/, '');
  if (names.includes(m)) return;
  throw new TypeError(`${name}: the task reports no metric '${metric}'${didYouMean(m, names)}; metrics: ${names.join(', ')}`);
}
