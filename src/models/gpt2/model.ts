// GPT-2 (transformers' modeling_gpt2.py): module names are the checkpoint keys, Conv1D weights
// keep their (in, out) layout. Attention goes through libtorch's SDPA with transformers' masks.
import { Conv1D } from '../../nn/conv1d';
import { Dropout } from '../../nn/dropout';
import { Embedding } from '../../nn/embedding';
import { LayerNorm } from '../../nn/layernorm';
import { Module, ModuleList } from '../../nn/module';
import { activation } from '../../nn/activations';
import { scaledDotProductAttention } from '../../tensor/functional';
import { tidy } from '../../tensor/scope';
import { Tensor } from '../../tensor/tensor';
import { PreTrainedModel } from '../pretrained';
import { attentionPattern, AttentionPattern, DecoderInputs, defaultPositions, KVCache } from '../decoder';
import { GPT2Config } from './config';
import { checkpoint } from '../../nn/checkpoint';

export class GPT2Attention extends Module {
  c_attn: Conv1D;
  c_proj: Conv1D;
  private readonly _dropout: Dropout;
  resid_dropout: Dropout;
  private readonly heads: number;
  private readonly headDim: number;
  private readonly scaling: number;

  constructor(
    c: GPT2Config,
    readonly layerIdx: number,
  ) {
    super();
    const std = c.initializer_range;
    this.c_attn = new Conv1D(3 * c.n_embd, c.n_embd, std);
    // GPT-2's scaled initialisation of the residual projections (1 / sqrt(2 * n_layer))
    this.c_proj = new Conv1D(c.n_embd, c.n_embd, std / Math.sqrt(2 * c.n_layer));
    this._dropout = new Dropout(c.attn_pdrop);
    this.resid_dropout = new Dropout(c.resid_pdrop);
    this.heads = c.n_head;
    this.headDim = c.n_embd / c.n_head;
    let s = c.scale_attn_weights ? this.headDim ** -0.5 : 1;
    if (c.scale_attn_by_inverse_layer_idx) s /= layerIdx + 1;
    this.scaling = s;
  }

  forward(x: Tensor, p: AttentionPattern, cache: KVCache | null): Tensor {
    const [B, T, C] = x.shape;
    const [q, k, v] = this.c_attn.forward(x).split(C, 2).map((t) => t.view(B, T, this.heads, this.headDim).transpose(1, 2)); // (B, H, T, D)
    const kv = cache ? cache.update(this.layerIdx, k, v) : { k, v };
    const y = scaledDotProductAttention(q, kv.k, kv.v, {
      attnMask: p.mask,
      isCausal: p.isCausal,
      dropoutP: this.training ? this._dropout.p : 0,
      scale: this.scaling,
    }); // (B, H, T, D)
    return this.resid_dropout.forward(this.c_proj.forward(y.transpose(1, 2).reshape(B, T, C))); // (B, T, C)
  }
}

export class GPT2MLP extends Module {
  c_fc: Conv1D;
  c_proj: Conv1D;
  dropout: Dropout;
  private readonly _act: (x: Tensor) => Tensor;
  constructor(c: GPT2Config) {
    super();
    const inner = c.n_inner ?? 4 * c.n_embd;
    this.c_fc = new Conv1D(inner, c.n_embd, c.initializer_range);
    this.c_proj = new Conv1D(c.n_embd, inner, c.initializer_range / Math.sqrt(2 * c.n_layer));
    this._act = activation(c.activation_function);
    this.dropout = new Dropout(c.resid_pdrop);
  }
  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(this._act(this.c_fc.forward(x)))); // (B, T, C)
  }
}

/** Pre-norm block: x + attn(ln_1(x)), then + mlp(ln_2(.)). */
export class GPT2Block extends Module {
  ln_1: LayerNorm;
  attn: GPT2Attention;
  ln_2: LayerNorm;
  mlp: GPT2MLP;
  constructor(c: GPT2Config, i: number) {
    super();
    this.ln_1 = new LayerNorm(c.n_embd, c.layer_norm_epsilon);
    this.attn = new GPT2Attention(c, i);
    this.ln_2 = new LayerNorm(c.n_embd, c.layer_norm_epsilon);
    this.mlp = new GPT2MLP(c);
  }
  // Each half runs in its own scope so that its temporaries are freed when it returns, as
  // Python's reference counting frees them (holding them to the end of the step costs fresh,
  // page-faulting memory for every allocation); autograd keeps what backward needs itself.
  forward(x: Tensor, p: AttentionPattern, cache: KVCache | null): Tensor {
    const h = tidy(() => x.add(this.attn.forward(this.ln_1.forward(x), p, cache))); // (B, T, C)
    const y = tidy(() => h.add(this.mlp.forward(this.ln_2.forward(h)))); // (B, T, C)
    h.dispose();
    return y;
  }
}

export interface GPT2Inputs extends DecoderInputs {
  /** (B, T) int64: embedded with wte and added, as transformers does */
  tokenTypeIds?: Tensor | null;
}

/** transformers' GPT2Model: keys `wte.weight`, `h.0.attn.c_attn.weight`, ... (`transformer.` in head models). */
export class GPT2Model extends PreTrainedModel<GPT2Config> {
  readonly architecture = 'GPT2Model';
  readonly basePrefix = null;
  readonly baseModelPrefix = 'transformer';
  readonly headKeys = [];
  // head checkpoints' heads, and the causal-mask buffers of older checkpoints
  readonly ignoredKeys = [/^lm_head\./, /^score\./, /(^|\.)attn\.(masked_)?bias$/];
  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: ModuleList<GPT2Block>;
  ln_f: LayerNorm;

  constructor(config: GPT2Config) {
    super(config);
    const c = config;
    this.wte = new Embedding(c.vocab_size, c.n_embd, null, c.initializer_range);
    this.wpe = new Embedding(c.n_positions, c.n_embd, null, c.initializer_range);
    this.drop = new Dropout(c.embd_pdrop);
    this.h = new ModuleList(Array.from({ length: c.n_layer }, (_, i) => new GPT2Block(c, i)));
    this.ln_f = new LayerNorm(c.n_embd, c.layer_norm_epsilon);
  }

  get numKeyValueHeads(): number {
    return this.config.n_head;
  }
  get headDim(): number {
    return this.config.n_embd / this.config.n_head;
  }
  get numLayers(): number {
    return this.config.n_layer;
  }

  /** (B, T) ids -> last hidden state (B, T, C). */
  forward(x: GPT2Inputs): { lastHiddenState: Tensor } {
    const [B, T] = x.inputIds.shape;
    const past = x.cache?.length ?? 0;
    if (past + T > this.config.n_positions) throw new RangeError(`GPT2Model: ${past + T} positions exceed n_positions ${this.config.n_positions}`);
    const positions = x.positionIds ?? defaultPositions(T, past, x.inputIds.device);
    let h = this.wte.forward(x.inputIds).add(this.wpe.forward(positions)); // (B, T, C)
    const p = attentionPattern({ attentionMask: x.attentionMask, positionIds: x.positionIds, batch: B, queries: T, past, device: x.inputIds.device });
    if (x.tokenTypeIds) h = h.add(this.wte.forward(x.tokenTypeIds));
    h = this.drop.forward(h);
    for (let i = 0; i < this.h.length; i++) {
      const prev = h;
      const block = this.h.at(i);
      h = checkpoint(h, { mask: p.mask }, (t, e) => block.forward(t, { mask: e.mask, isCausal: p.isCausal }, x.cache ?? null));
      prev.dispose(); // made here; autograd holds its own reference
    }
    x.cache?.advance(T);
    return { lastHiddenState: this.ln_f.forward(h) };
  }
}
