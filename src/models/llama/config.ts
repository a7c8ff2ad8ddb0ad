// LlamaConfig, and the Mistral, Qwen2, Qwen3 and SmolLM3 configs that the same implementation serves:
// Hugging Face's field names, read straight from config.json, each model_type with transformers'
// defaults. What a model_type changes in the modules is decided here, once (ATTENTION_QUIRKS).
import { ACTIVATIONS, Activation } from '../../nn/activations';
import { RopeConfig } from '../../nn/rotary';
import { checkParameterCount, ConfigReader, LabelFields, labelFields } from '../config';

export type LlamaModelType = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'smollm3';

export interface LlamaConfig extends LabelFields {
  model_type: LlamaModelType;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  hidden_act: Activation;
  max_position_embeddings: number;
  initializer_range: number;
  rms_norm_eps: number;
  tie_word_embeddings: boolean;
  attention_dropout: number;
  /** bias on q, k, v and o (llama); qwen2 has it on q, k, v only */
  attention_bias: boolean;
  mlp_bias: boolean;
  bos_token_id: number | number[] | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  /** Every other field of config.json (rope_theta, rope_scaling or rope_parameters, ...), kept so that a saved config round-trips. */
  [extra: string]: unknown;
}

type Defaults = { vocab: number; hidden: number; inter: number; kv: number | null; maxPos: number; tie: boolean; bos: number | null; eos: number | null; heads?: number; layers?: number; pad?: number };
const DEFAULTS: Record<LlamaModelType, Defaults> = {
  llama: { vocab: 32000, hidden: 4096, inter: 11008, kv: null, maxPos: 2048, tie: false, bos: 1, eos: 2 },
  mistral: { vocab: 32000, hidden: 4096, inter: 14336, kv: 8, maxPos: 4096 * 32, tie: false, bos: 1, eos: 2 },
  qwen2: { vocab: 151936, hidden: 4096, inter: 22016, kv: 32, maxPos: 32768, tie: false, bos: null, eos: null },
  qwen3: { vocab: 151936, hidden: 4096, inter: 22016, kv: 32, maxPos: 32768, tie: false, bos: null, eos: null },
  smollm3: { vocab: 128256, hidden: 2048, inter: 11008, kv: 4, maxPos: 32768, tie: true, bos: 128000, eos: 128001, heads: 16, layers: 36, pad: 128004 },
};

/**
 * How each model_type's attention differs from Llama's (transformers' modeling_qwen2.py and
 * modeling_qwen3.py): qwen2 has a bias on q, k and v (not o) whatever attention_bias says;
 * qwen3 normalises each head's queries and keys (q_norm, k_norm: RMSNorm over head_dim, after
 * the projection, before rotary) and takes head_dim from its config (128 by default).
 */
export const ATTENTION_QUIRKS: Record<LlamaModelType, { qkvBias?: boolean; qkNorm?: boolean; defaultHeadDim?: number }> = {
  llama: {},
  mistral: {},
  qwen2: { qkvBias: true },
  qwen3: { qkNorm: true, defaultHeadDim: 128 },
  smollm3: {},
};

export function llamaConfig(raw: Record<string, unknown>, where = 'config.json', overrides: Record<string, unknown> = {}): LlamaConfig {
  const src = { ...raw, ...overrides };
  const r = new ConfigReader(src, where);
  const type = (src.model_type ?? 'llama') as LlamaModelType;
  if (!(type in DEFAULTS)) r.fail(`model_type is '${String(type)}', expected ${Object.keys(DEFAULTS).join(', ')}`);
  const d = DEFAULTS[type];
  const vocab = r.int('vocab_size', d.vocab);
  const hidden = r.int('hidden_size', d.hidden);
  const heads = r.int('num_attention_heads', d.heads ?? 32);
  const kv = r.int('num_key_value_heads', d.kv ?? heads);
  if (heads % kv !== 0) r.fail(`num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kv}`);
  const quirks = ATTENTION_QUIRKS[type];
  const headDim = src.head_dim === undefined || src.head_dim === null ? (quirks.defaultHeadDim ?? Math.floor(hidden / heads)) : r.int('head_dim', null);
  if (headDim % 2 !== 0) r.fail(`head_dim ${headDim} must be even (rotary embeddings rotate pairs)`);
  const c: LlamaConfig = {
    ...src,
    model_type: type,
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: r.int('intermediate_size', d.inter),
    num_hidden_layers: r.int('num_hidden_layers', d.layers ?? 32),
    num_attention_heads: heads,
    num_key_value_heads: kv,
    head_dim: headDim,
    hidden_act: r.oneOf('hidden_act', 'silu', Object.keys(ACTIVATIONS) as Activation[]),
    max_position_embeddings: r.int('max_position_embeddings', d.maxPos),
    initializer_range: r.number('initializer_range', 0.02, { min: 0 }),
    rms_norm_eps: r.number('rms_norm_eps', 1e-6, { above: 0 }),
    tie_word_embeddings: r.bool('tie_word_embeddings', d.tie),
    attention_dropout: r.prob('attention_dropout', 0),
    attention_bias: quirks.qkvBias ?? (type === 'mistral' ? false : r.bool('attention_bias', false)),
    mlp_bias: type === 'llama' || type === 'smollm3' ? r.bool('mlp_bias', false) : false,
    bos_token_id: r.tokenIds('bos_token_id', d.bos),
    eos_token_id: r.tokenIds('eos_token_id', d.eos),
    pad_token_id: r.tokenId('pad_token_id', vocab, d.pad ?? null),
    ...labelFields(r, overrides),
  };
  delete c.num_labels;
  ropeConfig(c, r); // validated now, not at the first forward
  ropeLayers(c, r);
  slidingWindows(c, r);
  const h = hidden;
  const perLayer = h * headDim * (heads * 2 + kv * 2) + 3 * h * c.intermediate_size + 2 * h + (quirks.qkNorm ? 2 * headDim : 0);
  checkParameterCount(r, vocab * h * (c.tie_word_embeddings ? 1 : 2) + c.num_hidden_layers * perLayer + h, 2, `num_hidden_layers ${c.num_hidden_layers}, hidden_size ${h}, intermediate_size ${c.intermediate_size}, vocab_size ${vocab}`);
  return c;
}

/**
 * The rotary settings from transformers 5's `rope_parameters` or the older `rope_theta` +
 * `rope_scaling` (both are read by transformers; `type` is the old spelling of `rope_type`).
 */
export function ropeConfig(c: LlamaConfig, r = new ConfigReader(c, 'config.json')): RopeConfig {
  const params = (c.rope_parameters ?? c.rope_scaling ?? {}) as Record<string, unknown>;
  if (typeof params !== 'object' || Array.isArray(params)) r.fail(`rope_parameters must be an object, got ${JSON.stringify(params)}`);
  const p = new ConfigReader(params, `${r.where} (${c.rope_parameters ? 'rope_parameters' : 'rope_scaling'})`);
  const type = String(params.rope_type ?? params.type ?? 'default');
  const theta = params.rope_theta !== undefined ? p.number('rope_theta', null, { above: 0 }) : r.number('rope_theta', 10000, { above: 0 });
  const prf = params.partial_rotary_factor ?? c.partial_rotary_factor ?? 1;
  if (prf !== 1) r.fail(`partial_rotary_factor ${JSON.stringify(prf)} is not supported (only 1)`);
  const base: RopeConfig = { dim: c.head_dim, theta, type: 'default', maxPositionEmbeddings: c.max_position_embeddings };
  if (type === 'default') return base;
  if (type === 'linear' || type === 'dynamic') return { ...base, type, factor: p.number('factor', null, { min: 1 }) };
  if (type === 'llama3') {
    const cfg: RopeConfig = {
      ...base,
      type,
      factor: p.number('factor', null, { min: 1 }),
      lowFreqFactor: p.number('low_freq_factor', null, { above: 0 }),
      highFreqFactor: p.number('high_freq_factor', null, { above: 0 }),
      originalMaxPositionEmbeddings: p.int('original_max_position_embeddings', null),
    };
    if (!(cfg.highFreqFactor! > cfg.lowFreqFactor!)) p.fail(`high_freq_factor ${cfg.highFreqFactor} must exceed low_freq_factor ${cfg.lowFreqFactor}`);
    return cfg;
  }
  return p.fail(`rope type '${type}' is not supported (supported: default, linear, dynamic, llama3)`);
}

/**
 * Whether each layer applies rotary embeddings: all of them, but SmolLM3's no_rope_layers (1: rope,
 * 0: none), by default every no_rope_layer_interval-th layer (4) without.
 */
export function ropeLayers(c: LlamaConfig, r = new ConfigReader(c, 'config.json')): boolean[] {
  const n = c.num_hidden_layers;
  if (c.model_type !== 'smollm3') return new Array(n).fill(true);
  if (Array.isArray(c.no_rope_layers)) {
    if (c.no_rope_layers.length !== n) r.fail(`no_rope_layers has ${c.no_rope_layers.length} entries for ${n} layers`);
    return c.no_rope_layers.map((v, i) => (v === 0 || v === 1 || typeof v === 'boolean' ? Boolean(v) : r.fail(`no_rope_layers[${i}] is ${JSON.stringify(v)}, expected 0 or 1`)));
  }
  const every = r.int('no_rope_layer_interval', 4, 1);
  return Array.from({ length: n }, (_, i) => (i + 1) % every !== 0);
}

/** Each layer's sliding window (null: full causal attention), as mistral, qwen2, qwen3 and smollm3 configure it. */
export function slidingWindows(c: LlamaConfig, r = new ConfigReader(c, 'config.json')): (number | null)[] {
  const n = c.num_hidden_layers;
  if (c.model_type === 'smollm3') {
    // transformers: layers without rope slide when use_sliding_window and a window are set
    const on = r.bool('use_sliding_window', false);
    const window = c.sliding_window === undefined || c.sliding_window === null ? null : r.int('sliding_window', null);
    const rope = ropeLayers(c, r);
    const types = Array.isArray(c.layer_types) ? c.layer_types : rope.map((has) => (on && window !== null && !has ? 'sliding_attention' : 'full_attention'));
    if (types.length !== n) r.fail(`layer_types has ${types.length} entries for ${n} layers`);
    return types.map((t) => (on && t === 'sliding_attention' ? window : null));
  }
  // transformers' default window (4096) applies when config.json has no sliding_window; null means none
  const window = c.sliding_window === null ? null : r.int('sliding_window', 4096);
  if (c.model_type === 'mistral') return new Array(n).fill(window);
  if (c.model_type === 'qwen2' || c.model_type === 'qwen3') {
    const on = r.bool('use_sliding_window', false);
    if (Array.isArray(c.layer_types)) {
      if (c.layer_types.length !== n) r.fail(`layer_types has ${c.layer_types.length} entries for ${n} layers`);
      return c.layer_types.map((t, i) => {
        if (t === 'full_attention') return null;
        if (t === 'sliding_attention') return on ? window : null; // transformers: no window unless use_sliding_window
        return r.fail(`layer_types[${i}] '${String(t)}' is not full_attention or sliding_attention`);
      });
    }
    const from = r.int('max_window_layers', 28, 0);
    return Array.from({ length: n }, (_, i) => (on && window !== null && i >= from ? window : null));
  }
  return new Array(n).fill(null);
}
