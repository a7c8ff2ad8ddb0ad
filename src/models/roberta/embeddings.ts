import { Tensor } from '../../tensor/tensor';
import { BertEmbeddings } from '../bert/embeddings';
import { RobertaConfig } from './config';

/**
 * BERT's embeddings with fairseq's positions: real tokens count from padding_idx + 1, padding
 * takes padding_idx (a zero row without gradient), as transformers'
 * RobertaEmbeddings.create_position_ids_from_input_ids.
 */
export class RobertaEmbeddings extends BertEmbeddings {
  private readonly paddingIdx: number;
  constructor(c: RobertaConfig) {
    super(c, { positionPaddingIdx: c.pad_token_id });
    this.paddingIdx = c.pad_token_id;
  }

  protected positions(inputIds: Tensor): Tensor {
    const T = inputIds.size(1);
    const P = this.position_embeddings.numEmbeddings;
    if (T + this.paddingIdx >= P) {
      throw new RangeError(`sequence length ${T} needs position ids up to ${T + this.paddingIdx} (RoBERTa counts from pad_token_id + 1), beyond max_position_embeddings ${P}`);
    }
    const real = inputIds.ne(this.paddingIdx).long(); // (B, T)
    return real.cumsum(1).mul(real).add(this.paddingIdx); // (B, T)
  }
}
