import { Module } from './module';
import { Tensor } from '../tensor/tensor';
import { embedding } from '../tensor/functional';
import { param } from './init';

/** torch.nn.Embedding: rows of `weight` (num, dim); the padding row starts at zero and gets no gradient. */
export class Embedding extends Module {
  weight: Tensor;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, readonly paddingIdx: number | null = null, std = 0.02) {
    super();
    this.weight = param([numEmbeddings, embeddingDim], (w) => {
      w.normal_(0, std);
      if (paddingIdx !== null) w.select(0, paddingIdx).zero_().dispose();
    });
  }
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids, this.paddingIdx); // (B, T) -> (B, T, dim)
  }
}
