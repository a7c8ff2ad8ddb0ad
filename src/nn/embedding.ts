import { Module } from './module';
import { Tensor } from '../tensor/tensor';
import { embedding } from '../tensor/functional';
import { param } from './init';

/**
 * torch.nn.Embedding: rows of `weight` (num, dim) drawn from normal(0, std); the padding row
 * starts at zero and gets no gradient. With `cutoff` the whole matrix, padding row included, is
 * drawn from the normal truncated at +-cutoff * std (transformers' ModernBERT, whose
 * trunc_normal_ overwrites the zeroed row); the padding row still gets no gradient.
 */
export class Embedding extends Module {
  weight: Tensor;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, readonly paddingIdx: number | null = null, std = 0.02, cutoff?: number) {
    super();
    this.weight = param([numEmbeddings, embeddingDim], (w) => {
      if (cutoff !== undefined) {
        w.truncNormal_(0, std, -cutoff * std, cutoff * std);
        return;
      }
      w.normal_(0, std);
      if (paddingIdx !== null) w.select(0, paddingIdx).zero_().dispose();
    });
  }
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids, this.paddingIdx); // (B, T) -> (B, T, dim)
  }
}
