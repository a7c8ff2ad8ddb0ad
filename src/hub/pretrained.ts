// fromPretrained / savePretrained: Hugging Face's directory layout both ways.
import * as fs from 'fs';
import * as path from 'path';
import { Device } from '../tensor/dtype';
import { Tensor } from '../tensor/tensor';
import { dispose } from '../tensor/scope';
import { StateDictError } from '../nn/module';
import { PreTrainedModel } from '../models/pretrained';
import { loadCheckpoint } from './checkpoint';
import { saveSafetensors } from './safetensors';
import { HubOptions, resolveModelDir } from './hub';

export interface FromPretrainedOptions extends HubOptions {
  /** Fields that override config.json (num_labels, id2label, problem_type, dropout, ...). */
  config?: Record<string, unknown>;
  device?: Device;
  /** Receives warnings (newly initialised and unused weights); default console.warn. */
  warn?: (msg: string) => void;
}

export function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const v = JSON.parse(text);
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
  checkpoint: Map<string, Tensor>,
  where: string,
  warn: (msg: string) => void = console.warn,
): { newlyInitialized: string[]; unused: string[] } {
  let ckpt = checkpoint;
  const prefix = model.basePrefix;
  const keys = [...checkpoint.keys()];
  if (prefix !== null && !keys.some((k) => k.startsWith(`${prefix}.`))) {
    ckpt = new Map(keys.map((k) => [`${prefix}.${k}`, checkpoint.get(k)!]));
  } else if (prefix === null && keys.some((k) => k.startsWith('bert.'))) {
    ckpt = new Map(keys.map((k) => [k.startsWith('bert.') ? k.slice(5) : k, checkpoint.get(k)!]));
  }
  const own = model.stateDict();
  const aliases = new Map<string, string[]>();
  for (const g of model.tiedKeys()) for (const k of g) aliases.set(k, g);
  const present = (k: string) => ckpt.has(k) || (aliases.get(k) ?? []).some((a) => ckpt.has(a));
  const missing = [...own.keys()].filter((k) => !present(k));
  const newlyInitialized = missing.filter((k) => model.headKeys.some((re) => re.test(k)));
  const missingBase = missing.filter((k) => !newlyInitialized.includes(k));
  const notInModel = [...ckpt.keys()].filter((k) => !own.has(k));
  const unused = notInModel.filter((k) => model.ignoredKeys.some((re) => re.test(k)));
  const unexpected = notInModel.filter((k) => !unused.includes(k));
  const sub = new Map([...ckpt].filter(([k]) => own.has(k)));
  try {
    model.loadStateDict(sub, { strict: false });
  } catch (e) {
    if (e instanceof StateDictError) throw new StateDictError(missingBase, unexpected, e.mismatched, where);
    throw e;
  }
  if (missingBase.length || unexpected.length) throw new StateDictError(missingBase, unexpected, [], where);
  if (newlyInitialized.length) {
    warn(
      `Some weights of ${model.architecture} were not in ${where} and are newly initialised: ${newlyInitialized.join(', ')}. ` +
        'Train the model before using it for predictions.',
    );
  }
  if (unused.length) warn(`Some weights of ${where} were not used by ${model.architecture}: ${unused.join(', ')}`);
  return { newlyInitialized, unused };
}

/** Builds a model from a directory or Hub id: config.json, then the weights. */
export async function fromPretrained<M extends PreTrainedModel>(
  idOrDir: string,
  build: (config: Record<string, unknown>, where: string) => M,
  opts: FromPretrainedOptions = {},
): Promise<M> {
  const dir = await resolveModelDir(idOrDir, opts);
  const configFile = path.join(dir, 'config.json');
  const model = build({ ...readJson(configFile), ...(opts.config ?? {}) }, configFile);
  const ckpt = loadCheckpoint(dir);
  try {
    loadPretrainedWeights(model, ckpt, dir, opts.warn);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    dispose(ckpt);
  }
  if (opts.device && opts.device !== 'cpu') model.to(opts.device);
  return model;
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
  const config = { ...model.config, architectures: [model.architecture], dtype };
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}

export function writeFileAtomic(file: string, data: string | Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
