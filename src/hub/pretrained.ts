// fromPretrained / savePretrained: Hugging Face's directory layout both ways.
import * as fs from 'fs';
import * as path from 'path';
import { fsError } from '../util/fs';
import { checkKeys } from '../util/names';
import { FULLTUNE_VERSION } from '../version';
import { Device } from '../tensor/dtype';
import { Tensor } from '../tensor/tensor';
import { StateDictError } from '../nn/module';
import { PreTrainedModel } from '../models/pretrained';
import { Checkpoint, openCheckpoint } from './checkpoint';
import { deferInit, initialize } from '../nn/init';
import { noGrad } from '../tensor/autograd';
import { empty } from '../tensor/create';
import { tidy } from '../tensor/scope';
import { saveSafetensors } from './safetensors';
import { parseJsonKeepingFloats, stringifyKeepingFloats } from './json';
import { HubOptions, resolveModelDir } from './hub';
import { defaultGenerationConfig, GenerationConfig, readGenerationConfig } from '../models/generate';

export interface FromPretrainedOptions extends HubOptions {
  /** Fields that override config.json (num_labels, id2label, problem_type, dropout, ...). */
  config?: Record<string, unknown>;
  device?: Device;
  /**
   * The dtype the weights are made in and loaded into (converted tensor by tensor while
   * reading), as transformers' from_pretrained(dtype=...); default float32.
   */
  dtype?: 'float32' | 'bfloat16' | 'float16';
  /** Receives warnings (newly initialised and unused weights); default console.warn. */
  warn?: (msg: string) => void;
  /**
   * A head whose shape differs from the checkpoint's (other labels) is initialised anew with a
   * warning, as transformers' ignore_mismatched_sizes; the body's shapes must still match.
   */
  ignoreMismatchedHead?: boolean;
}

export function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const v = parseJsonKeepingFloats(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
}

/**
 * Copies a checkpoint into a model by Hugging Face's rules, made explicit:
 * - a base checkpoint (no key under the model's base prefix) loads under that prefix, and a
 *   head checkpoint into a base model without it;
 * - keys the model lacks are errors unless the model lists them as ignored (other heads,
 *   legacy buffers); keys the checkpoint lacks are errors unless they are the model's head
 *   (then they keep their fresh initialisation, and a warning lists them);
 * - any shape mismatch is an error naming key, expected and actual shape.
 */
export function loadPretrainedWeights(
  model: PreTrainedModel,
  checkpoint: Checkpoint | Map<string, Tensor>,
  where: string,
  warn: (msg: string) => void = console.warn,
  opts: { ignoreMismatchedHead?: boolean } = {},
): { newlyInitialized: string[]; unused: string[] } {
  const ck = checkpoint instanceof Map ? inMemory(checkpoint, where) : checkpoint;
  // the key each checkpoint entry takes in this model
  const prefix = model.basePrefix;
  const keys = ck.keys();
  let rename = (k: string) => k;
  if (prefix !== null && !keys.some((k) => k.startsWith(`${prefix}.`))) rename = (k) => `${prefix}.${k}`;
  else if (prefix === null) {
    const head = `${model.baseModelPrefix}.`;
    if (keys.some((k) => k.startsWith(head))) rename = (k) => (k.startsWith(head) ? k.slice(head.length) : k);
  }
  const byModelKey = new Map(keys.map((k) => [legacyName(rename(k)), k]));
  untieDifferingCopies(model, ck, byModelKey, warn);
  const m = model.matchState(new Map([...byModelKey].map(([mk, k]) => [mk, ck.shape(k)])));

  const isHead = (k: string) => model.headKeys.some((re) => re.test(k));
  const newlyInitialized = m.missing.filter(isHead);
  const missingBase = m.missing.filter((k) => !isHead(k));
  const unused = m.unexpected.filter((k) => model.ignoredKeys.some((re) => re.test(k)));
  const unexpected = m.unexpected.filter((k) => !unused.includes(k));
  const mismatched = m.mismatched.filter((x) => !(opts.ignoreMismatchedHead && isHead(x.key)));
  for (const x of m.mismatched) {
    if (mismatched.includes(x)) continue;
    newlyInitialized.push(x.key);
    warn(`${x.key}: the checkpoint's [${x.actual.join(', ')}] does not fit [${x.expected.join(', ')}]; initialised anew`);
  }
  if (missingBase.length || unexpected.length || mismatched.length) throw new StateDictError(missingBase, unexpected, mismatched, where);
  ck.copyInto(m.plan.map(([t, mk]) => [byModelKey.get(mk)!, t]));
  const own = model.stateDict();
  for (const k of newlyInitialized) initialize(own.get(k)!);
  if (newlyInitialized.length) {
    warn(
      `Some weights of ${model.architecture} were not in ${where} and are newly initialised: ${newlyInitialized.join(', ')}. ` +
        'Train the model before using it for predictions.',
    );
  }
  // buffers that transformers also drops without a word (position_ids of older checkpoints)
  const worthSaying = unused.filter((k) => !SILENTLY_IGNORED.some((re) => re.test(k)));
  if (worthSaying.length) warn(`Some weights of ${where} were not used by ${model.architecture}: ${worthSaying.join(', ')}`);
  return { newlyInitialized, unused };
}

/**
 * Tied keys that the checkpoint stores with different values are untied, both kept, with a
 * warning (transformers' tie_weights does the same): a config that says "tied" while the
 * weights say otherwise must not silently drop a stored tensor.
 */
function untieDifferingCopies(model: PreTrainedModel, ck: Checkpoint, byModelKey: Map<string, string>, warn: (msg: string) => void): void {
  let untied = false;
  for (const group of model.tiedKeys()) {
    const stored = group.filter((k) => byModelKey.has(k));
    if (stored.length < 2) continue;
    const read = (k: string) => {
      const src = byModelKey.get(k)!;
      const t = empty(ck.shape(src), { dtype: ck.dtype(src) });
      ck.copyInto([[src, t]]);
      return t;
    };
    const first = read(stored[0]);
    try {
      for (const k of stored.slice(1)) {
        const other = read(k);
        // another shape counts as different: untied, the key's own shape check then names it
        const same = tidy(() => first.shape.length === other.shape.length && first.shape.every((d, i) => d === other.shape[i]) && first.ne(other).sum().item() === 0);
        other.dispose();
        if (same) continue;
        model.untie(k);
        untied = true;
        warn(`${model.architecture} ties ${k} to ${stored[0]}, but ${ck.where} stores them with different values: both are kept, untied`);
      }
    } finally {
      first.dispose();
    }
  }
  // what the model now is, when no weight matrix is shared any more (an output layer untied from
  // the word embeddings; not a tied bias alone): a copy it saves loads untied, in Python too
  const shapes = model.stateDict();
  const matricesTied = model.tiedKeys().some((g) => shapes.get(g[0])!.shape.length === 2);
  if (untied && !matricesTied) (model.config as Record<string, unknown>).tie_word_embeddings = false;
}

function inMemory(sd: Map<string, Tensor>, where: string): Checkpoint {
  return {
    where,
    keys: () => [...sd.keys()],
    shape: (k) => [...sd.get(k)!.shape],
    dtype: (k) => sd.get(k)!.dtype,
    copyInto: (pairs) => noGrad(() => pairs.forEach(([k, t]) => t.copy_(sd.get(k)!))),
    close: () => undefined,
  };
}

/**
 * Key spellings of older checkpoints, in one list: TensorFlow-converted BERTs (the original
 * bert-base-uncased .bin among them) name LayerNorm parameters gamma and beta, which
 * transformers renames on load in the same way.
 */
const LEGACY_KEYS: [RegExp, string][] = [
  [/(^|\.)LayerNorm\.gamma$/, '$1LayerNorm.weight'],
  [/(^|\.)LayerNorm\.beta$/, '$1LayerNorm.bias'],
];
/** Unused checkpoint keys that transformers ignores silently on load (non-persistent buffers). */
const SILENTLY_IGNORED: RegExp[] = [/(^|\.)position_ids$/];

function legacyName(k: string): string {
  for (const [re, to] of LEGACY_KEYS) if (re.test(k)) return k.replace(re, to);
  return k;
}

const FROM_PRETRAINED_KEYS = ['config', 'device', 'dtype', 'warn', 'ignoreMismatchedHead', 'revision', 'cacheDir', 'token', 'localFilesOnly', 'endpoint'];
/** config.json fields a transformers user passes to from_pretrained directly; here they go under `config`. */
const CONFIG_FIELD_HINTS: Record<string, string> = Object.fromEntries(
  ['num_labels', 'id2label', 'label2id', 'problem_type', 'hidden_dropout_prob', 'attention_probs_dropout_prob', 'classifier_dropout'].map((k) => [k, `config: { ${k} }`]),
);

/** Builds a model from a directory or Hub id: config.json, then the weights. */
export async function fromPretrained<M extends PreTrainedModel>(
  idOrDir: string,
  build: (config: Record<string, unknown>, where: string) => M,
  opts: FromPretrainedOptions = {},
): Promise<M> {
  checkKeys('fromPretrained options', opts, FROM_PRETRAINED_KEYS, CONFIG_FIELD_HINTS);
  const dir = await resolveModelDir(idOrDir, opts);
  const configFile = path.join(dir, 'config.json');
  // headers validated before the model is built; weights mapped from their files, not copied
  const ckpt = openCheckpoint(dir, { map: true });
  const fileConfig = readJson(configFile);
  // num_labels given without id2label replaces the file's labels, as transformers' from_pretrained(num_labels=...)
  if (opts.config?.num_labels !== undefined && opts.config.id2label === undefined) {
    delete fileConfig.id2label;
    delete fileConfig.label2id;
  }
  if (opts.dtype !== undefined && !['float32', 'bfloat16', 'float16'].includes(opts.dtype)) throw new TypeError(`fromPretrained: dtype must be float32, bfloat16 or float16, got ${JSON.stringify(opts.dtype)}`);
  const model = deferInit(() => build({ ...fileConfig, ...(opts.config ?? {}) }, configFile), { dtype: opts.dtype, device: opts.device });
  try {
    loadPretrainedWeights(model, ckpt, dir, opts.warn, { ignoreMismatchedHead: opts.ignoreMismatchedHead });
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    ckpt.close();
  }
  if ('generationConfig' in model) (model as { generationConfig: GenerationConfig | null }).generationConfig = readGenerationConfig(dir);
  // parameters were made on the device; buffers a model makes itself (BERT's position ids) follow
  // here (tensors already there are not copied)
  if (opts.device && opts.device !== 'cpu') model.to(opts.device);
  // as transformers' from_pretrained: ready for inference; training sets train mode itself
  return model.eval();
}

/**
 * Writes config.json and model.safetensors that Python's from_pretrained loads. Tied
 * weights are stored once, under their first key, as Hugging Face does. Writes are atomic.
 */
export function savePretrained(model: PreTrainedModel, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const sd = model.stateDict();
  for (const group of model.tiedKeys()) for (const alias of group.slice(1)) sd.delete(alias);
  saveSafetensors(path.join(dir, 'model.safetensors'), sd, { format: 'pt' });
  const dtype = sd.values().next().value?.dtype ?? 'float32';
  // where the weights came from and which transformers wrote the original describe another model now
  const { _name_or_path: _n, transformers_version: _v, ...rest } = model.config as Record<string, unknown>;
  const config = { ...rest, architectures: [model.architecture], dtype, fulltune_version: FULLTUNE_VERSION };
  writeFileAtomic(path.join(dir, 'config.json'), stringifyKeepingFloats(config) + '\n');
  // generative models: their generation settings, or (as transformers) the config's token ids
  if ('generationConfig' in model) {
    const g = (model as { generationConfig: GenerationConfig | null }).generationConfig ?? defaultGenerationConfig(model.config);
    const { transformers_version: _t, ...gen } = g;
    writeFileAtomic(path.join(dir, 'generation_config.json'), JSON.stringify({ ...gen, fulltune_version: FULLTUNE_VERSION }, null, 2) + '\n');
  }
}

export function writeFileAtomic(file: string, data: string | Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fsError(e, file, 'write');
  }
}
