// DistilBertConfig: Hugging Face's field names (dim, n_layers, n_heads, hidden_dim, ...), read
// straight from config.json, with transformers' defaults.
import { ACTIVATIONS, Activation } from '../../nn/activations';
import { checkParameterCount, ConfigReader, LabelFields, labelFields } from '../config';

export interface DistilBertConfig extends LabelFields {
  model_type: 'distilbert';
  vocab_size: number;
  max_position_embeddings: number;
  /** sinusoidal initial positions; a checkpoint's table replaces them, so forward is the same */
  sinusoidal_pos_embds: boolean;
  n_layers: number;
  n_heads: number;
  dim: number;
  hidden_dim: number;
  dropout: number;
  attention_dropout: number;
  activation: Activation;
  initializer_range: number;
  qa_dropout: number;
  seq_classif_dropout: number;
  pad_token_id: number;
  [extra: string]: unknown;
}

export function distilBertConfig(raw: Record<string, unknown>, where = 'config.json', overrides: Record<string, unknown> = {}): DistilBertConfig {
  const src = { ...raw, ...overrides };
  const r = new ConfigReader(src, where);
  if (src.model_type !== undefined && src.model_type !== 'distilbert') r.fail(`model_type is '${String(src.model_type)}', expected 'distilbert'`);
  const vocab = r.int('vocab_size', 30522);
  const c: DistilBertConfig = {
    ...src,
    model_type: 'distilbert',
    vocab_size: vocab,
    max_position_embeddings: r.int('max_position_embeddings', 512),
    sinusoidal_pos_embds: r.bool('sinusoidal_pos_embds', false),
    n_layers: r.int('n_layers', 6),
    n_heads: r.int('n_heads', 12),
    dim: r.int('dim', 768),
    hidden_dim: r.int('hidden_dim', 4 * 768),
    dropout: r.prob('dropout', 0.1),
    attention_dropout: r.prob('attention_dropout', 0.1),
    activation: r.oneOf('activation', 'gelu', Object.keys(ACTIVATIONS) as Activation[]),
    initializer_range: r.number('initializer_range', 0.02, { min: 0 }),
    qa_dropout: r.prob('qa_dropout', 0.1),
    seq_classif_dropout: r.prob('seq_classif_dropout', 0.2),
    pad_token_id: r.tokenId('pad_token_id', vocab, 0)!,
    ...labelFields(r, overrides),
  };
  delete c.num_labels;
  if (c.dim % c.n_heads !== 0) r.fail(`dim ${c.dim} is not a multiple of n_heads ${c.n_heads}`);
  const perLayer = 4 * c.dim * c.dim + 2 * c.dim * c.hidden_dim + 9 * c.dim + c.hidden_dim;
  checkParameterCount(r, (vocab + c.max_position_embeddings) * c.dim + c.n_layers * perLayer, 4, `n_layers ${c.n_layers}, dim ${c.dim}, hidden_dim ${c.hidden_dim}, vocab_size ${vocab}`);
  return c;
}
