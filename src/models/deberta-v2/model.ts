// DeBERTa-v2 / v3 (transformers' modeling_deberta_v2.py): embeddings, the disentangled-attention
// encoder; head models hold the base model as `deberta`.
import { Module, buffer } from '../../nn/module';
import { Embedding } from '../../nn/embedding';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { Tensor } from '../../tensor/tensor';
import { arange, ones } from '../../tensor/create';
import { tidy } from '../../tensor/scope';
import { BertInputs } from '../bert/model';
import { PreTrainedModel } from '../pretrained';
import { DebertaV2Config } from './config';
import { DebertaV2Encoder } from './encoder';

/**
 * Word embeddings (+ absolute positions when position_biased_input, + token types when
 * type_vocab_size > 0) at embedding_size, embed_proj to hidden_size when they differ, LayerNorm,
 * padding positions zeroed, dropout.
 */
export class DebertaV2Embeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding | null;
  token_type_embeddings: Embedding | null;
  embed_proj: Linear | null;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  position_ids: Tensor;
  constructor(c: DebertaV2Config) {
    super();
    const std = c.initializer_range;
    const E = c.embedding_size;
    this.word_embeddings = new Embedding(c.vocab_size, E, c.pad_token_id, std);
    this.position_embeddings = c.position_biased_input ? new Embedding(c.max_position_embeddings, E, null, std) : null;
    this.token_type_embeddings = c.type_vocab_size > 0 ? new Embedding(c.type_vocab_size, E, null, std) : null;
    this.embed_proj = E !== c.hidden_size ? new Linear(E, c.hidden_size, { bias: false, std }) : null;
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.dropout = new Dropout(c.hidden_dropout_prob);
    this.position_ids = buffer(tidy(() => arange(c.max_position_embeddings).unsqueeze(0)), { persistent: false }); // (1, P)
  }

  /** real (B, T) bool, true for real tokens. */
  forward(inputIds: Tensor, real: Tensor, tokenTypeIds?: Tensor | null, positionIds?: Tensor | null): Tensor {
    return tidy(() => {
      let x = this.word_embeddings.forward(inputIds); // (B, T, E)
      if (this.position_embeddings) {
        const T = inputIds.size(1);
        if (!positionIds && T > this.position_embeddings.numEmbeddings) {
          throw new RangeError(`sequence length ${T} exceeds max_position_embeddings ${this.position_embeddings.numEmbeddings}`);
        }
        x = x.add(this.position_embeddings.forward(positionIds ?? this.position_ids.slice(1, 0, T)));
      }
      if (this.token_type_embeddings) {
        // absent token types are all zero: row 0 of the table
        x = x.add(tokenTypeIds ? this.token_type_embeddings.forward(tokenTypeIds) : this.token_type_embeddings.weight.select(0, 0));
      }
      if (this.embed_proj) x = this.embed_proj.forward(x); // (B, T, C)
      const y = this.LayerNorm.forward(x);
      return this.dropout.forward(y.mul(real.unsqueeze(-1).to(y.dtype))); // (B, T, C)
    });
  }
}

export class DebertaV2Model extends PreTrainedModel<DebertaV2Config> {
  readonly architecture = 'DebertaV2Model';
  readonly basePrefix = null;
  readonly baseModelPrefix = 'deberta';
  readonly headKeys = [];
  readonly ignoredKeys: RegExp[];
  embeddings: DebertaV2Embeddings;
  encoder: DebertaV2Encoder;

  constructor(config: DebertaV2Config) {
    super(config);
    this.embeddings = new DebertaV2Embeddings(config);
    this.encoder = new DebertaV2Encoder(config);
    // heads' keys, the legacy position_ids buffer, and (transformers' _keys_to_ignore_on_load_unexpected)
    // absolute positions a checkpoint may carry without using them
    this.ignoredKeys = [/^(cls|lm_predictions|mask_predictions|pooler|classifier|qa_outputs)\./, /(^|\.)embeddings\.position_ids$/];
    if (!config.position_biased_input) this.ignoredKeys.push(/(^|\.)embeddings\.position_embeddings\./);
  }

  forward(x: BertInputs): { lastHiddenState: Tensor } {
    const [B, T] = x.inputIds.shape;
    const real = tidy(() => (x.attentionMask ? x.attentionMask.ne(0) : ones([B, T], { dtype: 'bool', device: x.inputIds.device }))); // (B, T)
    const h = this.embeddings.forward(x.inputIds, real, x.tokenTypeIds, x.positionIds); // (B, T, C)
    const last = this.encoder.forward(h, real); // (B, T, C)
    real.dispose();
    return { lastHiddenState: last };
  }
}
