// DeBERTa-v2's encoder: post-norm layers sharing one table of relative position embeddings, the
// optional convolution after the first layer (transformers' DebertaV2Encoder and ConvLayer).
import { Module, ModuleList } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { Embedding } from '../../nn/embedding';
import { activation } from '../../nn/activations';
import { normal, zeros } from '../../nn/init';
import { Tensor } from '../../tensor/tensor';
import { Device } from '../../tensor/dtype';
import { arange, full, tensor } from '../../tensor/create';
import { cat, linear, where } from '../../tensor/functional';
import { dispose, tidy } from '../../tensor/scope';
import { DebertaV2Attention, DebertaV2ResidualOutput, RelativeContext } from './attention';
import { DebertaV2Config, relativeSpan } from './config';
import { checkpoint } from '../../nn/checkpoint';

/**
 * Query minus key position (T, T) int64, in logarithmic buckets beyond bucketSize / 2 when
 * bucketSize > 0 (transformers' build_relative_position and make_log_bucket_position, in float32
 * as there).
 */
export function relativePositions(T: number, bucketSize: number, maxPosition: number, device: Device): Tensor {
  return tidy(() => {
    const ids = arange(T, undefined, 1, { device });
    const rel = ids.unsqueeze(1).sub(ids.unsqueeze(0)); // (T, T)
    if (!(bucketSize > 0 && maxPosition > 0)) return rel;
    const mid = Math.floor(bucketSize / 2);
    const near = rel.lt(mid).logicalAnd(rel.gt(-mid));
    const absPos = where(near, full([T, T], mid - 1, { dtype: 'int64', device }), rel.abs()); // (T, T)
    const denom = tensor((maxPosition - 1) / mid, { dtype: 'float32', device }).log(); // a 0-dim float32 tensor, as there
    const logPos = absPos.div(mid).log().div(denom).mul(mid - 1).ceil().add(mid); // (T, T) float32
    return where(absPos.le(mid), rel.float(), logPos.mul(rel.sign().float())).long();
  });
}

/** The largest |bucketed distance| for distances up to d (make_log_bucket_position's, in float64). */
export function farthestBucket(d: number, bucketSize: number, maxPosition: number): number {
  if (!(bucketSize > 0 && maxPosition > 0)) return d;
  const mid = Math.floor(bucketSize / 2);
  if (d <= mid) return d;
  return Math.ceil((Math.log(d / mid) / Math.log((maxPosition - 1) / mid)) * (mid - 1)) + mid;
}

export class DebertaV2Intermediate extends Module {
  dense: Linear;
  private readonly act: (x: Tensor) => Tensor;
  constructor(c: DebertaV2Config) {
    super();
    this.dense = new Linear(c.hidden_size, c.intermediate_size, { std: c.initializer_range });
    this.act = activation(c.hidden_act);
  }
  forward(x: Tensor): Tensor {
    return this.act(this.dense.forward(x)); // (B, T, I)
  }
}

export class DebertaV2Layer extends Module {
  attention: DebertaV2Attention;
  intermediate: DebertaV2Intermediate;
  output: DebertaV2ResidualOutput;
  constructor(c: DebertaV2Config) {
    super();
    this.attention = new DebertaV2Attention(c);
    this.intermediate = new DebertaV2Intermediate(c);
    this.output = new DebertaV2ResidualOutput(c, c.intermediate_size);
  }
  // each half in its own scope: its temporaries are freed when it returns (autograd keeps what backward needs)
  forward(x: Tensor, mask: Tensor, relative: RelativeContext | null): Tensor {
    const a = tidy(() => this.attention.forward(x, mask, relative)); // (B, T, C)
    return tidy(() => this.output.forward(this.intermediate.forward(a), a)); // (B, T, C)
  }
}

/** torch.nn.Conv1d over the sequence with 'same' padding (groups 1): keys `weight` (C, C, k) and `bias`. */
export class SequenceConv1d extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(
    readonly channels: number,
    readonly kernelSize: number,
    std: number,
  ) {
    super();
    this.weight = normal([channels, channels, kernelSize], std);
    this.bias = zeros([channels]);
  }
  /** x (B, T, C) -> (B, T, C): the k shifted copies of x side by side, times the kernel as one matrix. */
  forward(x: Tensor): Tensor {
    const [B, T, C] = x.shape;
    const pad = (this.kernelSize - 1) / 2;
    const z = full([B, pad, C], 0, { dtype: x.dtype, device: x.device });
    const padded = cat([z, x, z], 1); // (B, T + 2 pad, C)
    const windows = cat(Array.from({ length: this.kernelSize }, (_, j) => padded.slice(1, j, j + T)), 2); // (B, T, k C)
    const w = this.weight.permute(0, 2, 1).reshape(C, this.kernelSize * C); // (C_out, k C_in)
    return linear(windows, w, this.bias); // (B, T, C)
  }
}

/** The convolution after the first layer: conv of the layer's input, masked, act, + the layer's output, LayerNorm, masked. */
export class ConvLayer extends Module {
  conv: SequenceConv1d;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;
  constructor(c: DebertaV2Config) {
    super();
    this.conv = new SequenceConv1d(c.hidden_size, c.conv_kernel_size, c.initializer_range);
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.dropout = new Dropout(c.hidden_dropout_prob);
    this.act = activation(c.conv_act);
  }
  /** inputs, residual (B, T, C); real bool (B, T, 1), true for real tokens. */
  forward(inputs: Tensor, residual: Tensor, real: Tensor): Tensor {
    const out = this.conv.forward(inputs).maskedFill(real.logicalNot(), 0); // (B, T, C)
    const y = this.LayerNorm.forward(residual.add(this.act(this.dropout.forward(out))));
    return y.mul(real.to(y.dtype)); // (B, T, C)
  }
}

export class DebertaV2Encoder extends Module {
  layer: ModuleList<DebertaV2Layer>;
  rel_embeddings: Embedding | null = null;
  LayerNorm: LayerNorm | null = null;
  conv: ConvLayer | null = null;
  private readonly buckets: number;
  private readonly maxRelativePositions: number;
  private readonly span: number;

  constructor(c: DebertaV2Config) {
    super();
    this.layer = new ModuleList(Array.from({ length: c.num_hidden_layers }, () => new DebertaV2Layer(c)));
    const { maxRelativePositions, span } = relativeSpan(c);
    this.maxRelativePositions = maxRelativePositions;
    this.span = span;
    this.buckets = c.position_buckets;
    if (c.relative_attention) this.rel_embeddings = new Embedding(2 * span, c.hidden_size, null, c.initializer_range);
    if (c.norm_rel_ebd.toLowerCase().split('|').map((x) => x.trim()).includes('layer_norm')) this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    if (c.conv_kernel_size > 0) this.conv = new ConvLayer(c);
  }

  /** input (B, T, C) from the embeddings; real (B, T) bool, true for real tokens. */
  forward(input: Tensor, real: Tensor): Tensor {
    const [B, T] = real.shape;
    const mask = tidy(() => real.view(B, 1, 1, T).logicalAnd(real.view(B, 1, T, 1))); // (B, 1, T, T)
    const relative = this.rel_embeddings ? this.relativeContext(T, input) : null;
    let x = input;
    let i = 0;
    for (const l of this.layer) {
      const prev = x;
      x = checkpoint(x, { mask, relative }, (t, e) => l.forward(t, e.mask, e.relative));
      if (i === 0 && this.conv) {
        const y = x;
        x = tidy(() => this.conv!.forward(input, y, real.unsqueeze(-1)));
        y.dispose();
      }
      if (prev !== input) prev.dispose(); // autograd holds its own reference
      i++;
    }
    mask.dispose();
    if (relative) dispose(relative);
    return x;
  }

  /**
   * The relative embeddings' rows that T tokens reach, layer-normed, and the c2p and p2c indices
   * into them. The farthest bucket is computed here in float64 with a margin of one row each side
   * (the float32 buckets of relativePositions may differ by one), so no index falls outside.
   */
  private relativeContext(T: number, input: Tensor): RelativeContext {
    return tidy(() => {
      const S = this.span;
      const relPos = relativePositions(T, this.buckets, this.maxRelativePositions, input.device); // (T, T)
      const far = farthestBucket(T - 1, this.buckets, this.maxRelativePositions);
      const lo = Math.max(0, S - far - 1);
      const hi = Math.min(2 * S, S + far + 2);
      const table = this.rel_embeddings!.weight.slice(0, lo, hi); // (W, C)
      const rel = this.LayerNorm ? this.LayerNorm.forward(table) : table; // row-wise: the same rows as normalising all 2S
      return {
        rel,
        c2p: relPos.add(S).clamp(0, 2 * S - 1).sub(lo), // (T, T)
        p2c: relPos.neg().add(S).clamp(0, 2 * S - 1).sub(lo), // (T, T)
      };
    });
  }
}
