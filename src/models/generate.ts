// Text generation for causal LMs, as transformers' generate(): greedy or sampled (repetition
// penalty, temperature, top-k, top-p, in transformers' order), batched prompts with left padding
// (positions from the attention mask), each row stopping at its EOS and padded after it, and a
// key-value cache preallocated for the whole run and written in place.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { noGrad } from '../tensor/autograd';
import { arange, manualSeed, tensor } from '../tensor/create';
import { multinomial, where } from '../tensor/functional';
import { tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { checkKeys } from '../util/names';
import { DecoderInputs, KVCache } from './decoder';
import { PreTrainedModel } from './pretrained';

/** generation_config.json's fields that generate() uses (Hugging Face's names). */
export interface GenerationConfig {
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  pad_token_id?: number | null;
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  repetition_penalty?: number;
  max_new_tokens?: number;
  [field: string]: unknown;
}

export interface GenerateOptions {
  /** (B, T): 1 for prompt tokens, 0 for (left) padding; absent: every token is real */
  attentionMask?: Tensor | number[][] | null;
  /** default 20 (transformers' default) */
  maxNewTokens?: number;
  /** default false: greedy */
  doSample?: boolean;
  /** > 0; default 1 */
  temperature?: number;
  /** 0: off; default 50 (transformers' default) */
  topK?: number;
  /** in (0, 1]; default 1 (off) */
  topP?: number;
  /** > 0; 1: off (the default) */
  repetitionPenalty?: number;
  /** one id or several; default: the generation config's, else the model config's */
  eosTokenId?: number | number[] | null;
  /** what finished rows get; default: the generation config's, else the model's pad token, else the first EOS */
  padTokenId?: number | null;
  /** seeds the sampler (manualSeed) before the first draw */
  seed?: number;
  /** default true; false recomputes the whole sequence at every step (same tokens, slower) */
  useCache?: boolean;
  /** called after each step with the token chosen for every row (the pad id for finished rows) */
  onStep?: (tokens: number[], step: number) => void;
}

const OPTION_KEYS = ['attentionMask', 'maxNewTokens', 'doSample', 'temperature', 'topK', 'topP', 'repetitionPenalty', 'eosTokenId', 'padTokenId', 'seed', 'useCache', 'onStep'];
const HF_NAMES = { max_new_tokens: 'maxNewTokens', do_sample: 'doSample', top_k: 'topK', top_p: 'topP', repetition_penalty: 'repetitionPenalty', eos_token_id: 'eosTokenId', pad_token_id: 'padTokenId', attention_mask: 'attentionMask', use_cache: 'useCache' };

/** What generate() needs of a model: a causal LM head over a base model with a cacheable stack. */
export interface CausalLM extends PreTrainedModel {
  forward(x: DecoderInputs): { logits: Tensor };
  generationConfig: GenerationConfig | null;
  /** models with a position table (GPT-2): the longest sequence they take */
  readonly maxPositions?: number;
}

interface Stack {
  numLayers: number;
  numKeyValueHeads: number;
  headDim: number;
}

/** Reads generation_config.json from a model directory (null when there is none). */
export function readGenerationConfig(dir: string): GenerationConfig | null {
  const file = path.join(dir, 'generation_config.json');
  if (!fs.existsSync(file)) return null;
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as GenerationConfig;
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
}

/** generation_config.json as transformers writes it for a model without one: its special token ids. */
export function defaultGenerationConfig(config: Record<string, unknown>): GenerationConfig {
  const g: GenerationConfig = {};
  for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const) if (config[k] !== undefined && config[k] !== null) g[k] = config[k] as number;
  return g;
}

/**
 * Makes generation also stop at `ids` (a chat template's end-of-turn token a model was trained to
 * end its answers with), as TRL's eos_token setting does: they join generation_config's
 * eos_token_id. Returns the ids that were not stop tokens before; a model without generation
 * settings (an encoder) is left alone.
 */
export function addStopTokens(model: object, ids: number[]): number[] {
  if (!('generationConfig' in model) || !('config' in model)) return [];
  const m = model as { generationConfig: GenerationConfig | null; config: Record<string, unknown> };
  const g = m.generationConfig ?? defaultGenerationConfig(m.config);
  // what generate() stops at: generation_config's eos_token_id, else config.json's
  const e = g.eos_token_id !== undefined ? g.eos_token_id : (m.config.eos_token_id as number | number[] | null | undefined);
  const eos = e === undefined || e === null ? [] : Array.isArray(e) ? e : [e];
  const added = ids.filter((id) => !eos.includes(id));
  if (added.length) m.generationConfig = { ...g, eos_token_id: [...eos, ...added] };
  return added;
}

function checkNumber(name: string, v: unknown, ok: (x: number) => boolean, expected: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RangeError(`generate: ${name} must be ${expected}, got ${JSON.stringify(v)}`);
}

/**
 * Continues each row of inputIds (B, T) int64; returns (B, T + steps) int64 with the prompt
 * first. Mirrors transformers' GenerationMixin.generate for greedy search and sampling.
 * TypeError/RangeError for bad options; an Error when no EOS or pad id can be found for a batch.
 */
export function generate(model: CausalLM, inputIds: Tensor, o: GenerateOptions = {}): Tensor {
  const run = steps(model, inputIds, o);
  for (let r = run.next(); ; r = run.next()) if (r.done) return r.value;
}

/**
 * generate() one step at a time, awaiting onStep after each (so that a caller can decode and
 * write the new tokens as they come): the same tokens as generate().
 */
export async function generateStream(model: CausalLM, inputIds: Tensor, o: GenerateOptions & { onStepAsync?: (tokens: number[], step: number) => Promise<void> } = {}): Promise<Tensor> {
  const { onStepAsync, ...rest } = o;
  const run = steps(model, inputIds, rest);
  try {
    for (let r = run.next(); ; r = run.next()) {
      if (r.done) return r.value;
      await onStepAsync?.(r.value.tokens, r.value.step);
    }
  } finally {
    // a callback that throws leaves the generator suspended: end it, so that its cache is freed
    run.return(undefined as never);
  }
}

function* steps(model: CausalLM, inputIds: Tensor, o: GenerateOptions): Generator<{ tokens: number[]; step: number }, Tensor> {
  if (!(inputIds instanceof Tensor)) throw new TypeError('generate: inputIds must be a Tensor (B, T) int64, e.g. ft.tensor(ids, { dtype: "int64" })');
  checkKeys('generate options', o, OPTION_KEYS, HF_NAMES);
  if (inputIds.ndim !== 2 || (inputIds.dtype !== 'int64' && inputIds.dtype !== 'int32')) throw new TypeError(`generate: inputIds must be (B, T) int64, got ${inputIds.dtype} [${inputIds.shape.join(', ')}]`);
  const g = model.generationConfig ?? defaultGenerationConfig(model.config);
  // each setting from the call, else generation_config.json, else transformers' default; a bad
  // value names where it came from
  const pick = <T>(opt: T | undefined, field: keyof GenerationConfig, name: string, def: T): { v: T; from: string } =>
    opt !== undefined ? { v: opt, from: name } : g[field] !== undefined && g[field] !== null ? { v: g[field] as T, from: `generation_config.json ${String(field)}` } : { v: def, from: name };
  const check = (x: { v: unknown; from: string }, ok: (n: number) => boolean, expected: string) => checkNumber(x.from, x.v, ok, expected);
  const maxNew = pick(o.maxNewTokens, 'max_new_tokens', 'maxNewTokens', 20);
  check(maxNew, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
  const doSample = pick(o.doSample, 'do_sample', 'doSample', false).v;
  const temperature = pick(o.temperature, 'temperature', 'temperature', 1);
  const topK = pick(o.topK, 'top_k', 'topK', 50);
  const topP = pick(o.topP, 'top_p', 'topP', 1);
  const penalty = pick(o.repetitionPenalty, 'repetition_penalty', 'repetitionPenalty', 1);
  check(penalty, (x) => x > 0, '> 0');
  // sampling settings matter only when sampling (a greedy run ignores them, as transformers)
  if (doSample) {
    check(temperature, (x) => x > 0, '> 0');
    check(topK, (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0');
    check(topP, (x) => x > 0 && x <= 1, 'in (0, 1]');
  }
  const eosRaw = o.eosTokenId !== undefined ? o.eosTokenId : g.eos_token_id !== undefined ? g.eos_token_id : (model.config.eos_token_id as number | number[] | null | undefined);
  const eos = eosRaw === null || eosRaw === undefined ? [] : Array.isArray(eosRaw) ? eosRaw : [eosRaw];
  const padRaw = o.padTokenId !== undefined ? o.padTokenId : (g.pad_token_id ?? (model.config.pad_token_id as number | null | undefined) ?? null);
  const pad = padRaw ?? eos[0] ?? null;
  const [B, T] = inputIds.shape;
  if (T === 0) throw new RangeError('generate: the prompt is empty (inputIds has no tokens): give at least one token, such as the BOS token');
  if (pad === null && B > 1 && eos.length > 0) throw new Error('generate: no pad token id (padTokenId) for rows that finish early');
  const vocab = model.config.vocab_size as number;
  for (const [name, id] of [...eos.map((e) => ['eosTokenId', e] as const), ['padTokenId', pad] as const]) {
    if (id !== null && (!Number.isInteger(id) || id < 0)) throw new RangeError(`generate: ${name} must be a token id, got ${id}`);
  }
  if (pad !== null && pad >= vocab) throw new RangeError(`generate: the pad token id ${pad} is outside the model's vocabulary (vocab_size ${vocab})`);
  if (o.seed !== undefined) manualSeed(o.seed);

  const seqs = inputIds.toRows();
  seqs.forEach((r, b) => {
    const bad = r.find((id) => id < 0 || id >= vocab);
    if (bad !== undefined) throw new RangeError(`generate: row ${b} holds token id ${bad}, outside the model's vocabulary (vocab_size ${vocab}): does the tokenizer belong to this model?`);
  });
  const mask: number[][] = o.attentionMask
    ? o.attentionMask instanceof Tensor
      ? o.attentionMask.toRows()
      : o.attentionMask.map((r) => [...r])
    : seqs.map((r) => r.map(() => 1));
  if (mask.length !== B || mask.some((r) => r.length !== T)) throw new RangeError(`generate: attentionMask must be (${B}, ${T}) like inputIds`);
  mask.forEach((r, b) => {
    if (!r.some((m) => m)) throw new RangeError(`generate: row ${b} of attentionMask has no real token (an empty prompt)`);
    const first = r.findIndex((m) => m);
    if (r.slice(first).some((m) => !m)) throw new RangeError(`generate: row ${b} of attentionMask has padding after a real token: pad prompts on the left`);
  });
  // positions as transformers' prepare_inputs_for_generation: cumsum(mask) - 1, padding at 1
  const positions = mask.map((r) => {
    let n = 0;
    return r.map((m) => (m ? n++ : 1));
  });
  const nextPos = mask.map((r) => r.reduce((s, m) => s + (m ? 1 : 0), 0));
  // without padding the mask says nothing SDPA's causal flag does not: none is sent each step
  const padded = mask.some((r) => r.includes(0));
  const base = (model as unknown as Record<string, unknown>)[model.basePrefix ?? ''] as Stack | undefined;
  const stack: Stack = base ?? (model as unknown as Stack);
  const device = inputIds.device;
  const dtype = model.parameters()[0].dtype;
  const useCache = o.useCache ?? true;
  if (model.maxPositions !== undefined && T + maxNew.v > model.maxPositions) {
    throw new RangeError(`generate: a prompt of ${T} tokens and ${maxNew.from} ${maxNew.v} need ${T + maxNew.v} positions, more than the model's ${model.maxPositions}`);
  }
  if (useCache) {
    const bytes = 2 * stack.numLayers * B * stack.numKeyValueHeads * (T + maxNew.v) * stack.headDim * (dtype === 'float32' ? 4 : 2);
    const limit = device === 'cpu' ? os.totalmem() : Infinity;
    if (bytes > limit) throw new RangeError(`generate: the key-value cache for ${B} row(s) of ${T} + ${maxNew.v} (${maxNew.from}) tokens needs ${(bytes / 2 ** 30).toFixed(1)} GB, more than this machine's ${(limit / 2 ** 30).toFixed(1)} GB`);
  }
  const cache = useCache ? new KVCache(stack.numLayers, B, stack.numKeyValueHeads, T + maxNew.v, stack.headDim, dtype, device) : null;
  const finished = new Array(B).fill(false);
  const wasTraining = model.training;
  model.eval();
  const i64 = (r: number[][]) => tensor(r, { dtype: 'int64', device });
  try {
    for (let step = 0; step < maxNew.v; step++) {
      const next = tidy(() =>
        noGrad(() => {
          const fresh = !cache || step === 0;
          const ids = fresh ? i64(seqs) : i64(seqs.map((r) => [r[r.length - 1]]));
          const pos = fresh ? i64(positions) : i64(positions.map((r) => [r[r.length - 1]]));
          const out = model.forward({ inputIds: ids, attentionMask: padded ? i64(mask) : null, positionIds: pos, cache });
          let scores = out.logits.select(1, -1).float(); // (B, V)
          if (penalty.v !== 1) {
            const seen = i64(seqs);
            const s = scores.gather(1, seen);
            scores = scores.scatter(1, seen, where(s.lt(0), s.mul(penalty.v), s.div(penalty.v)));
          }
          if (!doSample) return scores.argmax(-1).toNumbers();
          if (temperature.v !== 1) scores = scores.div(temperature.v);
          if (topK.v > 0) {
            const k = Math.min(topK.v, vocab);
            const kth = scores.topk(k, -1).values.slice(1, k - 1); // (B, 1)
            scores = scores.maskedFill(scores.lt(kth), -Infinity);
          }
          if (topP.v < 1) {
            const sorted = scores.sort(-1, false);
            const cum = sorted.values.softmax(-1).cumsum(-1);
            const V = scores.size(1);
            // keep at least one token: the most likely (last in ascending order)
            const drop = cum.le(1 - topP.v).logicalAnd(arange(0, V, 1, { dtype: 'int64', device }).lt(V - 1));
            const dropOrig = drop.long().scatter(1, sorted.indices, drop.long()).ne(0);
            scores = scores.maskedFill(dropOrig, -Infinity);
          }
          return multinomial(scores.softmax(-1), 1).view(-1).toNumbers();
        }),
      );
      for (let b = 0; b < B; b++) {
        const tok = finished[b] ? pad! : next[b];
        seqs[b].push(tok);
        mask[b].push(1);
        positions[b].push(nextPos[b]++);
        if (!finished[b] && eos.includes(tok)) finished[b] = true;
      }
      const tokens = seqs.map((r) => r[r.length - 1]);
      o.onStep?.(tokens, step);
      yield { tokens, step };
      if (eos.length > 0 && finished.every((f) => f)) break;
    }
  } finally {
    cache?.dispose();
    if (wasTraining) model.train();
  }
  return i64(seqs);
}
