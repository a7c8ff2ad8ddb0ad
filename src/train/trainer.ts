// The training loop: AdamW or SGD with a schedule, gradient accumulation normalised over all
// targets of the accumulated batch, clipping, mixed precision, evaluation, best-checkpoint
// tracking, early stopping, and checkpoints that resume exactly.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Batch, SamplerKind, collate, dataLoaderDraw, epochOrder, prng } from '../data/collate';
import type { CollateContext } from '../data/specs';
import { Feature, FeatureStore } from '../data/features';
import { Task } from '../data/tasks';
import { PreTrainedModel } from '../models/pretrained';
import { addStopTokens } from '../models/generate';
import { Normalization } from '../nn/norm';
import { CheckpointSession } from '../nn/checkpoint';
import { autocast, GradScaler } from '../tensor/amp';
import { noGrad } from '../tensor/autograd';
import { Device } from '../tensor/dtype';
import { dispose, keep, scope, tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { PreTrainedTokenizer } from '../tokenize/tokenizer';
import { checkKeys } from '../util/names';
import { withFile } from '../util/fs';
import { checkTask, validateTrainingArgs } from './args';
import type { GradientReducer, ProcessGroup } from '../distributed/process-group';
import { checkpointDir, cpuRngStateBase64, loadCheckpointState, pruneCheckpoints, readCheckpointSettings, RunSettings, saveCheckpoint, TrainerState } from './checkpoint';
import { claimOutputDir, startOver } from './output';
import { full, manualSeed, returnFreedMemory, rngState, setCpuCacheLimit, setRngState, tensor } from '../tensor/create';
import { cat, stack } from '../tensor/functional';
import { computeMetrics, lowerIsBetter, metricNames, Predictions } from './evaluate';
import { taskSpec } from '../data/specs';
import { clipGradNormTensor } from './grad';
import { AdamW, Optimizer, ParamGroup, SGD } from './optimizer';
import { optimizerStateBytes, ShardedOptimizer } from '../distributed/sharded-optimizer';
import { LogEntry, Progress } from './progress';
import { ScheduleKind, lrMultiplier, warmupSteps } from './schedule';

/**
 * Training arguments. Names are fulltune's (transformers' snake_case names are refused with the
 * fulltune name to use). Defaults differ from transformers' TrainingArguments on purpose, to
 * suit fine-tuning encoders: lr 2e-5 (transformers 5e-5), batch size 32 (8), weight decay 0.01
 * (0), warmup ratio 0.1 (0); the rest match.
 */
export interface TrainingArgs {
  outputDir: string;
  task: Task;
  epochs?: number; // 3
  /** Stop after this many optimizer steps (overrides epochs). */
  maxSteps?: number;
  batchSize?: number; // 32 (per device)
  evalBatchSize?: number; // batchSize
  lr?: number; // 2e-5
  weightDecay?: number; // 0.01
  schedule?: ScheduleKind; // 'linear'
  warmupRatio?: number; // 0.1
  warmupSteps?: number;
  gradAccum?: number; // 1
  maxGradNorm?: number; // 1.0 (0: no clipping)
  optimizer?: 'adamw' | 'sgd'; // 'adamw'
  adamBetas?: [number, number]; // [0.9, 0.999]
  adamEps?: number; // 1e-8
  momentum?: number; // 0.9 for SGD
  seed?: number; // 42
  device?: Device; // 'cpu'
  bf16?: boolean;
  fp16?: boolean;
  sampler?: SamplerKind; // 'random'
  /** Evaluate every N optimizer steps (and always at each epoch's end). */
  evalSteps?: number;
  /** Save a checkpoint every N optimizer steps (and at the end). */
  saveSteps?: number;
  saveTotalLimit?: number;
  loggingSteps?: number; // 10
  /** Metric that picks the best checkpoint, without the eval_ prefix; default loss, or the task's main metric. */
  metricForBestModel?: string;
  greaterIsBetter?: boolean;
  earlyStoppingPatience?: number;
  /** Restore the best checkpoint's weights at the end (default: when early stopping is on). */
  loadBestModelAtEnd?: boolean;
  /** A non-finite loss skips its step instead of stopping the run. */
  skipNonfinite?: boolean;
  /** true: the latest checkpoint under outputDir/checkpoints; or a checkpoint directory. */
  resume?: boolean | string;
  /** Start over in an output folder that holds an earlier run (its files are removed first). */
  overwriteOutputDir?: boolean;
  quiet?: boolean;
  /** masked-lm: the share of tokens drawn as targets in each batch (DataCollatorForLanguageModeling's mlm_probability); 0.15 */
  mlmProbability?: number;
  /**
   * Data parallel over this group's processes (DistributedDataParallel): each rank trains on its
   * shard of every global batch of batchSize x worldSize, gradients are summed over the ranks
   * and normalised by the targets of all of them, and rank 0 alone writes the output folder.
   */
  processGroup?: ProcessGroup;
  /**
   * Recompute each transformer layer's activations in the backward pass instead of keeping them
   * (transformers' gradient_checkpointing): less memory for about one more forward pass; the
   * same gradients.
   */
  gradientCheckpointing?: boolean;
  /**
   * ZeRO stage 1 over the process group: each rank keeps and updates the optimizer state of
   * 1/N of the parameters, then the updated parameters are all-gathered (the same weights as
   * without it). Needs a processGroup of at least 2 processes.
   */
  shardOptimizer?: boolean;
}

export interface Callbacks {
  onStepEnd?: (s: { step: number; loss: number; lr: number }) => void | Promise<void>;
  onEvaluate?: (metrics: Record<string, number>, step: number) => void | Promise<void>;
  onSave?: (checkpointDir: string, step: number) => void | Promise<void>;
}

export interface TrainerOptions {
  model: PreTrainedModel;
  tokenizer?: PreTrainedTokenizer;
  train?: FeatureStore;
  eval?: FeatureStore;
  /** label names in id order (classification and token tasks) */
  labels: string[];
  args: TrainingArgs;
  callbacks?: Callbacks;
}

/** train() stopped early on requestStop() (a signal): a checkpoint of the last step was saved. */
export class TrainingInterrupted extends Error {
  constructor(
    readonly reason: string,
    readonly step: number,
    readonly checkpoint: string,
  ) {
    super(`stopped by ${reason} at step ${step}; checkpoint saved: ${checkpoint}`);
    this.name = 'TrainingInterrupted';
  }
}

class EvaluationInterrupted extends Error {}

export class NonFiniteLossError extends Error {
  constructor(step: number, loss: number) {
    super(`the loss is ${loss} at step ${step}; lower the learning rate, or pass --skip-nonfinite to skip such steps`);
    this.name = 'NonFiniteLossError';
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyModel = PreTrainedModel & { forward(x: any): any };

/** How long ranks wait for rank 0 to write a checkpoint (seconds): saving a large model takes longer than a step's collective timeout. */
const LONG_WAIT = 1800;

/** How epochs are ordered (recorded in checkpoints: a run does not resume into another order). */
const DATA_ORDER = "transformers Trainer's (torch.randperm, the data loader's draw per epoch)";

/** One 32-bit seed from several integers (FNV-1a over their decimal forms). */
function seedOf(parts: number[]): number {
  let h = 0x811c9dc5;
  for (const c of parts.join(',')) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

export class Trainer {
  readonly model: AnyModel;
  /**
   * Tokens the training targets end with (a chat template's <|im_end|>, the tokenizer's EOS)
   * that were not stop tokens of the model: added to its generation_config.json eos_token_id,
   * so that the trained model stops where it learned to.
   */
  readonly addedStopTokens: number[];
  readonly args: Required<Pick<TrainingArgs, 'epochs' | 'batchSize' | 'lr' | 'weightDecay' | 'schedule' | 'gradAccum' | 'maxGradNorm' | 'seed' | 'device' | 'sampler' | 'loggingSteps' | 'optimizer'>> & TrainingArgs;
  readonly log: LogEntry[] = [];
  private readonly opts: TrainerOptions;
  /** Told of each evaluation batch (done, total): train() points it at its progress line. */
  onEvalBatch: ((batches: number, total: number) => void) | null = null;
  private stopReason: string | null = null;
  /** masked-lm: what collating draws targets with, besides each feature's generator (fixed for the run) */
  private readonly masking: Omit<CollateContext, 'randFor'> | null = null;
  private inTraining = false;
  /** a stop request some rank of a group saw (at a step's all-reduce or in a sharded evaluation): all stop */
  private groupStop = false;
  /** the gradient all-reduce overlapped with the backward pass of a data-parallel run (freed when train() ends) */
  private reducer: GradientReducer | null = null;
  /**
   * Steps whose loss, skip flag and gradient norm are still where they were computed (the step
   * does not wait for the device); read in one transfer by the training loop, freed when train() ends.
   */
  private unread: { step: number; loss: Tensor; skipped: Tensor; gradNorm: Tensor | null }[] = [];

  constructor(o: TrainerOptions) {
    checkKeys('Trainer options', o, ['model', 'tokenizer', 'train', 'eval', 'labels', 'args', 'callbacks']);
    if (!o.args || typeof o.args !== 'object') throw new TypeError('Trainer: args (TrainingArgs) is required');
    checkTask(o.args.task, 'TrainingArgs.task');
    validateTrainingArgs(o.args, { metricNames: metricNames(o.args.task), hasEval: !!o.eval });
    for (const [name, st] of [['train', o.train], ['eval', o.eval]] as const) {
      if (st && st.meta.task !== undefined && st.meta.task !== o.args.task) throw new TypeError(`Trainer: the ${name} features were made for task '${st.meta.task}', not '${o.args.task}'`);
    }
    if (o.args.shardOptimizer && !(o.args.processGroup && o.args.processGroup.worldSize > 1)) {
      throw new TypeError('TrainingArgs.shardOptimizer shards the optimizer state over several processes: it needs a processGroup of at least 2 (launch with --nproc-per-node or torchrun)');
    }
    this.opts = o;
    this.model = o.model as AnyModel;
    this.addedStopTokens = addStopTokens(this.model, o.train?.meta.endTokens ?? []);
    const a = o.args;
    this.args = {
      ...a,
      epochs: a.epochs ?? 3,
      batchSize: a.batchSize ?? 32,
      lr: a.lr ?? 2e-5,
      weightDecay: a.weightDecay ?? 0.01,
      schedule: a.schedule ?? 'linear',
      gradAccum: a.gradAccum ?? 1,
      maxGradNorm: a.maxGradNorm ?? 1.0,
      seed: a.seed ?? 42,
      device: a.device ?? 'cpu',
      sampler: a.sampler ?? 'random',
      loggingSteps: a.loggingSteps ?? 10,
      optimizer: a.optimizer ?? 'adamw',
    };
    if (taskSpec(a.task).masksTokens) {
      const maskTokenId = o.tokenizer?.maskTokenId ?? null;
      if (maskTokenId === null) throw new TypeError(`Trainer: --task ${a.task} needs a tokenizer with a mask token (tokenizer_config.json's mask_token)${o.tokenizer ? '' : ': pass tokenizer'}`);
      const vocab = this.model.config.vocab_size;
      this.masking = {
        maskTokenId,
        // random replacements come from the tokenizer's vocabulary, within the model's embedding
        vocabSize: Math.min(o.tokenizer!.vocabSize, typeof vocab === 'number' ? vocab : Infinity),
        mlmProbability: a.mlmProbability ?? 0.15,
      };
    }
  }

  /**
   * Asks a running train() to stop at the next step boundary (or between evaluation batches):
   * it saves a checkpoint there and rejects with TrainingInterrupted. For SIGINT/SIGTERM handlers.
   */
  requestStop(reason: string): void {
    this.stopReason = reason;
  }

  /** Features with a token id the model's embedding does not have (the largest is recorded when they are built). */
  private checkVocabulary(store: FeatureStore): void {
    const vocab = this.model.config.vocab_size;
    if (typeof vocab === 'number' && (store.meta.maxTokenId ?? -1) >= vocab) {
      throw new Error(`token id ${store.meta.maxTokenId} is outside the model's vocabulary (vocab_size ${vocab}): the tokenizer has tokens the model's embedding does not (does the tokenizer belong to this model?)`);
    }
  }

  /** The process group when training data-parallel (2 processes or more); null for one. */
  private get group(): ProcessGroup | null {
    const g = this.args.processGroup;
    return g && g.worldSize > 1 ? g : null;
  }

  /** Parameter groups as transformers makes them: no weight decay on biases and normalisation (LayerNorm, RMSNorm) weights. */
  private paramGroups(): { params: Tensor[]; weightDecay: number }[] {
    const noDecay = new Set<Tensor>();
    for (const [, m] of this.model.namedModules()) if (m instanceof Normalization) for (const p of m.parameters()) noDecay.add(p);
    const decay: Tensor[] = [];
    const rest: Tensor[] = [];
    for (const [name, p] of this.model.namedParameters()) (name.endsWith('bias') || noDecay.has(p) ? rest : decay).push(p);
    return [
      { params: decay, weightDecay: this.args.weightDecay },
      { params: rest, weightDecay: 0 },
    ].filter((g) => g.params.length > 0);
  }

  private makeOptimizer(pg: ProcessGroup | null): Optimizer {
    const make = (groups: ParamGroup[]): Optimizer => {
      if (this.args.optimizer === 'sgd') return new SGD(groups, { lr: this.args.lr, momentum: this.args.momentum ?? 0.9 });
      return new AdamW(groups, { lr: this.args.lr, betas: this.args.adamBetas, eps: this.args.adamEps ?? 1e-8 });
    };
    if (this.args.shardOptimizer && pg) return new ShardedOptimizer(this.paramGroups(), pg, make, this.args.lr);
    return make(this.paramGroups());
  }

  /**
   * The model on a batch; with targets in the batch its loss is summed over them (not averaged):
   * the caller divides by the targets of the whole accumulated step, so that accumulation equals
   * one big batch. The model computes its own loss; the Trainer knows no task's loss.
   */
  private forward(b: Batch): Record<string, Tensor | null> {
    const inputs: Record<string, unknown> = { inputIds: b.inputIds, lossReduction: 'sum' };
    for (const k of ['attentionMask', 'tokenTypeIds', 'positionIds', 'labels', 'startPositions', 'endPositions'] as const) if (b[k]) inputs[k] = b[k];
    // a text pair's segment ids mean nothing to models without token types (transformers' Llama tokenizers do not return them)
    if (!this.model.acceptsTokenTypeIds) delete inputs.tokenTypeIds;
    return this.precision(() => this.model.forward(inputs));
  }

  /** f under the run's autocast (--bf16, --fp16), if any. */
  private precision<T>(f: () => T): T {
    const dev = this.args.device.startsWith('cuda') ? 'cuda' : 'cpu';
    if (this.args.bf16) return autocast(dev, 'bfloat16', f);
    if (this.args.fp16) return autocast('cuda', 'float16', f);
    return f();
  }

  private lossSum(out: Record<string, Tensor | null>): Tensor {
    if (!out.loss) throw new Error(`${this.model.architecture} returned no loss for a batch with targets`);
    return out.loss;
  }

  /**
   * Pads features into a batch on the device. For tasks that draw their targets when collating
   * (masked-lm), each feature's draws are seeded by the seed, `epoch` (-1: evaluation) and the
   * feature's index: the same feature gets the same masks in an epoch whatever the batch size or
   * accumulation, on a resumed run too, and evaluation's are the same at every evaluation.
   */
  private batch(features: Feature[], epoch = -1, indices: number[] = []): Batch {
    const tok = this.opts.tokenizer;
    // the config's pad id when it has one: decoders' classification heads find each row's last real token by it
    const cfgPad = this.model.config.pad_token_id;
    const ctx: CollateContext | undefined = this.masking ? { ...this.masking, randFor: (row) => prng(seedOf([this.args.seed, epoch, indices[row] ?? row])) } : undefined;
    const b = collate(features, this.args.task, typeof cfgPad === 'number' ? cfgPad : (tok?.padTokenId ?? 0), ctx);
    if (this.args.device === 'cpu') return b;
    const mv = (t: Tensor | null) => (t ? t.to(this.args.device) : null);
    return { ...b, inputIds: mv(b.inputIds)!, attentionMask: mv(b.attentionMask), tokenTypeIds: mv(b.tokenTypeIds), positionIds: mv(b.positionIds ?? null), labels: mv(b.labels), startPositions: mv(b.startPositions), endPositions: mv(b.endPositions) };
  }

  private mainMetric(): { name: string; greater: boolean } {
    if (this.args.metricForBestModel) {
      const name = this.args.metricForBestModel.replace(/^eval_/, '');
      return { name, greater: this.args.greaterIsBetter ?? !lowerIsBetter(this.args.task, name) };
    }
    return { name: 'loss', greater: false };
  }

  /** Loss and metrics on a dataset (eval mode, no gradients). Keys without the eval_ prefix. */
  async evaluate(store?: FeatureStore): Promise<Record<string, number>> {
    const ds = store ?? this.opts.eval;
    if (!ds) throw new Error('evaluate(): no evaluation data');
    noTargets(ds, 'evaluation');
    const t0 = Date.now();
    const { metrics } = await this.predict(ds);
    const runtime = (Date.now() - t0) / 1000;
    return { ...(metrics ?? {}), runtime, samples_per_second: ds.length / runtime };
  }

  /** Outputs for every row of a dataset, and its metrics when it has labels (keys without eval_). */
  async predict(store?: FeatureStore): Promise<Predictions & { metrics: Record<string, number> | null }> {
    const ds = store ?? this.opts.eval;
    if (!ds) throw new Error('predict(): no data');
    const p = await this.predictSharded(ds);
    const loss = p.lossSum / p.lossItems;
    const metrics = p.lossItems > 0 ? { loss, ...computeMetrics(this.args.task, p, this.opts.labels, ds, loss) } : null;
    return { logits: p.logits, labels: p.labels, metrics };
  }

  private async predictSharded(ds: FeatureStore): Promise<Predictions & { lossSum: number; lossItems: number }> {
    // a pass of a PyTorch data loader draws its workers' base seed, as the Trainer's evaluation
    // does: the dropout masks after an evaluation stay the Trainer's. An interrupted evaluation
    // is run again on resume, so it gives its draw back.
    const rng = rngState();
    dataLoaderDraw();
    try {
      return await this.predictShards(ds);
    } catch (e) {
      if (e instanceof EvaluationInterrupted) setRngState(rng);
      throw e;
    }
  }

  /**
   * predictRaw over a process group: each rank runs a contiguous share of the features and the
   * shares are gathered in rank order (so in dataset order); alone, predictRaw itself.
   */
  private async predictShards(ds: FeatureStore): Promise<Predictions & { lossSum: number; lossItems: number }> {
    const pg = this.group;
    if (!pg) return this.predictRaw(ds);
    const per = Math.ceil(ds.length / pg.worldSize);
    const mine = await this.predictRaw(ds, [Math.min(ds.length, pg.rank * per), Math.min(ds.length, (pg.rank + 1) * per)]);
    // a stop request seen by one rank only must not leave the others in the gather
    const parts = pg.allGatherObject({ ...mine, stopped: this.stopReason !== null && this.inTraining });
    if (parts.some((q) => q.stopped)) {
      // every rank stops at this step, whichever of them was asked
      this.groupStop = true;
      throw new EvaluationInterrupted();
    }
    const all: Predictions & { lossSum: number; lossItems: number } = { logits: [], labels: [], lossSum: 0, lossItems: 0 };
    for (const q of parts) {
      for (const l of q.logits) (all.logits as unknown[]).push(l);
      for (const l of q.labels) all.labels.push(l);
      all.lossSum += q.lossSum;
      all.lossItems += q.lossItems;
    }
    return all;
  }

  /** Raw outputs for every feature of a dataset (or of the range [start, end)), in order. */
  async predictRaw(ds: FeatureStore, range: [number, number] = [0, ds.length]): Promise<Predictions & { lossSum: number; lossItems: number }> {
    this.checkVocabulary(ds);
    const wasTraining = this.model.training;
    this.model.eval();
    const bs = this.args.evalBatchSize ?? this.args.batchSize;
    const out: Predictions & { lossSum: number; lossItems: number } = { logits: [], labels: [], lossSum: 0, lossItems: 0 };
    const [start, end] = range;
    const batches = Math.ceil((end - start) / bs);
    // one process group member alone must not leave the others waiting: stop requests are decided together (predictSharded)
    const alone = this.group === null;
    try {
      for (let i = start; i < end; i += bs) {
        this.onEvalBatch?.((i - start) / bs, batches);
        const idx = Array.from({ length: Math.min(bs, end - i) }, (_, k) => i + k);
        const feats = idx.map((j) => ds.get(j));
        tidy(() =>
          noGrad(() => {
            const b = this.batch(feats, -1, idx);
            const o = this.forward(b);
            if (b.labels || b.startPositions) {
              out.lossSum += this.lossSum(o).item();
              out.lossItems += b.numItems;
            }
            taskSpec(this.args.task).gather(o, feats, out);
          }),
        );
        await new Promise((r) => setImmediate(r)); // let timers and signals through between batches
        if (alone && this.stopReason !== null && this.inTraining) throw new EvaluationInterrupted();
      }
      this.onEvalBatch?.(batches, batches);
    } finally {
      if (wasTraining) this.model.train();
    }
    return out;
  }

  /** Trains; returns the final metrics (eval_-prefixed when there is evaluation data). */
  async train(): Promise<{ metrics: Record<string, number>; state: TrainerState }> {
    const a = this.args;
    const train = this.opts.train;
    if (!train) throw new Error('train(): no training data');
    const out = a.outputDir;
    if (!out) throw new TypeError('TrainingArgs.outputDir is required for train()');
    noTargets(train, 'training');
    this.checkVocabulary(train);
    if (this.opts.eval) noTargets(this.opts.eval, 'validation');
    // rank 0 alone owns the output folder
    const main = (this.group?.rank ?? 0) === 0;
    const release = main ? claimOutputDir(out, { resume: !!a.resume, overwrite: !!a.overwriteOutputDir }) : () => undefined;
    this.inTraining = true;
    // a run that recomputes activations to save memory gives freed memory back at once: the
    // large-block cache and glibc's heap would otherwise hold on to what checkpointing frees
    // (the cache's limit is restored at the end)
    if (a.gradientCheckpointing) returnFreedMemory();
    try {
      return await this.trainLoop(train, out);
    } finally {
      dispose(this.unread);
      this.unread = [];
      this.reducer?.free();
      this.reducer = null;
      if (a.gradientCheckpointing) setCpuCacheLimit(null);
      this.inTraining = false;
      release();
    }
  }

  /**
   * The order of the current epoch (every rank's). One process draws it as transformers'
   * Trainer does, so that the data order and the dropout masks after it are the Trainer's for
   * the same seed: an epoch that starts here takes the data loader's draw first, and
   * group-by-length draws its permutation from the default generator then (a run resumed within
   * the epoch, from the state recorded at its start). Ranks are seeded apart, so a group's
   * group-by-length permutation comes from a generator seeded with seed + epoch on every rank.
   */
  private epochIndices(state: TrainerState, n: number, lengths: ArrayLike<number>): number[] {
    const a = this.args;
    const W = this.group?.worldSize ?? 1;
    const grouped = a.sampler === 'group-by-length';
    if (state.batchInEpoch === 0) {
      dataLoaderDraw();
      state.epochRng = grouped && W === 1 ? cpuRngStateBase64() : undefined;
    }
    let generator: number | Buffer | undefined;
    if (grouped && W > 1) generator = a.seed + state.epoch;
    else if (grouped && state.batchInEpoch > 0) {
      if (state.epochRng === undefined) throw new Error(`cannot resume within epoch ${state.epoch}: the checkpoint does not record the generator state its group-by-length order was drawn from`);
      generator = Buffer.from(state.epochRng, 'base64');
    }
    return epochOrder(a.sampler, n, a.seed, state.epoch, a.batchSize * a.gradAccum * W, lengths, generator);
  }

  /**
   * What decides the result from a checkpoint on: a resumed run must have the same, or it would
   * not continue the run it resumes. Left out: where and how it writes and logs, and the device.
   */
  private settings(train: FeatureStore, total: number, warmup: number): RunSettings {
    const a = this.args;
    const s: RunSettings = {
      task: a.task,
      'training data (file, tokenizer, max length, columns, labels)': train.meta.key,
      'training rows': train.length,
      processes: a.processGroup?.worldSize ?? 1,
      'validation data': this.opts.eval?.meta.key ?? 'none',
      'batch size': a.batchSize,
      'gradient accumulation': a.gradAccum,
      seed: a.seed,
      sampler: a.sampler,
      'data order': DATA_ORDER,
      'total optimizer steps (epochs, max steps)': total,
      'warmup steps (warmup ratio, warmup steps)': warmup,
      optimizer: a.optimizer,
      'learning rate': a.lr,
      schedule: a.schedule,
      'weight decay': a.weightDecay,
      'max grad norm': a.maxGradNorm,
      precision: a.bf16 ? 'bf16' : a.fp16 ? 'fp16' : 'fp32',
      'weights dtype': this.model.parameters()[0]?.dtype ?? 'float32',
      'evaluation steps': a.evalSteps ?? 'epoch ends',
      'metric for best model': this.mainMetric().name,
      'early stopping patience': a.earlyStoppingPatience ?? 'none',
    };
    if (a.optimizer === 'adamw') s['adam betas and eps'] = JSON.stringify([a.adamBetas ?? [0.9, 0.999], a.adamEps ?? 1e-8]);
    else s.momentum = a.momentum ?? 0.9;
    return s;
  }

  private async trainLoop(train: FeatureStore, out: string): Promise<{ metrics: Record<string, number>; state: TrainerState }> {
    const a = this.args;
    checkTrainingMemory(this.model, a.processGroup?.localWorldSize ?? 1);
    const pg = this.group;
    this.groupStop = false;
    const W = pg?.worldSize ?? 1;
    const rank = pg?.rank ?? 0;
    const main = rank === 0;
    // as transformers' Trainer (set_seed): dropout and anything random from here on is seeded;
    // a resumed run restores the generator's state from its checkpoint below. Each rank of a
    // group draws its own dropout masks (rank 0 as a single process would).
    manualSeed(rank === 0 ? a.seed : seedOf([a.seed, rank]));
    // a resume with nothing to resume from fails before anything is created in the folder
    const resumeDir = a.resume ? (typeof a.resume === 'string' ? a.resume : latestCheckpoint(out)) : null;
    if (a.resume && !resumeDir) throw new Error(`--resume: no checkpoint under ${path.join(out, 'checkpoints')}`);
    if (main) {
      startOver(out, !!a.overwriteOutputDir && !a.resume);
      withFile(path.join(out, 'checkpoints'), 'create the checkpoints folder', () => fs.mkdirSync(path.join(out, 'checkpoints'), { recursive: true }));
    }
    const n = train.length;
    // DistributedSampler: the epoch's order padded (from its start) to a multiple of the ranks;
    // rank r takes every W-th index from r, so that a global batch of batchSize x W is the one
    // a single process with that batch size would take
    const perRank = Math.ceil(n / W);
    const nBatches = Math.ceil(perRank / a.batchSize);
    const stepsPerEpoch = Math.ceil(nBatches / a.gradAccum);
    const total = a.maxSteps ?? Math.max(1, Math.ceil(a.epochs * stepsPerEpoch)); // as transformers
    const warmup = warmupSteps(total, { warmupRatio: a.warmupRatio ?? (a.warmupSteps === undefined ? 0.1 : 0), warmupSteps: a.warmupSteps });
    const opt = this.makeOptimizer(pg);
    const baseLrs = opt.lr;
    const scaler = a.fp16 ? new GradScaler(a.device) : null;
    const params = this.model.parameters();
    const best = this.mainMetric();
    const settings = this.settings(train, total, warmup);
    let state: TrainerState = { globalStep: 0, epoch: 0, batchInEpoch: 0, bestMetric: null, bestCheckpoint: null, patience: 0, totalFlos: 0, logHistory: [], settings };

    if (a.resume) {
      const dir = resumeDir!;
      const saved = readCheckpointSettings(dir);
      if (saved === null) throw new Error(`${dir}: the checkpoint does not record the settings it was made with (an older fulltune); cannot check that resuming is exact`);
      // settings recorded only by later versions: an older checkpoint had their value of then
      const before: RunSettings = { 'weights dtype': 'float32', processes: 1, 'data order': "fulltune's own shuffle (fulltune 0.1)" };
      const was = (k: string) => saved[k] ?? before[k];
      const changed = Object.keys(settings).filter((k) => JSON.stringify(was(k)) !== JSON.stringify(settings[k]));
      if (changed.length) {
        throw new Error(`cannot resume from ${dir}: ${changed.map((k) => `${k} was ${JSON.stringify(was(k))}, now ${JSON.stringify(settings[k])}`).join('; ')}. Resume with the settings of the original run, or start over with --overwrite-output`);
      }
      state = loadCheckpointState(dir, this.model, opt, scaler, rank);
      state.settings = settings;
      this.log.push(...state.logHistory);
    }
    // every rank starts from rank 0's weights (heads initialised apart, on ranks seeded apart);
    // the wait for the slowest rank to get here (loading, rank 0 clearing the folder) is long
    if (pg) {
      pg.barrier({ timeoutSeconds: LONG_WAIT });
      noGrad(() => pg.broadcast(this.model.parameters(), 0));
      // the gradient all-reduce runs during the last micro-batch's backward pass; with gradient
      // checkpointing the backward is several passes (a tied weight is accumulated in two of
      // them), so its gradients are all-reduced after it instead
      if (!a.gradientCheckpointing) this.reducer = pg.gradientReducer(params);
    }
    const logFile = main ? path.join(out, 'log.jsonl') : null;
    // on resume the log restarts from the checkpoint's history: entries of steps that will be
    // run again after it (the killed run's tail) must not appear twice
    if (logFile) withFile(logFile, 'write', () => fs.writeFileSync(logFile, this.log.map((e) => JSON.stringify(e) + '\n').join('')));
    const progress = new Progress(logFile, total, process.stderr, !!a.quiet || !main, { stepsPerEpoch, startStep: state.globalStep, evaluation: this.opts.eval ? { evalSteps: a.evalSteps } : undefined });
    this.onEvalBatch = (b, t) => progress.evalTick(b, t);
    if (a.resume) progress.message(`resuming from step ${state.globalStep} (epoch ${state.epoch}, batch ${state.batchInEpoch})`);
    this.model.train();
    const t0 = Date.now();
    const pending = !!state.pendingEvaluation;
    let samples = 0;
    let stepsRun = 0;
    let lossTotal = 0;
    let window = { loss: 0, steps: 0, gradNorm: 0 };
    let lastLoss = NaN;
    /**
     * Reads the steps not read yet (up to step upTo): a non-finite loss fails the run naming its
     * step (its update was not applied), or is reported and skipped with --skip-nonfinite; the
     * others feed the logging window (fp16 overflow steps, which the scaler skipped, do not).
     */
    const readSteps = (upTo = Infinity) => {
      const steps = this.unread.filter((r) => r.step <= upTo);
      if (steps.length === 0) return;
      this.unread = this.unread.filter((r) => r.step > upTo);
      let v: Float64Array;
      try {
        v = tidy(() => {
          const per = steps.flatMap((r) => [r.loss, r.skipped, r.gradNorm ?? full([], NaN, { device: r.loss.device })].map((t) => t.to({ dtype: 'float64' })));
          return stack(per).to({ device: 'cpu' }).toArray() as Float64Array; // (3 x steps)
        });
      } finally {
        dispose(steps);
      }
      steps.forEach((r, k) => {
        const [loss, skipped, gradNorm] = [v[3 * k], v[3 * k + 1], v[3 * k + 2]];
        lastLoss = loss;
        if (!Number.isFinite(loss)) {
          if (!a.skipNonfinite) {
            opt.dispose();
            throw new NonFiniteLossError(r.step, loss);
          }
          progress.message(`step ${r.step}: loss is ${loss}; step skipped (--skip-nonfinite)`);
          return;
        }
        if (skipped) return;
        lossTotal += loss;
        window.loss += loss;
        window.steps++;
        if (Number.isFinite(gradNorm)) window.gradNorm += gradNorm;
      });
    };
    let stop = false;

    // restoring the best checkpoint at the end needs every improving evaluation saved
    const loadBest = a.loadBestModelAtEnd ?? a.earlyStoppingPatience !== undefined;
    const lastEval: { step: number; metrics: Record<string, number> | null } = { step: -1, metrics: null };
    /** Evaluates, logs, tracks the best metric and patience; true when this evaluation is the best so far. */
    const evaluateNow = async (): Promise<boolean> => {
      readSteps();
      let m: Record<string, number>;
      try {
        m = await this.evaluate();
      } catch (e) {
        if (!(e instanceof EvaluationInterrupted)) throw e;
        state.pendingEvaluation = true; // the checkpoint saved next says so: a resumed run evaluates first
        return false;
      }
      state.pendingEvaluation = false;
      lastEval.step = state.globalStep;
      lastEval.metrics = m;
      const entry: LogEntry = { step: state.globalStep, epoch: state.globalStep / stepsPerEpoch };
      for (const [k, v] of Object.entries(m)) entry[`eval_${k}`] = v;
      this.log.push(entry);
      progress.log(entry);
      await this.opts.callbacks?.onEvaluate?.(m, state.globalStep);
      const v = m[best.name];
      if (v !== undefined && Number.isFinite(v)) {
        const better = state.bestMetric === null || (best.greater ? v > state.bestMetric : v < state.bestMetric);
        if (better) {
          state.bestMetric = v;
          state.patience = 0;
          return true;
        }
        state.patience++;
        if (a.earlyStoppingPatience !== undefined && state.patience >= a.earlyStoppingPatience) {
          progress.message(`early stopping: eval_${best.name} has not improved for ${state.patience} evaluations`);
          stop = true;
        }
      }
      return false;
    };
    let savedAt = -1;
    const bestDir = () => (state.bestCheckpoint ? path.join(out, 'checkpoints', path.basename(state.bestCheckpoint)) : null);
    const save = async (improved: boolean) => {
      readSteps();
      state.logHistory = this.log;
      // by name, inside this output folder: the run may be resumed from another working directory
      if (improved) state.bestCheckpoint = `checkpoint-${state.globalStep}`;
      // each rank's generator, so that a resumed group draws on as this one would have
      if (pg) state.rngByRank = pg.allGatherObject(cpuRngStateBase64());
      let dir = checkpointDir(out, state.globalStep);
      // a sharded optimizer's state is gathered from every rank, and saved whole
      const full = opt instanceof ShardedOptimizer ? opt.gatherState() : undefined;
      let failure: unknown = null;
      try {
        if (main) {
          dir = saveCheckpoint(out, state, this.model, opt, scaler, this.opts.tokenizer, full);
          pruneCheckpoints(out, a.saveTotalLimit, bestDir());
          await this.opts.callbacks?.onSave?.(dir, state.globalStep);
        }
      } catch (e) {
        failure = e;
      } finally {
        if (full) for (const st of full.values()) for (const t of Object.values(st)) t.dispose();
      }
      // the others go on once the checkpoint is whole (the best one may be loaded from it), or
      // all stop together when rank 0 could not write it
      if (pg) {
        const [ok] = pg.allReduceNumbers([failure === null ? 1 : 0], 'min', { timeoutSeconds: LONG_WAIT });
        if (failure === null && ok === 0) throw new Error(`rank ${rank} of ${W}: rank 0 could not save the checkpoint of step ${state.globalStep} (its error is in rank 0's output)`);
      }
      if (failure !== null) throw failure;
      savedAt = state.globalStep;
      return dir;
    };
    // a stop asked of some ranks only is decided by all together (this.groupStop)
    const interruptIfAsked = async () => {
      if (pg ? !this.groupStop : this.stopReason === null) return;
      progress.done();
      const dir = savedAt === state.globalStep ? checkpointDir(out, state.globalStep) : await save(false);
      opt.dispose();
      scaler?.dispose();
      throw new TrainingInterrupted(this.stopReason ?? 'a stop request to another rank', state.globalStep, dir);
    };

    if (pending && this.opts.eval) {
      // the evaluation a stop interrupted, at the step it belongs to, before any further step
      if ((await evaluateNow()) && (a.saveSteps || loadBest)) await save(true);
    }
    while (state.globalStep < total && !stop) {
      // a stop here is saved before the epoch's draws, which the resumed run then makes
      await interruptIfAsked();
      const global = this.epochIndices(state, n, train.lengths);
      // rank r's share: every W-th of the order from r, cycled past its end as DistributedSampler pads
      const order = W === 1 ? global : Array.from({ length: perRank }, (_, i) => global[(i * W + rank) % n]);
      const batches: number[][] = [];
      for (let i = 0; i < order.length; i += a.batchSize) batches.push(order.slice(i, i + a.batchSize));
      while (state.batchInEpoch < batches.length && state.globalStep < total && !stop) {
        await interruptIfAsked();
        const micro = batches.slice(state.batchInEpoch, state.batchInEpoch + a.gradAccum);
        const lr = baseLrs.map((b) => b * lrMultiplier(a.schedule, state.globalStep, warmup, total));
        opt.setLr(lr);
        // the step is decided on the device: its loss, whether to skip it (a non-finite loss, an
        // fp16 overflow) and the gradient norm stay there until readSteps reads them
        const record = await scope(async () => {
          const collated = micro.map((idx) => this.batch(idx.map((i) => train.get(i)), state.epoch, idx));
          const localItems = collated.reduce((s, b) => s + b.numItems, 0);
          // normalised by the targets of every rank's micro-batches: N ranks x batch B train as one process with N x B
          const numItems = pg ? pg.allReduceNumbers([localItems])[0] : localItems;
          let sum: Tensor | null = null; // () float64: summed as the losses were read before, in order
          collated.forEach((b, i) => {
            // the gradients are all-reduced during the last micro-batch's backward pass only
            // (DDP's no_sync before it)
            const reducer = i === collated.length - 1 ? this.reducer : null;
            const loss = tidy(() => {
              // gradient checkpointing: layers rerun in the backward pass, under the same autocast
              const session = a.gradientCheckpointing ? new CheckpointSession((f) => this.precision(f)) : null;
              try {
                const out = session ? session.record(() => this.forward(b)) : this.forward(b);
                const loss = this.lossSum(out).div(Math.max(1, numItems));
                const scaled = scaler ? scaler.scaleLoss(loss) : loss;
                if (session) session.backward(scaled);
                else if (reducer) reducer.backward(scaled);
                else scaled.backward();
                return loss.detach().to({ dtype: 'float64' });
              } finally {
                session?.dispose();
              }
            });
            sum = sum === null ? loss : sum.add(loss);
          });
          let stepLoss = sum!;
          if (pg) {
            // with gradient checkpointing, one all-reduce after the last micro-batch; then the loss
            // and any stop request together, so that every rank takes the same decisions (the
            // stop flag is read here: a group reads one value per step)
            if (!this.reducer) pg.allReduceGradients(params);
            const both = cat([stepLoss.reshape([1]).to({ device: 'cpu' }), tensor([this.stopReason !== null ? 1 : 0], { dtype: 'float64' })]);
            pg.allReduce([both]);
            this.groupStop = both.select(0, 1).item() > 0;
            stepLoss = both.select(0, 0).to({ device: stepLoss.device });
          }
          // a step whose loss is not finite is not taken (the optimizer's skipIf); reported at the
          // next read, as an error unless --skip-nonfinite
          let skip = stepLoss.isfinite().logicalNot().to({ dtype: 'float32', device: params[0].device });
          const overflow = scaler ? scaler.unscaleOnDevice(params).clone() : null;
          if (overflow) skip = skip.maximum(overflow);
          const gradNorm = a.maxGradNorm > 0 ? clipGradNormTensor(params, a.maxGradNorm) : null;
          opt.step(skip);
          scaler?.update();
          return { loss: keep(stepLoss), skipped: keep(skip), gradNorm: gradNorm ? keep(gradNorm) : null };
        });
        opt.zeroGrad();
        state.globalStep++;
        state.batchInEpoch += micro.length;
        samples += micro.reduce((s, m) => s + m.length, 0) * W;
        stepsRun++;
        this.unread.push({ step: state.globalStep, ...record });
        // logging, a step callback, or the step's evaluation and saving read this step; otherwise
        // the steps before it are read, one step behind: the device finished them while this one
        // was being queued, so nothing waits, and a non-finite loss stops the run a step later
        const logging = state.globalStep % a.loggingSteps === 0 || state.globalStep === total;
        const evaluating = !!(a.evalSteps && this.opts.eval && state.globalStep % a.evalSteps === 0);
        const saving = !!(a.saveSteps && state.globalStep % a.saveSteps === 0);
        if (logging || evaluating || saving || this.opts.callbacks?.onStepEnd) readSteps();
        else readSteps(state.globalStep - 1);
        const sps = samples / ((Date.now() - t0) / 1000);
        progress.tick(state.globalStep, lastLoss, lr[0], sps);
        if (logging) {
          if (window.steps > 0) {
            const e: LogEntry = {
              step: state.globalStep,
              epoch: state.epoch + state.batchInEpoch / batches.length,
              loss: window.loss / window.steps,
              learning_rate: lr[0],
              samples_per_second: sps,
            };
            if (a.maxGradNorm > 0) e.grad_norm = window.gradNorm / window.steps; // measured only when clipping
            this.log.push(e);
            progress.log(e);
          }
          window = { loss: 0, steps: 0, gradNorm: 0 };
        }
        await this.opts.callbacks?.onStepEnd?.({ step: state.globalStep, loss: lastLoss, lr: lr[0] });
        let improved = false;
        if (a.evalSteps && this.opts.eval && state.globalStep % a.evalSteps === 0) improved = await evaluateNow();
        if (a.saveSteps && state.globalStep % a.saveSteps === 0) await save(improved);
        else if (improved && loadBest) await save(true);
        await new Promise((r) => setImmediate(r));
      }
      if (state.batchInEpoch >= batches.length) {
        state.epoch++;
        state.batchInEpoch = 0;
        if (this.opts.eval && !(a.evalSteps && state.globalStep % a.evalSteps === 0)) {
          if ((await evaluateNow()) && (a.saveSteps || loadBest)) await save(true);
        }
      }
    }
    readSteps();
    await interruptIfAsked();
    progress.done();
    // the last checkpoint holds the last step's weights and optimizer state, whatever is loaded next
    state.logHistory = this.log;
    if (savedAt !== state.globalStep) await save(false);
    const bestPath = bestDir();
    if (loadBest && bestPath) {
      if (!fs.existsSync(bestPath)) throw new Error(`the best checkpoint ${bestPath} is gone: cannot load it at the end`);
      progress.message(`loading the best checkpoint (eval_${best.name} ${state.bestMetric}): ${path.basename(bestPath)}`);
      loadCheckpointState(bestPath, this.model, null, null);
    }
    const runtime = (Date.now() - t0) / 1000;
    const metrics: Record<string, number> = {
      train_runtime: runtime,
      train_samples_per_second: samples / runtime,
      train_steps_per_second: stepsRun / runtime,
      // what this process's optimizer holds (1/N of it per rank with shardOptimizer)
      optimizer_state_mb: (opt instanceof ShardedOptimizer ? opt.stateBytes() : optimizerStateBytes(opt)) / 2 ** 20,
      epoch: state.globalStep / stepsPerEpoch,
    };
    // mean loss of the steps this process ran (transformers' train_loss); none on a resume at the end
    if (stepsRun > 0) metrics.train_loss = lossTotal / stepsRun;
    if (this.opts.eval) {
      // the evaluation at the last step serves unless the best checkpoint was loaded since
      const reuse = lastEval.metrics !== null && lastEval.step === state.globalStep && !(loadBest && state.bestCheckpoint);
      let m: Record<string, number>;
      try {
        m = reuse ? lastEval.metrics! : await this.evaluate();
      } catch (e) {
        if (!(e instanceof EvaluationInterrupted)) throw e;
        opt.dispose();
        scaler?.dispose();
        throw new TrainingInterrupted(this.stopReason ?? 'a stop request', state.globalStep, checkpointDir(out, state.globalStep));
      }
      for (const [k, v] of Object.entries(m)) metrics[`eval_${k}`] = v;
      if (!reuse) {
        const entry: LogEntry = { step: state.globalStep, epoch: state.globalStep / stepsPerEpoch, final: 1 };
        for (const [k, v] of Object.entries(m)) entry[`eval_${k}`] = v;
        this.log.push(entry);
        progress.log(entry);
      }
    }
    opt.dispose();
    scaler?.dispose();
    return { metrics, state };
  }
}

/**
 * Refuses to train a model whose weights, gradients and AdamW's two moments (four float32
 * copies) would not fit in this machine's memory: better now than killed at the first step.
 */
function checkTrainingMemory(model: PreTrainedModel, processesHere: number): void {
  if (model.parameters().some((p) => !p.device.startsWith('cpu'))) return; // device memory: libtorch reports it
  // every process of a group on this machine holds its own copy
  const bytes = model.parameters().reduce((n, p) => n + p.numel() * 4, 0) * 4 * processesHere;
  if (bytes > os.totalmem()) {
    throw new Error(`training needs about ${(bytes / 2 ** 30).toFixed(1)} GB for the weights, gradients and AdamW state${processesHere > 1 ? ` of ${processesHere} processes` : ''}, more than this machine's ${(os.totalmem() / 2 ** 30).toFixed(1)} GB`);
  }
}

/** Data whose features hold no target (every label -100) would train on nothing: refused, naming the file. */
function noTargets(store: FeatureStore, what: string): void {
  if (store.meta.targets === 0) {
    throw new Error(`${store.meta.source}: the ${what} data has no targets left (every token is masked: prompts that fill --max-length, or blocks of one token): nothing to learn or measure`);
  }
}

export function latestCheckpoint(outputDir: string): string | null {
  const dir = path.join(outputDir, 'checkpoints');
  if (!fs.existsSync(dir)) return null;
  const steps = fs
    .readdirSync(dir)
    .map((d) => /^checkpoint-(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null && fs.existsSync(path.join(dir, m[0], 'trainer_state.json')))
    .map((m) => Number(m[1]))
    .sort((x, y) => x - y);
  return steps.length ? path.join(dir, `checkpoint-${steps[steps.length - 1]}`) : null;
}
