// DeBERTa's disentangled self-attention (transformers' DisentangledSelfAttention): content-to-
// content scores plus content-to-position (c2p) and position-to-content (p2c) terms over relative
// distances, each scaled by sqrt(head_dim * (1 + number of terms)).
import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { Tensor } from '../../tensor/tensor';
import { DType } from '../../tensor/dtype';
import { tensor } from '../../tensor/create';
import { tidy } from '../../tensor/scope';
import { DebertaV2Config } from './config';

/** x rounded to float32, then to `dtype`. */
function inDtype(x: number, dtype: DType): number {
  const f = Math.fround(x);
  if (dtype === 'float32' || dtype === 'float64') return f;
  return tidy(() => tensor([f]).to(dtype).float().item() as number);
}

/** torch.finfo(dtype).min: what masked scores are filled with. */
const FINFO_MIN: Partial<Record<DType, number>> = { float32: -3.4028234663852886e38, bfloat16: -3.3895313892515355e38, float16: -65504 };

/**
 * What every layer's relative terms read, made once per forward by the encoder: the relative
 * embeddings' rows that the indices reach (W of the 2S; transformers projects all 2S), and the
 * c2p and p2c indices into them, (T, T) int64: clamp(±(query - key) + S, 0, 2S - 1) - first row.
 */
export interface RelativeContext {
  rel: Tensor;
  c2p: Tensor;
  p2c: Tensor;
}

export class DisentangledSelfAttention extends Module {
  query_proj: Linear;
  key_proj: Linear;
  value_proj: Linear;
  pos_key_proj: Linear | null = null;
  pos_query_proj: Linear | null = null;
  pos_dropout: Dropout | null = null;
  dropout: Dropout;
  private readonly heads: number;
  private readonly c2p: boolean;
  private readonly p2c: boolean;
  private readonly relative: boolean;
  private readonly shareAttKey: boolean;

  constructor(c: DebertaV2Config) {
    super();
    const std = { std: c.initializer_range };
    const h = c.hidden_size;
    this.query_proj = new Linear(h, h, std);
    this.key_proj = new Linear(h, h, std);
    this.value_proj = new Linear(h, h, std);
    this.heads = c.num_attention_heads;
    this.c2p = c.pos_att_type.includes('c2p');
    this.p2c = c.pos_att_type.includes('p2c');
    this.relative = c.relative_attention;
    this.shareAttKey = c.share_att_key;
    if (this.relative) {
      this.pos_dropout = new Dropout(c.hidden_dropout_prob);
      if (!this.shareAttKey) {
        if (this.c2p) this.pos_key_proj = new Linear(h, h, std);
        if (this.p2c) this.pos_query_proj = new Linear(h, h, std);
      }
    }
    this.dropout = new Dropout(c.attention_probs_dropout_prob);
  }

  private split(x: Tensor): Tensor {
    const [B, T] = x.shape;
    return x.view(B, T, this.heads, -1).transpose(1, 2); // (B, H, T, D)
  }

  /** x (B, T, C); mask bool (B, 1, T, T), true where query and key are both real tokens. */
  forward(x: Tensor, mask: Tensor, relative: RelativeContext | null): Tensor {
    const [B, T, C] = x.shape;
    const q = this.split(this.query_proj.forward(x)); // (B, H, T, D)
    const k = this.split(this.key_proj.forward(x)); // (B, H, T, D)
    const v = this.split(this.value_proj.forward(x)); // (B, H, T, D)
    const D = C / this.heads;
    const factor = 1 + (this.c2p ? 1 : 0) + (this.p2c ? 1 : 0);
    // a float32 tensor in transformers, cast to the query's dtype before dividing (bf16: 13.875 for 192)
    const scale = inDtype(Math.sqrt(D * factor), q.dtype);
    let scores = q.matmul(k.transpose(-1, -2).div(scale)); // (B, H, T, T)
    if (this.relative && relative) {
      const rel = this.relativeScores(q, k, relative, scale);
      if (rel) scores = scores.add(rel);
    }
    const min = FINFO_MIN[scores.dtype];
    if (min === undefined) throw new TypeError(`DeBERTa attention: scores of dtype ${scores.dtype} are not supported`);
    // rows of padding queries are masked whole: softmax makes them uniform, as transformers does
    const probs = this.dropout.forward(scores.maskedFill(mask.logicalNot(), min).softmax(-1)); // (B, H, T, T)
    return probs.matmul(v).transpose(1, 2).reshape(B, T, C); // (B, T, C)
  }

  /** The c2p and p2c terms: (B, H, T, T); null when pos_att_type names neither. */
  private relativeScores(q: Tensor, k: Tensor, relative: RelativeContext, scale: number): Tensor | null {
    const [B, H, T] = q.shape;
    const r = this.pos_dropout!.forward(relative.rel).unsqueeze(0); // (1, W, C): the rows the indices reach
    let out: Tensor | null = null;
    if (this.c2p) {
      const posKey = this.split((this.shareAttKey ? this.key_proj : this.pos_key_proj!).forward(r)); // (1, H, W, D)
      const att = q.matmul(posKey.transpose(-1, -2)); // (B, H, T, W)
      out = att.gather(-1, relative.c2p.expand(B, H, T, T)).div(scale); // (B, H, T, T)
    }
    if (this.p2c) {
      const posQuery = this.split((this.shareAttKey ? this.query_proj : this.pos_query_proj!).forward(r)); // (1, H, W, D)
      const att = k.matmul(posQuery.transpose(-1, -2)); // (B, H, T, W), by key
      const p2c = att.gather(-1, relative.p2c.expand(B, H, T, T)).transpose(-1, -2).div(scale); // (B, H, T, T), by query
      out = out ? out.add(p2c) : p2c;
    }
    return out;
  }
}

/** dense -> dropout -> + residual -> LayerNorm. */
export class DebertaV2ResidualOutput extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  constructor(c: DebertaV2Config, inFeatures: number) {
    super();
    this.dense = new Linear(inFeatures, c.hidden_size, { std: c.initializer_range });
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.dropout = new Dropout(c.hidden_dropout_prob);
  }
  forward(h: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(this.dropout.forward(this.dense.forward(h)).add(residual)); // (B, T, C)
  }
}

export class DebertaV2Attention extends Module {
  self: DisentangledSelfAttention;
  output: DebertaV2ResidualOutput;
  constructor(c: DebertaV2Config) {
    super();
    this.self = new DisentangledSelfAttention(c);
    this.output = new DebertaV2ResidualOutput(c, c.hidden_size);
  }
  forward(x: Tensor, mask: Tensor, relative: RelativeContext | null): Tensor {
    return this.output.forward(this.self.forward(x, mask, relative), x); // (B, T, C)
  }
}
