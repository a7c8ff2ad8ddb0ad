import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { Tensor } from '../../tensor/tensor';
import { scaledDotProductAttention } from '../../tensor/functional';
import { BertConfig } from './config';

/** Multi-head self-attention through libtorch's scaled dot product attention. */
export class BertSelfAttention extends Module {
  query: Linear;
  key: Linear;
  value: Linear;
  dropout: Dropout;
  readonly numHeads: number;
  readonly headSize: number;

  constructor(c: BertConfig) {
    super();
    const std = { std: c.initializer_range };
    this.query = new Linear(c.hidden_size, c.hidden_size, std);
    this.key = new Linear(c.hidden_size, c.hidden_size, std);
    this.value = new Linear(c.hidden_size, c.hidden_size, std);
    this.dropout = new Dropout(c.attention_probs_dropout_prob);
    this.numHeads = c.num_attention_heads;
    this.headSize = c.hidden_size / c.num_attention_heads;
  }

  /** mask: bool (B, 1, 1, T), true where a key may be attended; null when nothing is padded. */
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const [B, T, C] = x.shape;
    const heads = (l: Linear) => l.forward(x).view(B, T, this.numHeads, this.headSize).transpose(1, 2); // (B, H, T, D)
    // Attention dropout stays inside libtorch's SDPA: measured faster than composing the same
    // math around the fused dropout kernel.
    const y = scaledDotProductAttention(heads(this.query), heads(this.key), heads(this.value), {
      attnMask: mask,
      dropoutP: this.training ? this.dropout.p : 0,
      scale: 1 / Math.sqrt(this.headSize),
    }); // (B, H, T, D)
    return y.transpose(1, 2).reshape(B, T, C); // (B, T, C)
  }
}

/** dense -> dropout -> + residual -> LayerNorm: the end of both blocks of a BERT layer. */
export class BertResidualOutput extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  constructor(c: BertConfig, inFeatures: number) {
    super();
    this.dense = new Linear(inFeatures, c.hidden_size, { std: c.initializer_range });
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.dropout = new Dropout(c.hidden_dropout_prob);
  }
  forward(h: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(this.dropout.forward(this.dense.forward(h)).add(residual)); // (B, T, C)
  }
}

/** After attention (Hugging Face's BertSelfOutput). */
export class BertSelfOutput extends BertResidualOutput {
  constructor(c: BertConfig) {
    super(c, c.hidden_size);
  }
}

export class BertAttention extends Module {
  self: BertSelfAttention;
  output: BertSelfOutput;
  constructor(c: BertConfig) {
    super();
    this.self = new BertSelfAttention(c);
    this.output = new BertSelfOutput(c);
  }
  forward(x: Tensor, mask: Tensor | null): Tensor {
    return this.output.forward(this.self.forward(x, mask), x);
  }
}
