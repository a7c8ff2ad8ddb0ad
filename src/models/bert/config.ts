// BertConfig: Hugging Face's field names, read straight from config.json.
// Defaults are Hugging Face's BertConfig defaults (bert-base-uncased), declared here once.
import * as os from 'os';
import { Activation, ACTIVATIONS } from '../../nn/activations';
import { ConfigError, ConfigReader, labelFields, ProblemType } from '../config';

export type { ProblemType } from '../config';

export interface BertConfig {
  /** 'bert', or a family that shares BERT's encoder (roberta, xlm-roberta, electra) */
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: Activation;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  /** Dropout before classification heads; null: hidden_dropout_prob. */
  classifier_dropout: number | null;
  /** Labels of classification heads, keyed "0", "1", ... as in config.json. */
  id2label: Record<string, string>;
  label2id: Record<string, number>;
  problem_type: ProblemType | null;
  architectures?: string[];
  /** Every other field of config.json, kept so that a saved config round-trips. */
  [extra: string]: unknown;
}

export const BERT_DEFAULTS = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu' as Activation,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  classifier_dropout: null,
  problem_type: null,
} as const;

export { ConfigError, numLabels } from '../config';

/**
 * Refuses a config whose float32 weights would not fit in this machine's memory (a typo such as
 * num_hidden_layers 1e9 would otherwise allocate until the process is killed).
 */
function checkSize(c: BertConfig, where: string): void {
  const h = c.hidden_size;
  const perLayer = 4 * h * h + 2 * h * c.intermediate_size + 9 * h + c.intermediate_size;
  const params = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * h + c.num_hidden_layers * perLayer + h * h;
  const bytes = params * 4;
  if (bytes > os.totalmem()) {
    const gb = (x: number) => (x / 2 ** 30).toFixed(x < 2 ** 30 ? 2 : 0);
    throw new ConfigError(where, `the model would hold ${params.toExponential(2)} parameters (${gb(bytes)} GB in float32), more than this machine's ${gb(os.totalmem())} GB of memory: check num_hidden_layers ${c.num_hidden_layers}, hidden_size ${h}, intermediate_size ${c.intermediate_size}, vocab_size ${c.vocab_size}`);
  }
}

/** A family whose config is BERT's fields with its own defaults (RobertaConfig, ElectraConfig, ...). */
export interface BertLikeFamily {
  modelType: string;
  defaults: Partial<Record<keyof typeof BERT_DEFAULTS, unknown>>;
}

/**
 * Validates a parsed config.json as a BERT config and fills Hugging Face's defaults.
 * `where` names the file in errors. `overrides` (num_labels, id2label, problem_type, ...) win.
 * `family` gives another model_type's defaults for the same fields (RoBERTa's pad_token_id 1, ...).
 */
export function bertConfig(
  raw: Record<string, unknown>,
  where = 'config.json',
  overrides: Record<string, unknown> = {},
  family: BertLikeFamily = { modelType: 'bert', defaults: {} },
): BertConfig {
  const src: Record<string, unknown> = { ...raw, ...overrides };
  const type = family.modelType;
  if (src.model_type !== undefined && src.model_type !== type) {
    throw new ConfigError(where, `model_type is '${String(src.model_type)}', expected '${type}'`);
  }
  const defaults: Record<string, unknown> = { ...BERT_DEFAULTS, ...family.defaults };
  const c: Record<string, unknown> = { ...src, model_type: type };
  const num = (k: keyof typeof BERT_DEFAULTS, int: boolean) => {
    const v = src[k] ?? defaults[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isInteger(v))) {
      throw new ConfigError(where, `${k} must be ${int ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
    }
    c[k] = v;
  };
  for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings', 'type_vocab_size', 'pad_token_id'] as const) num(k, true);
  for (const k of ['hidden_dropout_prob', 'attention_probs_dropout_prob', 'initializer_range', 'layer_norm_eps'] as const) num(k, false);
  const atLeast = (k: string, min: number) => {
    if ((c[k] as number) < min) throw new ConfigError(where, `${k} must be >= ${min}, got ${c[k]}`);
  };
  for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings', 'type_vocab_size']) atLeast(k, 1);
  atLeast('pad_token_id', 0);
  atLeast('initializer_range', 0);
  for (const k of ['hidden_dropout_prob', 'attention_probs_dropout_prob']) {
    const p = c[k] as number;
    if (!(p >= 0 && p < 1)) throw new ConfigError(where, `${k} must be >= 0 and < 1, got ${p}`);
  }
  if (!((c.layer_norm_eps as number) > 0)) throw new ConfigError(where, `layer_norm_eps must be > 0, got ${c.layer_norm_eps}`);
  if ((c.pad_token_id as number) >= (c.vocab_size as number)) throw new ConfigError(where, `pad_token_id ${c.pad_token_id} is not below vocab_size ${c.vocab_size}`);
  checkSize(c as unknown as BertConfig, where);
  const act = src.hidden_act ?? defaults.hidden_act;
  if (typeof act !== 'string' || !(act in ACTIVATIONS)) {
    throw new ConfigError(where, `hidden_act ${JSON.stringify(act)} is not supported (expected one of ${Object.keys(ACTIVATIONS).join(', ')})`);
  }
  c.hidden_act = act;
  if ((c.hidden_size as number) % (c.num_attention_heads as number) !== 0) {
    throw new ConfigError(where, `hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`);
  }
  const pet = src.position_embedding_type ?? 'absolute';
  if (pet !== 'absolute') throw new ConfigError(where, `position_embedding_type '${String(pet)}' is not supported (only 'absolute')`);
  if (src.is_decoder === true || src.add_cross_attention === true) {
    throw new ConfigError(where, `decoder ${type} (is_decoder / add_cross_attention) is not supported`);
  }
  const cd = src.classifier_dropout ?? null;
  if (cd !== null && (typeof cd !== 'number' || !(cd >= 0 && cd < 1))) throw new ConfigError(where, `classifier_dropout must be a number in [0, 1) or null, got ${JSON.stringify(cd)}`);
  c.classifier_dropout = cd;
  Object.assign(c, labelFields(new ConfigReader(src, where), overrides));
  delete c.num_labels;
  return c as BertConfig;
}
