// Training checkpoints: everything a run needs to continue exactly where it stopped.
// <output>/checkpoints/checkpoint-<step>/ holds the model (Hugging Face format), the
// optimizer's state tensors, and trainer_state.json (positions, best metric, log history,
// libtorch's CPU generator state, the loss scaler). A checkpoint is written into a temporary
// folder and renamed into place: a crash mid-write leaves the previous checkpoints whole.
import * as fs from 'fs';
import * as path from 'path';
import { native } from '../tensor/native';
import { GradScaler, GradScalerState } from '../tensor/amp';
import { noGrad } from '../tensor/autograd';
import { PreTrainedModel } from '../models/pretrained';
import { openCheckpoint } from '../hub/checkpoint';
import { loadPretrainedWeights, savePretrained } from '../hub/pretrained';
import { loadSafetensors, saveSafetensors } from '../hub/safetensors';
import { dispose } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { PreTrainedTokenizer } from '../tokenize/tokenizer';
import { fsError } from '../util/fs';
import { cleanLeftovers } from './output';
import { LogEntry } from './progress';
import { Optimizer } from './optimizer';

export interface TrainerState {
  globalStep: number;
  epoch: number;
  /** index of the next batch of `epoch` (its order: see epochRng) */
  batchInEpoch: number;
  bestMetric: number | null;
  bestCheckpoint: string | null;
  patience: number;
  totalFlos: number;
  logHistory: LogEntry[];
  /** What fixes the data order and schedule (batch size, data, seed, ...): checked on resume. */
  settings?: RunSettings;
  /** A stop interrupted the evaluation of this step: a resumed run runs it first. */
  pendingEvaluation?: boolean;
  /** Data parallel: each rank's CPU generator state (base64), rank order (transformers' rng_state_{rank}). */
  rngByRank?: string[];
  /**
   * group-by-length in one process: the CPU generator's state (base64) when `epoch`'s permutation
   * was drawn from it, so that a run resumed within the epoch draws the same order (the other
   * samplers' orders are a function of the seed and epoch).
   */
  epochRng?: string;
}

/** This process's CPU generator state, base64 (what a checkpoint keeps per rank). */
export function cpuRngStateBase64(): string {
  return native.rngState('cpu').toString('base64');
}

export type RunSettings = Record<string, string | number | boolean>;

interface StateFile extends TrainerState {
  format: 'fulltune-trainer-state-1';
  cpuRng: string;
  scaler: GradScalerState | null;
  optimizer: { lr: number[]; scalars: Record<string, number | boolean> };
}

/** Where the checkpoint of `step` lives in an output folder. */
export function checkpointDir(outputDir: string, step: number): string {
  return path.join(outputDir, 'checkpoints', `checkpoint-${step}`);
}

export function saveCheckpoint(
  outputDir: string,
  state: TrainerState,
  model: PreTrainedModel,
  opt: Optimizer,
  scaler: GradScaler | null,
  tokenizer?: PreTrainedTokenizer,
  /** the optimizer's state to save when not opt.stateOf() (a sharded optimizer's, gathered) */
  optState?: Map<Tensor, Record<string, Tensor>>,
): string {
  const root = path.join(outputDir, 'checkpoints');
  const final = checkpointDir(outputDir, state.globalStep);
  const tmp = path.join(root, `.${path.basename(final)}.${process.pid}.tmp`);
  try {
    writeCheckpoint(tmp, final, state, model, opt, scaler, tokenizer, optState);
  } catch (e) {
    // a failed save (a full disk) leaves the earlier checkpoints whole and no half-written one
    fs.rmSync(tmp, { recursive: true, force: true });
    const err = fsError(e, final, 'save the checkpoint');
    err.message = err.message.split(tmp).join(final); // name the file as the user will look for it
    throw err;
  }
  return final;
}

function writeCheckpoint(
  tmp: string,
  final: string,
  state: TrainerState,
  model: PreTrainedModel,
  opt: Optimizer,
  scaler: GradScaler | null,
  tokenizer?: PreTrainedTokenizer,
  optState?: Map<Tensor, Record<string, Tensor>>,
): void {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  savePretrained(model, tmp);
  // a checkpoint is a loadable model: eval and predict take its folder as --model
  tokenizer?.save(tmp);
  const names = new Map(model.namedParameters().map(([k, t]) => [t, k]));
  const tensors: [string, Tensor][] = [];
  for (const [p, st] of optState ?? opt.stateOf()) for (const [k, t] of Object.entries(st)) tensors.push([`${names.get(p)}.${k}`, t]);
  saveSafetensors(path.join(tmp, 'optimizer.safetensors'), tensors, { format: 'fulltune-optimizer' });
  const file: StateFile = {
    format: 'fulltune-trainer-state-1',
    ...state,
    cpuRng: cpuRngStateBase64(),
    scaler: scaler ? scaler.state() : null,
    optimizer: { lr: opt.lr, scalars: opt.scalars() },
  };
  fs.writeFileSync(path.join(tmp, 'trainer_state.json'), JSON.stringify(file, null, 1));
  const fd = fs.openSync(tmp, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  if (fs.existsSync(final)) {
    const old = `${tmp}.old`;
    fs.renameSync(final, old);
    fs.renameSync(tmp, final);
    fs.rmSync(old, { recursive: true, force: true });
  } else fs.renameSync(tmp, final);
}

/** The settings a checkpoint was made with (null when it predates them). */
export function readCheckpointSettings(dir: string): RunSettings | null {
  const stateFile = path.join(dir, 'trainer_state.json');
  if (!fs.existsSync(stateFile)) throw new Error(`${dir}: not a checkpoint (no trainer_state.json)`);
  const s = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as StateFile;
  return s.settings ?? null;
}

/** Restores model weights and, when given, optimizer, loss scaler and RNG; returns the positions. */
export function loadCheckpointState(dir: string, model: PreTrainedModel, opt: Optimizer | null, scaler: GradScaler | null, rank = 0): TrainerState {
  const stateFile = path.join(dir, 'trainer_state.json');
  if (!fs.existsSync(stateFile)) throw new Error(`${dir}: not a checkpoint (no trainer_state.json)`);
  const s = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as StateFile;
  if (s.format !== 'fulltune-trainer-state-1') throw new Error(`${stateFile}: unknown format ${String(s.format)}`);
  const ck = openCheckpoint(dir);
  try {
    loadPretrainedWeights(model, ck, dir, () => undefined);
  } finally {
    ck.close();
  }
  if (opt) {
    const saved = loadSafetensors(path.join(dir, 'optimizer.safetensors'));
    const names = new Map(model.namedParameters().map(([k, t]) => [t, k]));
    noGrad(() => {
      for (const [p, st] of opt.stateOf()) {
        for (const [k, t] of Object.entries(st)) {
          const key = `${names.get(p)}.${k}`;
          const src = saved.get(key);
          if (!src) throw new Error(`${dir}/optimizer.safetensors: missing ${key} (was the checkpoint made with another optimizer?)`);
          t.copy_(src);
        }
      }
    });
    dispose([...saved.values()]);
    opt.setLr(s.optimizer.lr);
    opt.loadScalars(s.optimizer.scalars);
    const rng = s.rngByRank ? s.rngByRank[rank] : rank === 0 ? s.cpuRng : undefined;
    if (rng === undefined) throw new Error(`${stateFile}: no generator state for rank ${rank} (the checkpoint was made by ${s.rngByRank?.length ?? 1} process(es))`);
    native.setRngState('cpu', Buffer.from(rng, 'base64'));
    if (scaler && s.scaler) scaler.load(s.scaler);
  }
  return {
    globalStep: s.globalStep,
    epoch: s.epoch,
    batchInEpoch: s.batchInEpoch,
    bestMetric: s.bestMetric,
    bestCheckpoint: s.bestCheckpoint,
    patience: s.patience,
    totalFlos: s.totalFlos,
    logHistory: s.logHistory,
    settings: s.settings,
    pendingEvaluation: s.pendingEvaluation,
    epochRng: s.epochRng,
  };
}

/** Keeps the newest `limit` checkpoints, and the best one besides. */
export function pruneCheckpoints(outputDir: string, limit: number | undefined, best: string | null): void {
  cleanLeftovers(outputDir);
  if (!limit || limit < 1) return;
  const root = path.join(outputDir, 'checkpoints');
  const all = fs
    .readdirSync(root)
    .map((d) => /^checkpoint-(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => path.join(root, m[0]));
  const keep = new Set(all.slice(-limit));
  if (best) keep.add(path.resolve(best));
  for (const d of all) if (!keep.has(path.resolve(d)) && !keep.has(d)) fs.rmSync(d, { recursive: true, force: true });
}
