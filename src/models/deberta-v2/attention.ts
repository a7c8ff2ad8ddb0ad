// DeBERTa's disentangled self-attention (transformers' DisentangledSelfAttention): content-to-
// content scores plus content-to-position (c2p) and position-to-content (p2c) terms over relative
// distances, each scaled by sqrt(head_dim * (1 + number of terms)).
import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { Tensor } from '../../tensor/tensor';
import { DType } from '../../tensor/dtype';
import { DebertaV2Config, relativeSpan } from './config';

/** torch.finfo(dtype).min: what masked scores are filled with. */
const FINFO_MIN: Partial<Record<DType, number>> = { float32: -3.4028234663852886e38, bfloat16: -3.3895313892515355e38, float16: -65504 };

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
  private readonly span: number;

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
    this.span = relativeSpan(c).span;
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

  /**
   * x (B, T, C); mask bool (B, 1, T, T), true where query and key are both real tokens;
   * relPos int64 (T, T), query minus key position (bucketed); relEmbeddings (2S, C).
   */
  forward(x: Tensor, mask: Tensor, relPos: Tensor | null, relEmbeddings: Tensor | null): Tensor {
    const [B, T, C] = x.shape;
    const q = this.split(this.query_proj.forward(x)); // (B, H, T, D)
    const k = this.split(this.key_proj.forward(x)); // (B, H, T, D)
    const v = this.split(this.value_proj.forward(x)); // (B, H, T, D)
    const D = C / this.heads;
    const factor = 1 + (this.c2p ? 1 : 0) + (this.p2c ? 1 : 0);
    const scale = Math.fround(Math.sqrt(D * factor)); // a float32 tensor in transformers
    let scores = q.matmul(k.transpose(-1, -2).div(scale)); // (B, H, T, T)
    if (this.relative && relPos && relEmbeddings) {
      const rel = this.relativeScores(q, k, relPos, this.pos_dropout!.forward(relEmbeddings), scale);
      if (rel) scores = scores.add(rel);
    }
    const min = FINFO_MIN[scores.dtype];
    if (min === undefined) throw new TypeError(`DeBERTa attention: scores of dtype ${scores.dtype} are not supported`);
    // rows of padding queries are masked whole: softmax makes them uniform, as transformers does
    const probs = this.dropout.forward(scores.maskedFill(mask.logicalNot(), min).softmax(-1)); // (B, H, T, T)
    return probs.matmul(v).transpose(1, 2).reshape(B, T, C); // (B, T, C)
  }

  /** The c2p and p2c terms: (B, H, T, T); null when pos_att_type names neither. */
  private relativeScores(q: Tensor, k: Tensor, relPos: Tensor, rel: Tensor, scale: number): Tensor | null {
    const S = this.span;
    const [B, H, T] = q.shape;
    const r = rel.slice(0, 0, 2 * S).unsqueeze(0); // (1, 2S, C)
    let out: Tensor | null = null;
    if (this.c2p) {
      const posKey = this.split((this.shareAttKey ? this.key_proj : this.pos_key_proj!).forward(r)); // (1, H, 2S, D)
      const att = q.matmul(posKey.transpose(-1, -2)); // (B, H, T, 2S)
      const idx = relPos.add(S).clamp(0, 2 * S - 1).expand(B, H, T, T); // (B, H, T, T)
      out = att.gather(-1, idx).div(scale);
    }
    if (this.p2c) {
      const posQuery = this.split((this.shareAttKey ? this.query_proj : this.pos_query_proj!).forward(r)); // (1, H, 2S, D)
      const att = k.matmul(posQuery.transpose(-1, -2)); // (B, H, T, 2S), by key
      const idx = relPos.neg().add(S).clamp(0, 2 * S - 1).expand(B, H, T, T); // (B, H, T, T)
      const p2c = att.gather(-1, idx).transpose(-1, -2).div(scale); // (B, H, T, T), by query
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
  forward(x: Tensor, mask: Tensor, relPos: Tensor | null, rel: Tensor | null): Tensor {
    return this.output.forward(this.self.forward(x, mask, relPos, rel), x); // (B, T, C)
  }
}
