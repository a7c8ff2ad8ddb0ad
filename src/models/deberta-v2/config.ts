// DebertaV2Config (DeBERTa-v2 and v3): Hugging Face's field names, read straight from
// config.json, with transformers' defaults (its class defaults, and the getattr defaults of the
// fields the modeling code reads that way).
import { ACTIVATIONS, Activation } from '../../nn/activations';
import { checkParameterCount, ConfigReader, LabelFields, labelFields } from '../config';

export type PosAttType = 'c2p' | 'p2c';

export interface DebertaV2Config extends LabelFields {
  model_type: 'deberta-v2';
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: Activation;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  /** 0: no token type table */
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  relative_attention: boolean;
  /** < 1: max_position_embeddings */
  max_relative_positions: number;
  /** > 0: relative distances in logarithmic buckets (v3: 256) */
  position_buckets: number;
  pad_token_id: number;
  /** absolute position embeddings added to the input (v3: false) */
  position_biased_input: boolean;
  /** which disentangled terms attention adds (config.json may give "p2c|c2p") */
  pos_att_type: PosAttType[];
  /** relative positions projected by query_proj/key_proj instead of pos_query_proj/pos_key_proj */
  share_att_key: boolean;
  /** "layer_norm": the relative embeddings pass through encoder.LayerNorm */
  norm_rel_ebd: string;
  /** > 0: a convolution layer after the first layer */
  conv_kernel_size: number;
  conv_groups: number;
  conv_act: Activation;
  embedding_size: number;
  pooler_hidden_size: number;
  pooler_dropout: number;
  pooler_hidden_act: Activation;
  /** classifier dropout; null: hidden_dropout_prob */
  cls_dropout: number | null;
  /** the masked-LM head: cls.predictions (legacy) or lm_predictions.lm_head */
  legacy: boolean;
  [extra: string]: unknown;
}

export function debertaV2Config(raw: Record<string, unknown>, where = 'config.json', overrides: Record<string, unknown> = {}): DebertaV2Config {
  const src = { ...raw, ...overrides };
  const r = new ConfigReader(src, where);
  if (src.model_type !== undefined && src.model_type !== 'deberta-v2') r.fail(`model_type is '${String(src.model_type)}', expected 'deberta-v2'`);
  const acts = Object.keys(ACTIVATIONS) as Activation[];
  const vocab = r.int('vocab_size', 128100);
  const hidden = r.int('hidden_size', 1536);
  const heads = r.int('num_attention_heads', 24);
  const rawPat = src.pos_att_type ?? [];
  const pat: unknown[] = typeof rawPat === 'string' ? rawPat.toLowerCase().split('|').map((x) => x.trim()) : Array.isArray(rawPat) ? rawPat : r.fail(`pos_att_type must be a list or a "c2p|p2c" string, got ${JSON.stringify(rawPat)}`);
  for (const t of pat) if (t !== 'c2p' && t !== 'p2c') r.fail(`pos_att_type entry ${JSON.stringify(t)} is not supported (expected c2p or p2c)`);
  const rawNre = src.norm_rel_ebd ?? 'none';
  const nre: string = typeof rawNre === 'string' ? rawNre : r.fail(`norm_rel_ebd must be a string such as "layer_norm" or "none", got ${JSON.stringify(rawNre)}`);
  for (const t of nre.toLowerCase().split('|').map((x) => x.trim())) if (t !== 'layer_norm' && t !== 'none') r.fail(`norm_rel_ebd entry '${t}' is not supported (expected layer_norm or none)`);
  const c: DebertaV2Config = {
    ...src,
    model_type: 'deberta-v2',
    vocab_size: vocab,
    hidden_size: hidden,
    num_hidden_layers: r.int('num_hidden_layers', 24),
    num_attention_heads: heads,
    intermediate_size: r.int('intermediate_size', 6144),
    hidden_act: r.oneOf('hidden_act', 'gelu', acts),
    hidden_dropout_prob: r.prob('hidden_dropout_prob', 0.1),
    attention_probs_dropout_prob: r.prob('attention_probs_dropout_prob', 0.1),
    max_position_embeddings: r.int('max_position_embeddings', 512),
    type_vocab_size: r.int('type_vocab_size', 0, 0),
    initializer_range: r.number('initializer_range', 0.02, { min: 0 }),
    layer_norm_eps: r.number('layer_norm_eps', 1e-7, { above: 0 }),
    relative_attention: r.bool('relative_attention', false),
    max_relative_positions: r.number('max_relative_positions', -1, { int: true }),
    position_buckets: r.number('position_buckets', -1, { int: true }),
    pad_token_id: r.tokenId('pad_token_id', vocab, 0)!,
    position_biased_input: r.bool('position_biased_input', true),
    pos_att_type: pat as PosAttType[],
    share_att_key: r.bool('share_att_key', false),
    norm_rel_ebd: nre,
    conv_kernel_size: r.int('conv_kernel_size', 0, 0),
    conv_groups: r.int('conv_groups', 1),
    conv_act: r.oneOf('conv_act', 'tanh', acts),
    embedding_size: r.int('embedding_size', hidden),
    pooler_hidden_size: r.int('pooler_hidden_size', hidden),
    pooler_dropout: r.prob('pooler_dropout', 0),
    pooler_hidden_act: r.oneOf('pooler_hidden_act', 'gelu', acts),
    cls_dropout: src.cls_dropout === undefined || src.cls_dropout === null ? null : r.prob('cls_dropout', 0),
    legacy: r.bool('legacy', true),
    ...labelFields(r, overrides),
  };
  delete c.num_labels;
  if (hidden % heads !== 0) r.fail(`hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  if (src.attention_head_size !== undefined && src.attention_head_size !== hidden / heads) {
    r.fail(`attention_head_size ${JSON.stringify(src.attention_head_size)} is not supported (only hidden_size / num_attention_heads = ${hidden / heads})`);
  }
  if (c.pooler_hidden_size !== hidden) r.fail(`pooler_hidden_size ${c.pooler_hidden_size} must equal hidden_size ${hidden} (the pooler reads the first token's hidden state)`);
  if (c.conv_kernel_size > 0 && c.conv_kernel_size % 2 === 0) r.fail(`conv_kernel_size ${c.conv_kernel_size} must be odd (padding keeps the length)`);
  if (c.conv_kernel_size > 0 && c.conv_groups !== 1) r.fail(`conv_groups ${c.conv_groups} is not supported (only 1)`);
  if (c.relative_attention && c.position_buckets > 0 && c.position_buckets < 4) r.fail(`position_buckets ${c.position_buckets} must be at least 4 (or <= 0 for none)`);
  const h = hidden;
  const perLayer = 4 * h * h + 2 * h * c.intermediate_size + 9 * h + c.intermediate_size + (c.share_att_key ? 0 : 2 * h * h);
  checkParameterCount(r, (vocab + c.max_position_embeddings) * c.embedding_size + c.num_hidden_layers * perLayer, 4, `num_hidden_layers ${c.num_hidden_layers}, hidden_size ${h}, intermediate_size ${c.intermediate_size}, vocab_size ${vocab}`);
  return c;
}

/** The relative position span attention sees: position_buckets, else max_relative_positions (max_position_embeddings when < 1). */
export function relativeSpan(c: DebertaV2Config): { maxRelativePositions: number; span: number } {
  const maxRel = c.max_relative_positions < 1 ? c.max_position_embeddings : c.max_relative_positions;
  return { maxRelativePositions: maxRel, span: c.position_buckets > 0 ? c.position_buckets : maxRel };
}
