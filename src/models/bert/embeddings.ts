import { Module, buffer } from '../../nn/module';
import { Embedding } from '../../nn/embedding';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { Tensor } from '../../tensor/tensor';
import { arange } from '../../tensor/create';
import { tidy } from '../../tensor/scope';
import { BertConfig } from './config';

/**
 * Word + position + token-type embeddings, then LayerNorm and dropout. `width` is the embedding
 * size (ELECTRA's embedding_size; BERT's hidden_size); `positionPaddingIdx` gives the position
 * table a padding row (RoBERTa's).
 */
export class BertEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  token_type_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  position_ids: Tensor;

  constructor(c: BertConfig, o: { width?: number; positionPaddingIdx?: number | null } = {}) {
    super();
    const std = c.initializer_range;
    const width = o.width ?? c.hidden_size;
    this.word_embeddings = new Embedding(c.vocab_size, width, c.pad_token_id, std);
    this.position_embeddings = new Embedding(c.max_position_embeddings, width, o.positionPaddingIdx ?? null, std);
    this.token_type_embeddings = new Embedding(c.type_vocab_size, width, null, std);
    this.LayerNorm = new LayerNorm(width, c.layer_norm_eps);
    this.dropout = new Dropout(c.hidden_dropout_prob);
    // Not in checkpoints (persistent=False in Hugging Face's BertEmbeddings).
    this.position_ids = buffer(tidy(() => arange(c.max_position_embeddings).unsqueeze(0)), { persistent: false }); // (1, P)
  }

  forward(inputIds: Tensor, tokenTypeIds?: Tensor | null, positionIds?: Tensor | null): Tensor {
    return tidy(() => this.embed(inputIds, tokenTypeIds, positionIds));
  }

  /** Position ids when the caller gives none: 0..T-1, (1, T). */
  protected positions(inputIds: Tensor): Tensor {
    const T = inputIds.size(1);
    if (T > this.position_embeddings.numEmbeddings) {
      throw new RangeError(`sequence length ${T} exceeds max_position_embeddings ${this.position_embeddings.numEmbeddings}`);
    }
    return this.position_ids.slice(1, 0, T); // (1, T)
  }

  private embed(inputIds: Tensor, tokenTypeIds?: Tensor | null, positionIds?: Tensor | null): Tensor {
    const pos = positionIds ?? this.positions(inputIds); // (1, T) or (B, T)
    let x = this.word_embeddings.forward(inputIds); // (B, T, C)
    // absent token types are all zero: row 0 of the table, broadcast over (B, T)
    const tt = tokenTypeIds ? this.token_type_embeddings.forward(tokenTypeIds) : this.token_type_embeddings.weight.select(0, 0);
    x = x.add(tt);
    x = x.add(this.position_embeddings.forward(pos)); // (B, T, C) + (1, T, C)
    return this.dropout.forward(this.LayerNorm.forward(x));
  }
}
