// What every family's config parser shares: typed reads of config.json fields with ranges, the
// label maps of classification heads, and the memory check. Field names are Hugging Face's.
import * as os from 'os';
import type { Tensor } from '../tensor/tensor';

export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

export class ConfigError extends Error {
  constructor(where: string, msg: string) {
    super(`${where}: ${msg}`);
    this.name = 'ConfigError';
  }
}

/** The label fields every PretrainedConfig carries. */
export interface LabelFields {
  id2label: Record<string, string>;
  label2id: Record<string, number>;
  problem_type: ProblemType | null;
}

/**
 * The word embedding matrix an output layer shares, or undefined for a weight of its own:
 * transformers ties them unless config.json's tie_word_embeddings is false.
 */
export function tiedWeight(config: object, wordEmbeddings: Tensor): Tensor | undefined {
  return (config as { tie_word_embeddings?: unknown }).tie_word_embeddings === false ? undefined : wordEmbeddings;
}

/** num_labels as Hugging Face derives it: the size of id2label (2 when absent). */
export function numLabels(c: { id2label: Record<string, string> }): number {
  return Object.keys(c.id2label).length;
}

/** More classes than any classification head is trained on (a typo like 1e8 would exhaust memory building label maps). */
const MAX_LABELS = 1_000_000;

function labelMaps(n: number): { id2label: Record<string, string>; label2id: Record<string, number> } {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    id2label[String(i)] = `LABEL_${i}`;
    label2id[`LABEL_${i}`] = i;
  }
  return { id2label, label2id };
}

/** Typed reads of one config.json, each failure naming the file and field. */
export class ConfigReader {
  constructor(
    readonly src: Record<string, unknown>,
    readonly where: string,
  ) {}
  fail(msg: string): never {
    throw new ConfigError(this.where, msg);
  }
  /** A number (integer when int) in [min, max]; the default when the field is absent or null. */
  number(k: string, def: number | null, o: { int?: boolean; min?: number; max?: number; above?: number } = {}): number {
    const v = this.src[k] ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v) || (o.int && !Number.isInteger(v))) this.fail(`${k} must be ${o.int ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
    if (o.min !== undefined && v < o.min) this.fail(`${k} must be >= ${o.min}, got ${v}`);
    if (o.max !== undefined && v > o.max) this.fail(`${k} must be <= ${o.max}, got ${v}`);
    if (o.above !== undefined && !(v > o.above)) this.fail(`${k} must be > ${o.above}, got ${v}`);
    return v;
  }
  int(k: string, def: number | null, min = 1): number {
    return this.number(k, def, { int: true, min });
  }
  /** A dropout probability in [0, 1). */
  prob(k: string, def: number): number {
    const p = this.number(k, def);
    if (!(p >= 0 && p < 1)) this.fail(`${k} must be >= 0 and < 1, got ${p}`);
    return p;
  }
  bool(k: string, def: boolean): boolean {
    const v = this.src[k] ?? def;
    if (typeof v !== 'boolean') this.fail(`${k} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  /**
   * A non-negative integer token id (below vocabSize when given: ids that index the embedding),
   * or null when absent (or `def` when given).
   */
  tokenId(k: string, vocabSize: number | null, def: number | null = null): number | null {
    const v = this.src[k] === undefined ? def : this.src[k];
    if (v === undefined || v === null) return null;
    const max = vocabSize ?? Number.MAX_SAFE_INTEGER;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= max) this.fail(`${k} must be a token id in [0, ${vocabSize ?? 'inf'}), got ${JSON.stringify(this.src[k])}`);
    return v;
  }
  /** One token id or a list of them (eos_token_id of Llama 3 and others), each non-negative; kept as given. */
  tokenIds(k: string, def: number | null = null): number | number[] | null {
    const v = this.src[k] === undefined ? def : this.src[k];
    if (v === undefined || v === null) return null;
    const ok = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
    if (Array.isArray(v) ? v.length === 0 || !v.every(ok) : !ok(v)) this.fail(`${k} must be a token id or a non-empty list of them, got ${JSON.stringify(v)}`);
    return v as number | number[];
  }
  oneOf<T extends string>(k: string, def: T, allowed: readonly T[]): T {
    const v = this.src[k] ?? def;
    if (typeof v !== 'string' || !allowed.includes(v as T)) this.fail(`${k} ${JSON.stringify(v)} is not supported (expected one of ${allowed.join(', ')})`);
    return v as T;
  }
}

/**
 * id2label, label2id and problem_type as transformers reads them: id2label wins, else
 * num_labels, else 2. `overrides.num_labels` without id2label replaces the file's labels.
 */
export function labelFields(r: ConfigReader, overrides: Record<string, unknown> = {}): LabelFields {
  const src = r.src;
  const count = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_LABELS) r.fail(`${what} must be an integer from 1 to ${MAX_LABELS}, got ${JSON.stringify(v)}`);
    return v;
  };
  let maps: { id2label: Record<string, string>; label2id: Record<string, number> };
  if (overrides.num_labels !== undefined && overrides.id2label === undefined) {
    maps = labelMaps(count(overrides.num_labels, 'num_labels'));
  } else if (src.id2label && typeof src.id2label === 'object') {
    const id2label: Record<string, string> = {};
    for (const [k, v] of Object.entries(src.id2label as Record<string, unknown>)) {
      if (!/^\d+$/.test(k)) r.fail(`id2label key '${k}' is not an integer`);
      id2label[String(Number(k))] = String(v);
    }
    const n = count(Object.keys(id2label).length, 'the number of id2label entries');
    for (let i = 0; i < n; i++) if (!(String(i) in id2label)) r.fail(`id2label is missing id ${i}`);
    maps = { id2label, label2id: Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)])) };
  } else {
    maps = labelMaps(src.num_labels === undefined || src.num_labels === null ? 2 : count(src.num_labels, 'num_labels'));
  }
  const pt = src.problem_type ?? null;
  if (pt !== null && !['regression', 'single_label_classification', 'multi_label_classification'].includes(pt as string)) {
    r.fail(`problem_type '${String(pt)}' is not one of regression, single_label_classification, multi_label_classification`);
  }
  return { ...maps, problem_type: pt as ProblemType | null };
}

/**
 * Refuses a config whose weights would not fit in this machine's memory (a typo such as
 * num_hidden_layers 1e9 would otherwise allocate until the process is killed).
 */
export function checkParameterCount(r: ConfigReader, params: number, bytesPerParam: number, fields: string): void {
  const bytes = params * bytesPerParam;
  if (bytes > os.totalmem()) {
    const gb = (x: number) => (x / 2 ** 30).toFixed(x < 2 ** 30 ? 2 : 0);
    r.fail(`the model would hold ${params.toExponential(2)} parameters (${gb(bytes)} GB), more than this machine's ${gb(os.totalmem())} GB of memory: check ${fields}`);
  }
}
