// GPT2Config: Hugging Face's field names (n_embd, n_layer, ...), read straight from config.json,
// with transformers' defaults (the 124M gpt2).
import { ACTIVATIONS, Activation } from '../../nn/activations';
import { checkParameterCount, ConfigReader, LabelFields, labelFields } from '../config';

export interface GPT2Config extends LabelFields {
  model_type: 'gpt2';
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** null: 4 * n_embd */
  n_inner: number | null;
  activation_function: Activation;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  layer_norm_epsilon: number;
  initializer_range: number;
  scale_attn_weights: boolean;
  scale_attn_by_inverse_layer_idx: boolean;
  reorder_and_upcast_attn: boolean;
  tie_word_embeddings: boolean;
  bos_token_id: number | number[] | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  /** Every other field of config.json, kept so that a saved config round-trips. */
  [extra: string]: unknown;
}

export function gpt2Config(raw: Record<string, unknown>, where = 'config.json', overrides: Record<string, unknown> = {}): GPT2Config {
  const src = { ...raw, ...overrides };
  const r = new ConfigReader(src, where);
  if (src.model_type !== undefined && src.model_type !== 'gpt2') r.fail(`model_type is '${String(src.model_type)}', expected 'gpt2'`);
  if (src.add_cross_attention === true) r.fail('GPT-2 with cross-attention (add_cross_attention) is not supported');
  // its eager-attention upcasting: not implemented, so refused rather than silently ignored
  if (src.reorder_and_upcast_attn === true) r.fail('reorder_and_upcast_attn true is not supported (only false)');
  const vocab = r.int('vocab_size', 50257);
  const c: GPT2Config = {
    ...src,
    model_type: 'gpt2',
    vocab_size: vocab,
    n_positions: r.int('n_positions', 1024),
    n_embd: r.int('n_embd', 768),
    n_layer: r.int('n_layer', 12),
    n_head: r.int('n_head', 12),
    n_inner: src.n_inner === undefined || src.n_inner === null ? null : r.int('n_inner', null),
    activation_function: r.oneOf('activation_function', 'gelu_new', Object.keys(ACTIVATIONS) as Activation[]),
    resid_pdrop: r.prob('resid_pdrop', 0.1),
    embd_pdrop: r.prob('embd_pdrop', 0.1),
    attn_pdrop: r.prob('attn_pdrop', 0.1),
    layer_norm_epsilon: r.number('layer_norm_epsilon', 1e-5, { above: 0 }),
    initializer_range: r.number('initializer_range', 0.02, { min: 0 }),
    scale_attn_weights: r.bool('scale_attn_weights', true),
    scale_attn_by_inverse_layer_idx: r.bool('scale_attn_by_inverse_layer_idx', false),
    reorder_and_upcast_attn: r.bool('reorder_and_upcast_attn', false),
    tie_word_embeddings: r.bool('tie_word_embeddings', true),
    bos_token_id: r.tokenIds('bos_token_id', 50256),
    eos_token_id: r.tokenIds('eos_token_id', 50256),
    pad_token_id: r.tokenId('pad_token_id', vocab),
    ...labelFields(r, overrides),
  };
  delete c.num_labels;
  if (c.n_embd % c.n_head !== 0) r.fail(`n_embd ${c.n_embd} is not a multiple of n_head ${c.n_head}`);
  const inner = c.n_inner ?? 4 * c.n_embd;
  const h = c.n_embd;
  checkParameterCount(r, (vocab + c.n_positions) * h + c.n_layer * (4 * h * h + 2 * h * inner + 9 * h + inner), 4, `n_layer ${c.n_layer}, n_embd ${h}, n_inner ${inner}, vocab_size ${vocab}`);
  return c;
}
