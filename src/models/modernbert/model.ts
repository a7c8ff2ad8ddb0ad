// ModernBERT (transformers' modeling_modernbert.py): pre-norm layers with rotary positions,
// alternating global and sliding-window local attention, a GeGLU MLP and a final norm; head
// models hold the base model as `model`.
import { Module, ModuleList } from '../../nn/module';
import { Embedding } from '../../nn/embedding';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { activation } from '../../nn/activations';
import { RotaryEmbedding } from '../../nn/rotary';
import { Tensor } from '../../tensor/tensor';
import { arange } from '../../tensor/create';
import { applyRotary, scaledDotProductAttention } from '../../tensor/functional';
import { tidy } from '../../tensor/scope';
import { PreTrainedModel } from '../pretrained';
import { LayerType, ModernBertConfig, ropeThetas } from './config';
import { checkpoint } from '../../nn/checkpoint';

export interface ModernBertInputs {
  /** (B, T) int64 token ids */
  inputIds: Tensor;
  /** (B, T), 1 where a token is real, 0 where it is padding */
  attentionMask?: Tensor | null;
  /** (B, T) or (1, T) int64; absent: 0..T-1 */
  positionIds?: Tensor | null;
}

const norm = (c: ModernBertConfig) => new LayerNorm(c.hidden_size, c.norm_eps, { bias: c.norm_bias });
/** How transformers draws every ModernBERT weight: truncated at +-cutoff * std. */
export const cutoff = (c: ModernBertConfig) => (c.initializer_cutoff_factor === undefined ? 2.0 : (c.initializer_cutoff_factor ?? 3));
/** transformers' std for output projections: initializer_range / sqrt(2 layers) */
export const outStd = (c: ModernBertConfig) => c.initializer_range / Math.sqrt(2 * c.num_hidden_layers);

export class ModernBertEmbeddings extends Module {
  tok_embeddings: Embedding;
  norm: LayerNorm;
  drop: Dropout;
  constructor(c: ModernBertConfig) {
    super();
    this.tok_embeddings = new Embedding(c.vocab_size, c.hidden_size, c.pad_token_id, c.initializer_range, cutoff(c));
    this.norm = norm(c);
    this.drop = new Dropout(c.embedding_dropout);
  }
  forward(ids: Tensor): Tensor {
    return tidy(() => this.drop.forward(this.norm.forward(this.tok_embeddings.forward(ids)))); // (B, T, C)
  }
}

/** Wqkv, rotary on q and k, scaled dot product attention (masked by layer type), Wo. */
export class ModernBertAttention extends Module {
  Wqkv: Linear;
  Wo: Linear;
  out_drop: Dropout;
  private readonly heads: number;
  private readonly dropoutP: number;
  constructor(c: ModernBertConfig) {
    super();
    this.Wqkv = new Linear(c.hidden_size, 3 * c.hidden_size, { bias: c.attention_bias, std: c.initializer_range, cutoff: cutoff(c) });
    this.Wo = new Linear(c.hidden_size, c.hidden_size, { bias: c.attention_bias, std: outStd(c), cutoff: cutoff(c) });
    this.out_drop = new Dropout(c.attention_dropout);
    this.heads = c.num_attention_heads;
    this.dropoutP = c.attention_dropout;
  }
  /** mask bool, true where a key may be attended (null: all); cos, sin (1 or B, T, D). */
  forward(x: Tensor, mask: Tensor | null, cos: Tensor, sin: Tensor): Tensor {
    const [B, T, C] = x.shape;
    const D = C / this.heads;
    const [q, k, v] = this.Wqkv.forward(x).view(B, T, 3, this.heads, D).permute(2, 0, 3, 1, 4).split(1, 0).map((t) => t.squeeze(0)); // each (B, H, T, D)
    // ModernBERT rotates in float32 (cos and sin as given, in the model's dtype) and rounds once
    const rotate = (t: Tensor) => (t.dtype === 'float32' ? applyRotary(t, cos, sin) : applyRotary(t.float(), cos.float(), sin.float()).to(t.dtype));
    const y = scaledDotProductAttention(rotate(q), rotate(k), v, {
      attnMask: mask,
      dropoutP: this.training ? this.dropoutP : 0,
      scale: 1 / Math.sqrt(D),
    }); // (B, H, T, D)
    return this.out_drop.forward(this.Wo.forward(y.transpose(1, 2).reshape(B, T, C))); // (B, T, C)
  }
}

/** GeGLU: Wi to twice the intermediate size, act(input) * gate, dropout, Wo. */
export class ModernBertMLP extends Module {
  Wi: Linear;
  Wo: Linear;
  drop: Dropout;
  private readonly act: (x: Tensor) => Tensor;
  private readonly intermediate: number;
  constructor(c: ModernBertConfig) {
    super();
    this.intermediate = c.intermediate_size;
    this.Wi = new Linear(c.hidden_size, 2 * c.intermediate_size, { bias: c.mlp_bias, std: c.initializer_range, cutoff: cutoff(c) });
    this.Wo = new Linear(c.intermediate_size, c.hidden_size, { bias: c.mlp_bias, std: outStd(c), cutoff: cutoff(c) });
    this.drop = new Dropout(c.mlp_dropout);
    this.act = activation(c.hidden_activation);
  }
  forward(x: Tensor): Tensor {
    const [input, gate] = this.Wi.forward(x).split(this.intermediate, -1); // (B, T, I) each
    return this.Wo.forward(this.drop.forward(this.act(input).mul(gate))); // (B, T, C)
  }
}

export class ModernBertEncoderLayer extends Module {
  /** none in the first layer (its input is the embeddings' norm) */
  attn_norm: LayerNorm | null;
  attn: ModernBertAttention;
  mlp_norm: LayerNorm;
  mlp: ModernBertMLP;
  constructor(
    c: ModernBertConfig,
    index: number,
    readonly attentionType: LayerType,
  ) {
    super();
    this.attn_norm = index === 0 ? null : norm(c);
    this.attn = new ModernBertAttention(c);
    this.mlp_norm = norm(c);
    this.mlp = new ModernBertMLP(c);
  }
  // each half in its own scope: its temporaries are freed when it returns (autograd keeps what backward needs)
  forward(x: Tensor, mask: Tensor | null, cos: Tensor, sin: Tensor): Tensor {
    const h = tidy(() => x.add(this.attn.forward(this.attn_norm ? this.attn_norm.forward(x) : x, mask, cos, sin))); // (B, T, C)
    return tidy(() => h.add(this.mlp.forward(this.mlp_norm.forward(h)))); // (B, T, C)
  }
}

export class ModernBertModel extends PreTrainedModel<ModernBertConfig> {
  readonly architecture = 'ModernBertModel';
  readonly basePrefix = null;
  readonly baseModelPrefix = 'model';
  readonly headKeys = [];
  readonly ignoredKeys = [/^(head|decoder|classifier)\./];
  // ModernBERT's tokenizers return no token types, and it has no table for them
  readonly acceptsTokenTypeIds = false;
  embeddings: ModernBertEmbeddings;
  layers: ModuleList<ModernBertEncoderLayer>;
  final_norm: LayerNorm;
  private readonly rotary: Record<LayerType, RotaryEmbedding>;
  private readonly halfWindow: number;

  constructor(config: ModernBertConfig) {
    super(config);
    this.embeddings = new ModernBertEmbeddings(config);
    this.layers = new ModuleList(config.layer_types.map((t, i) => new ModernBertEncoderLayer(config, i, t)));
    this.final_norm = norm(config);
    const thetas = ropeThetas(config);
    const dim = config.hidden_size / config.num_attention_heads;
    const rope = (theta: number) => new RotaryEmbedding({ dim, theta, type: 'default', maxPositionEmbeddings: config.max_position_embeddings });
    this.rotary = { full_attention: rope(thetas.full_attention), sliding_attention: rope(thetas.sliding_attention) };
    this.halfWindow = Math.floor(config.local_attention / 2);
  }

  /**
   * The masks by layer type, bool (B, 1, T, T) or (B, 1, 1, T), true where a key may be attended:
   * real keys (none when nothing is padded: libtorch's unmasked kernel, as transformers), and for
   * sliding layers only keys within local_attention / 2 positions.
   */
  private masks(x: ModernBertInputs, T: number): Record<LayerType, Tensor | null> {
    const [B] = x.inputIds.shape;
    const device = x.inputIds.device;
    const real = x.attentionMask ? (x.attentionMask.dtype === 'bool' ? x.attentionMask : x.attentionMask.ne(0)) : null; // (B, T)
    const keys = real && real.logicalNot().sum().item() !== 0 ? real.view(B, 1, 1, T) : null;
    let sliding: Tensor | null = null;
    if (this.config.layer_types.includes('sliding_attention')) {
      const pos = arange(T, undefined, 1, { device });
      const band = pos.unsqueeze(1).sub(pos.unsqueeze(0)).abs().le(this.halfWindow).view(1, 1, T, T); // (1, 1, T, T)
      sliding = keys ? band.logicalAnd(keys) : band;
    }
    return { full_attention: keys, sliding_attention: sliding };
  }

  forward(x: ModernBertInputs): { lastHiddenState: Tensor } {
    const T = x.inputIds.size(1);
    let h = this.embeddings.forward(x.inputIds); // (B, T, C)
    const { masks, rope } = tidy(() => {
      const positions = x.positionIds ?? arange(T, undefined, 1, { device: x.inputIds.device }).unsqueeze(0); // (1, T)
      return {
        masks: this.masks(x, T),
        rope: { full_attention: this.rotary.full_attention.forward(positions, h.dtype), sliding_attention: this.rotary.sliding_attention.forward(positions, h.dtype) },
      };
    });
    for (const layer of this.layers) {
      const prev = h;
      const { cos, sin } = rope[layer.attentionType];
      const m = masks[layer.attentionType];
      h = checkpoint(h, { m, cos, sin }, (t, e) => layer.forward(t, e.m, e.cos, e.sin));
      prev.dispose(); // autograd holds its own reference
    }
    for (const t of [masks.full_attention, masks.sliding_attention, rope.full_attention.cos, rope.full_attention.sin, rope.sliding_attention.cos, rope.sliding_attention.sin]) t?.dispose();
    const out = this.final_norm.forward(h); // (B, T, C)
    h.dispose();
    return { lastHiddenState: out };
  }
}
