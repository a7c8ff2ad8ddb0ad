// Rotary position embeddings (RoPE) as transformers computes them: the inverse frequencies in
// float32 by rope type (default, linear, dynamic NTK, llama3), angles position * inv_freq in
// float32, cos and sin cast to the activations' dtype. The rotation itself is applyRotary
// (tensor/functional: one native call).
import { arange, full, tensor } from '../tensor/create';
import { Tensor } from '../tensor/tensor';
import { cat, where } from '../tensor/functional';
import { tidy } from '../tensor/scope';

export interface RopeConfig {
  /** the dimension rotated: the head dimension */
  dim: number;
  theta: number;
  type: 'default' | 'linear' | 'dynamic' | 'llama3';
  /** linear, dynamic, llama3 */
  factor?: number;
  /** llama3 */
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
  /** dynamic: the length beyond which the base grows */
  maxPositionEmbeddings: number;
}

/** 1 / theta^(2i / dim), i < dim / 2, in float32 (transformers' _compute_*_rope_parameters). */
function invFreq(theta: number, dim: number): Tensor {
  return full([dim / 2], theta).pow(arange(0, dim, 2, { dtype: 'int64' }).float().div(dim)).rdiv(1);
}

/** The rotation's cos and sin for given positions; holds no tensors between calls (nothing to dispose). */
export class RotaryEmbedding {
  private readonly base: Float32Array;
  private current: Float32Array;
  private maxSeqLenCached: number;

  constructor(readonly c: RopeConfig) {
    this.base = tidy(() => {
      let f = invFreq(c.theta, c.dim);
      if (c.type === 'linear') f = f.div(c.factor!);
      if (c.type === 'llama3') f = llama3(f, c);
      return Float32Array.from(f.toArray() as Float32Array); // a copy in this realm (jest runs tests in its own)
    });
    this.current = this.base;
    this.maxSeqLenCached = c.maxPositionEmbeddings;
  }

  /**
   * positionIds (B, T) int64 -> cos, sin (B, T, dim) in `dtype`. Dynamic NTK scaling recomputes
   * the frequencies when a sequence grows past the longest seen, and returns to the original
   * ones below max_position_embeddings, as transformers' dynamic_rope_update (stateful there too).
   */
  forward(positionIds: Tensor, dtype: Tensor['dtype']): { cos: Tensor; sin: Tensor } {
    if (this.c.type === 'dynamic') this.dynamicUpdate(positionIds);
    const inv = tensor(this.current, { device: positionIds.device }); // (D/2)
    const freqs = positionIds.float().unsqueeze(-1).mul(inv); // (B, T, D/2)
    const emb = cat([freqs, freqs], -1); // (B, T, D)
    let cos = emb.cos();
    let sin = emb.sin();
    if (dtype !== 'float32') {
      cos = cos.to(dtype);
      sin = sin.to(dtype);
    }
    return { cos, sin };
  }

  private dynamicUpdate(positionIds: Tensor): void {
    const seqLen = (positionIds.max().item() as number) + 1;
    const orig = this.c.maxPositionEmbeddings;
    if (seqLen > this.maxSeqLenCached) {
      const { dim, factor } = { dim: this.c.dim, factor: this.c.factor! };
      const theta = this.c.theta * ((factor * seqLen) / orig - (factor - 1)) ** (dim / (dim - 2));
      this.current = tidy(() => Float32Array.from(invFreq(theta, dim).toArray() as Float32Array));
      this.maxSeqLenCached = seqLen;
    }
    if (seqLen < orig && this.maxSeqLenCached > orig) {
      this.current = this.base;
      this.maxSeqLenCached = orig;
    }
  }
}

/** Llama 3's frequency smoothing (transformers' _compute_llama3_parameters), in float32 tensors. */
function llama3(inv: Tensor, c: RopeConfig): Tensor {
  const factor = c.factor!;
  const low = c.lowFreqFactor!;
  const high = c.highFreqFactor!;
  const old = c.originalMaxPositionEmbeddings!;
  const lowWavelen = old / low;
  const highWavelen = old / high;
  const wavelen = inv.rdiv(2 * Math.PI);
  const scaled = where(wavelen.gt(lowWavelen), inv.div(factor), inv);
  const smooth = wavelen.rdiv(old).sub(low).div(high - low);
  const smoothed = smooth.rsub(1).mul(scaled).div(factor).add(smooth.mul(scaled));
  const medium = wavelen.lt(highWavelen).logicalNot().logicalAnd(wavelen.gt(lowWavelen).logicalNot());
  return where(medium, smoothed, scaled);
}
