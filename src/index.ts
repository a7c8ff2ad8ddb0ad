// fulltune's public API.
export { Tensor } from './tensor/tensor';
export type { DType, Device } from './tensor/dtype';
export {
  tensor,
  zeros,
  ones,
  full,
  arange,
  randn,
  rand,
  randint,
  randperm,
  empty,
  zerosLike,
  onesLike,
  fullLike,
  randnLike,
  randLike,
  manualSeed,
  rngState,
  setRngState,
  cudaAvailable,
  cudaDeviceCount,
  memory,
  cpuCache,
  emptyCache,
  setCpuCacheLimit,
  returnFreedMemory,
  getNumThreads,
  setNumThreads,
  libtorchVersion,
} from './tensor/create';
export type { CreateOptions, TensorOptions, TensorData } from './tensor/create';
export { tidy, scope, keep, dispose } from './tensor/scope';
export { noGrad, enableGrad, isGradEnabled } from './tensor/autograd';
export * from './tensor/functional';
export * as F from './tensor/functional';
export { AdamW, SGD, Optimizer } from './train/optimizer';
export type { AdamWOptions, SGDOptions, ParamGroup } from './train/optimizer';
export { clipGradNorm, clipGradNormTensor, zeroGrad } from './train/grad';
export * as nn from './nn';
export { Module, ModuleList, StateDictError } from './nn';
export * from './models';
export { savePretrained, loadPretrainedWeights } from './hub/pretrained';
export type { FromPretrainedOptions } from './hub/pretrained';
export { loadSafetensors, saveSafetensors, readHeader as readSafetensorsHeader, SafetensorsError } from './hub/safetensors';
export { loadCheckpoint, CheckpointError } from './hub/checkpoint';
export { resolveModelDir, hubCacheDir, cachedSnapshot, HubError } from './hub/hub';
export type { HubOptions } from './hub/hub';
export { PreTrainedTokenizer, PreTrainedTokenizer as AutoTokenizer } from './tokenize/tokenizer';
export type { BatchEncoding, EncodeOptions, ChatMessage } from './tokenize/tokenizer';
export { Trainer, NonFiniteLossError, latestCheckpoint } from './train/trainer';
export type { TrainingArgs, Callbacks, TrainerOptions } from './train/trainer';
export { lrMultiplier, warmupSteps, SCHEDULES } from './train/schedule';
export type { ScheduleKind } from './train/schedule';
export * as metrics from './train/metrics';
export { computeMetrics, qaAnswers } from './train/evaluate';
export { defaultMaxLength, resolveLabels, headConfig, loadTaskModel, features as prepareFeatures } from './train/prepare';
export { autocast, GradScaler } from './tensor/amp';
export { readRows, DataError, formatOf } from './data/readers';
export type { RawRow } from './data/readers';
export { readExamples, TASKS } from './data/tasks';
export type { Task, Columns, Example } from './data/tasks';
export { buildFeatures, FeatureStore, collectLabels } from './data/features';
export { Dataset } from './data/dataset';
export type { DataSource } from './data/dataset';
export type { ResolveLabelsOptions, PrepareFeaturesOptions } from './train/prepare';
export { TrainingInterrupted } from './train/trainer';
export { collate, epochOrder } from './data/collate';
export { ProcessGroup, GradientReducer, BUCKET_BYTES, FIRST_BUCKET_BYTES } from './distributed/process-group';
export type { ProcessGroupOptions, ReduceOp } from './distributed/process-group';
export { readLaunchEnv } from './distributed/env';
export type { LaunchEnv } from './distributed/env';
export { launchWorkers } from './distributed/launch';
export { checkpoint, CheckpointSession } from './nn/checkpoint';
