import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { Tensor } from '../../tensor/tensor';
import { attentionFirstQuery, scaledDotProductAttention } from '../../tensor/functional';
import { BertConfig } from './config';
import { TokenRows, packRows, padRows } from '../../nn/token-rows';

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

  /**
   * x: (B, T, C), or the real tokens' rows (N, C) with `rows`; mask: bool (B, 1, 1, T), true
   * where a key may be attended, null when nothing is padded. Returns x's layout.
   */
  forward(x: Tensor, mask: Tensor | null, rows: TokenRows | null = null): Tensor {
    const C = x.shape[x.ndim - 1];
    const [B, T] = rows ? [rows.batch, rows.length] : x.shape;
    // the rows go back to their padded places for the attention product only
    const heads = (l: Linear) => (rows ? padRows(l.forward(x), rows) : l.forward(x)).view(B, T, this.numHeads, this.headSize).transpose(1, 2); // (B, H, T, D)
    // Attention dropout stays inside libtorch's SDPA: measured faster than composing the same
    // math around the fused dropout kernel.
    const y = scaledDotProductAttention(heads(this.query), heads(this.key), heads(this.value), {
      attnMask: mask,
      dropoutP: this.training ? this.dropout.p : 0,
      scale: 1 / Math.sqrt(this.headSize),
    }); // (B, H, T, D)
    if (rows) return packRows(y.transpose(1, 2), rows).reshape(rows.index.shape[0], C); // (N, C)
    return y.transpose(1, 2).reshape(B, T, C); // (B, T, C)
  }

  /**
   * Attention for each row's first token alone: queries from xq (B, C), keys and values from
   * every token of x ((B, T, C), or real rows (N, C) with `rows`). Returns (B, C). With
   * attention dropout (train mode) the masks are those of attention over every query
   * (attentionFirstQuery: where attentionFirstQueryExact allows; otherwise it throws).
   */
  forwardFirst(x: Tensor, xq: Tensor, mask: Tensor | null, rows: TokenRows | null): Tensor {
    const [B, T] = rows ? [rows.batch, rows.length] : x.shape;
    const C = xq.shape[1];
    const kv = (l: Linear) => (rows ? padRows(l.forward(x), rows) : l.forward(x)).view(B, T, this.numHeads, this.headSize).transpose(1, 2); // (B, H, T, D)
    const q = this.query.forward(xq).view(B, 1, this.numHeads, this.headSize).transpose(1, 2); // (B, H, 1, D)
    const p = this.training ? this.dropout.p : 0;
    const o = { attnMask: mask, scale: 1 / Math.sqrt(this.headSize), dropoutP: p };
    const y = p > 0 ? attentionFirstQuery(q, kv(this.key), kv(this.value), o) : scaledDotProductAttention(q, kv(this.key), kv(this.value), o); // (B, H, 1, D)
    return y.reshape(B, C); // (B, C)
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
  /** h, residual: (B, T, ·), or real tokens' rows (N, ·) with `rows`. */
  forward(h: Tensor, residual: Tensor, rows: TokenRows | null = null): Tensor {
    return this.LayerNorm.forward(this.dropout.forwardRows(this.dense.forward(h), rows).add(residual)); // (B, T, C)
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
  forward(x: Tensor, mask: Tensor | null, rows: TokenRows | null = null): Tensor {
    return this.output.forward(this.self.forward(x, mask, rows), x, rows);
  }
  /** The block at each row's first token (xq, (B, C)) alone; `firsts` places those rows for dropout. */
  forwardFirst(x: Tensor, xq: Tensor, mask: Tensor | null, rows: TokenRows | null, firsts: TokenRows): Tensor {
    return this.output.forward(this.self.forwardFirst(x, xq, mask, rows), xq, firsts); // (B, C)
  }
}
