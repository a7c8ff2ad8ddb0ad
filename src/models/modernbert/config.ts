// ModernBertConfig: Hugging Face's field names, read straight from config.json, with transformers'
// defaults. Both spellings of the layer pattern and rotary bases are read: transformers 5's
// layer_types + rope_parameters, and the Hub's older global_attn_every_n_layers +
// global_rope_theta / local_rope_theta.
import { ACTIVATIONS, Activation } from '../../nn/activations';
import { checkParameterCount, ConfigReader, LabelFields, labelFields } from '../config';

export type LayerType = 'full_attention' | 'sliding_attention';

export interface ModernBertConfig extends LabelFields {
  model_type: 'modernbert';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  hidden_activation: Activation;
  max_position_embeddings: number;
  initializer_range: number;
  /**
   * Weights are drawn truncated at +-cutoff * std: absent 2.0, null 3 (transformers' readings).
   * Left absent when config.json has none, so that a saved config.json stays as it was.
   */
  initializer_cutoff_factor?: number | null;
  norm_eps: number;
  norm_bias: boolean;
  pad_token_id: number;
  attention_bias: boolean;
  attention_dropout: number;
  layer_types: LayerType[];
  /** the whole local window: a sliding layer attends |query - key| <= local_attention / 2 */
  local_attention: number;
  embedding_dropout: number;
  mlp_bias: boolean;
  mlp_dropout: number;
  decoder_bias: boolean;
  classifier_pooling: 'cls' | 'mean';
  classifier_dropout: number;
  classifier_bias: boolean;
  classifier_activation: Activation;
  /** masked LM with labels: logits only at the labelled positions */
  sparse_prediction: boolean;
  sparse_pred_ignore_index: number;
  [extra: string]: unknown;
}

/** Each layer type's rotary base (rope_theta). */
export function ropeThetas(c: ModernBertConfig, where = 'config.json'): Record<LayerType, number> {
  const r = new ConfigReader(c, where);
  const params = (c.rope_parameters ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const theta = (type: LayerType, oldKey: string, def: number): number => {
    const p = params[type];
    if (p && typeof p === 'object') {
      const pr = new ConfigReader(p, `${where} (rope_parameters.${type})`);
      const kind = p.rope_type ?? p.type ?? 'default';
      if (kind !== 'default') pr.fail(`rope type '${String(kind)}' is not supported for ModernBERT (only default)`);
      if (p.rope_theta !== undefined) return pr.number('rope_theta', null, { above: 0 });
    }
    return r.number(oldKey, def, { above: 0 });
  };
  return { full_attention: theta('full_attention', 'global_rope_theta', 160000), sliding_attention: theta('sliding_attention', 'local_rope_theta', 10000) };
}

export function modernBertConfig(raw: Record<string, unknown>, where = 'config.json', overrides: Record<string, unknown> = {}): ModernBertConfig {
  const src = { ...raw, ...overrides };
  const r = new ConfigReader(src, where);
  if (src.model_type !== undefined && src.model_type !== 'modernbert') r.fail(`model_type is '${String(src.model_type)}', expected 'modernbert'`);
  const acts = Object.keys(ACTIVATIONS) as Activation[];
  const vocab = r.int('vocab_size', 50368);
  const layers = r.int('num_hidden_layers', 22);
  let layerTypes: LayerType[];
  if (src.layer_types !== undefined && src.layer_types !== null) {
    if (!Array.isArray(src.layer_types) || src.layer_types.length !== layers) r.fail(`layer_types must list one entry per layer (${layers}), got ${JSON.stringify(src.layer_types)}`);
    layerTypes = (src.layer_types as unknown[]).map((t, i) => (t === 'full_attention' || t === 'sliding_attention' ? t : r.fail(`layer_types[${i}] ${JSON.stringify(t)} is not full_attention or sliding_attention`)));
  } else {
    const every = r.int('global_attn_every_n_layers', 3);
    layerTypes = Array.from({ length: layers }, (_, i) => (i % every ? 'sliding_attention' : 'full_attention'));
  }
  const c: ModernBertConfig = {
    ...src,
    model_type: 'modernbert',
    vocab_size: vocab,
    hidden_size: r.int('hidden_size', 768),
    intermediate_size: r.int('intermediate_size', 1152),
    num_hidden_layers: layers,
    num_attention_heads: r.int('num_attention_heads', 12),
    hidden_activation: r.oneOf('hidden_activation', 'gelu', acts),
    max_position_embeddings: r.int('max_position_embeddings', 8192),
    initializer_range: r.number('initializer_range', 0.02, { min: 0 }),
    ...('initializer_cutoff_factor' in src
      ? { initializer_cutoff_factor: src.initializer_cutoff_factor === null ? null : r.number('initializer_cutoff_factor', 2.0, { above: 0 }) }
      : {}),
    norm_eps: r.number('norm_eps', 1e-5, { above: 0 }),
    norm_bias: r.bool('norm_bias', false),
    pad_token_id: r.tokenId('pad_token_id', vocab, 50283)!,
    attention_bias: r.bool('attention_bias', false),
    attention_dropout: r.prob('attention_dropout', 0),
    layer_types: layerTypes,
    local_attention: r.int('local_attention', 128),
    embedding_dropout: r.prob('embedding_dropout', 0),
    mlp_bias: r.bool('mlp_bias', false),
    mlp_dropout: r.prob('mlp_dropout', 0),
    decoder_bias: r.bool('decoder_bias', true),
    classifier_pooling: r.oneOf('classifier_pooling', 'cls', ['cls', 'mean'] as const),
    classifier_dropout: r.prob('classifier_dropout', 0),
    classifier_bias: r.bool('classifier_bias', false),
    classifier_activation: r.oneOf('classifier_activation', 'gelu', acts),
    sparse_prediction: r.bool('sparse_prediction', false),
    sparse_pred_ignore_index: r.number('sparse_pred_ignore_index', -100, { int: true }),
    ...labelFields(r, overrides),
  };
  delete c.num_labels;
  if (c.hidden_size % c.num_attention_heads !== 0) r.fail(`hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`);
  if ((c.hidden_size / c.num_attention_heads) % 2 !== 0) r.fail(`the head size ${c.hidden_size / c.num_attention_heads} must be even (rotary embeddings rotate pairs)`);
  ropeThetas(c, where); // validated now, not at the first forward
  const scaling = src.rope_scaling as Record<string, unknown> | null | undefined;
  if (scaling !== undefined && scaling !== null && (scaling.rope_type ?? scaling.type ?? 'default') !== 'default') {
    r.fail(`rope_scaling ${JSON.stringify(scaling)} is not supported for ModernBERT (only the default rotary embedding)`);
  }
  const h = c.hidden_size;
  const perLayer = 4 * h * h + 3 * h * c.intermediate_size + 4 * h;
  checkParameterCount(r, vocab * h + layers * perLayer, 4, `num_hidden_layers ${layers}, hidden_size ${h}, intermediate_size ${c.intermediate_size}, vocab_size ${vocab}`);
  return c;
}
