// The Llama family (transformers' modeling_llama.py; mistral, qwen2, qwen3 and smollm3 differ as
// ATTENTION_QUIRKS, ropeLayers and slidingWindows in ./config say; qwen3:
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/qwen3/modeling_qwen3.py):
// RMSNorm, rotary position embeddings, SwiGLU MLP, grouped-query attention through libtorch's
// SDPA (keys and values are not repeated), module names as the checkpoint keys.
import { Embedding } from '../../nn/embedding';
import { Linear } from '../../nn/linear';
import { Module, ModuleList } from '../../nn/module';
import { RMSNorm } from '../../nn/rmsnorm';
import { activation } from '../../nn/activations';
import { RotaryEmbedding } from '../../nn/rotary';
import { applyRotary, scaledDotProductAttention } from '../../tensor/functional';
import { tidy } from '../../tensor/scope';
import { Tensor } from '../../tensor/tensor';
import { PreTrainedModel } from '../pretrained';
import { attentionPattern, AttentionPattern, DecoderInputs, defaultPositions, KVCache } from '../decoder';
import { ATTENTION_QUIRKS, LlamaConfig, ropeConfig, ropeLayers, slidingWindows } from './config';
import { checkpoint } from '../../nn/checkpoint';

export class LlamaAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  /** qwen3: RMSNorm over each head's queries and keys */
  q_norm?: RMSNorm;
  k_norm?: RMSNorm;
  private readonly heads: number;
  private readonly kvHeads: number;
  private readonly headDim: number;
  private readonly dropoutP: number;

  constructor(
    c: LlamaConfig,
    readonly layerIdx: number,
    /** false for SmolLM3's layers without rotary embeddings */
    private readonly useRope = true,
  ) {
    super();
    const o = { std: c.initializer_range, bias: c.attention_bias };
    this.heads = c.num_attention_heads;
    this.kvHeads = c.num_key_value_heads;
    this.headDim = c.head_dim;
    this.q_proj = new Linear(c.hidden_size, this.heads * this.headDim, o);
    this.k_proj = new Linear(c.hidden_size, this.kvHeads * this.headDim, o);
    this.v_proj = new Linear(c.hidden_size, this.kvHeads * this.headDim, o);
    const quirks = ATTENTION_QUIRKS[c.model_type];
    this.o_proj = new Linear(this.heads * this.headDim, c.hidden_size, { std: c.initializer_range, bias: c.attention_bias && !quirks.qkvBias });
    if (quirks.qkNorm) {
      this.q_norm = new RMSNorm(this.headDim, c.rms_norm_eps);
      this.k_norm = new RMSNorm(this.headDim, c.rms_norm_eps);
    }
    this.dropoutP = c.attention_dropout;
  }

  forward(x: Tensor, cos: Tensor, sin: Tensor, p: AttentionPattern, cache: KVCache | null): Tensor {
    const [B, T] = x.shape;
    const split = (l: Linear, h: number) => l.forward(x).view(B, T, h, this.headDim).transpose(1, 2); // (B, h, T, D)
    const norm = (t: Tensor, n?: RMSNorm) => (n ? n.forward(t) : t); // over D
    const rotate = (t: Tensor) => (this.useRope ? applyRotary(t, cos, sin) : t);
    const q = rotate(norm(split(this.q_proj, this.heads), this.q_norm)); // (B, H, T, D)
    const k = rotate(norm(split(this.k_proj, this.kvHeads), this.k_norm)); // (B, Hkv, T, D)
    const v = split(this.v_proj, this.kvHeads); // (B, Hkv, T, D)
    const kv = cache ? cache.update(this.layerIdx, k, v) : { k, v };
    const y = scaledDotProductAttention(q, kv.k, kv.v, {
      attnMask: p.mask,
      isCausal: p.isCausal,
      dropoutP: this.training ? this.dropoutP : 0,
      scale: this.headDim ** -0.5,
      enableGqa: this.kvHeads !== this.heads,
    }); // (B, H, T, D)
    return this.o_proj.forward(y.transpose(1, 2).reshape(B, T, this.heads * this.headDim)); // (B, T, C)
  }
}

/** down_proj(act(gate_proj(x)) * up_proj(x)) */
export class LlamaMLP extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  private readonly _act: (x: Tensor) => Tensor;
  constructor(c: LlamaConfig) {
    super();
    const o = { std: c.initializer_range, bias: c.mlp_bias };
    this.gate_proj = new Linear(c.hidden_size, c.intermediate_size, o);
    this.up_proj = new Linear(c.hidden_size, c.intermediate_size, o);
    this.down_proj = new Linear(c.intermediate_size, c.hidden_size, o);
    this._act = activation(c.hidden_act);
  }
  forward(x: Tensor): Tensor {
    return this.down_proj.forward(this._act(this.gate_proj.forward(x)).mul(this.up_proj.forward(x))); // (B, T, C)
  }
}

export class LlamaDecoderLayer extends Module {
  self_attn: LlamaAttention;
  mlp: LlamaMLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;
  constructor(
    c: LlamaConfig,
    i: number,
    readonly slidingWindow: number | null,
    useRope = true,
  ) {
    super();
    this.self_attn = new LlamaAttention(c, i, useRope);
    this.mlp = new LlamaMLP(c);
    this.input_layernorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.post_attention_layernorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
  }
  // Each half runs in its own scope so that its temporaries are freed when it returns, as
  // Python's reference counting frees them (see GPT2Block); autograd keeps what backward needs.
  forward(x: Tensor, cos: Tensor, sin: Tensor, p: AttentionPattern, cache: KVCache | null): Tensor {
    const h = tidy(() => x.add(this.self_attn.forward(this.input_layernorm.forward(x), cos, sin, p, cache))); // (B, T, C)
    const y = tidy(() => h.add(this.mlp.forward(this.post_attention_layernorm.forward(h)))); // (B, T, C)
    h.dispose();
    return y;
  }
}

/** transformers' LlamaModel: keys `embed_tokens.weight`, `layers.0.self_attn.q_proj.weight`, `norm.weight` (`model.` in head models). */
export class LlamaModel extends PreTrainedModel<LlamaConfig> {
  readonly architecture: string;
  readonly basePrefix = null;
  readonly acceptsTokenTypeIds = false;
  readonly baseModelPrefix = 'model';
  readonly headKeys = [];
  // head checkpoints' heads, and rotary buffers some older checkpoints saved
  readonly ignoredKeys = [/^lm_head\./, /^score\./, /(^|\.)rotary_emb\.inv_freq$/];
  embed_tokens: Embedding;
  layers: ModuleList<LlamaDecoderLayer>;
  norm: RMSNorm;
  private readonly _rotary: RotaryEmbedding;

  constructor(config: LlamaConfig) {
    super(config);
    const c = config;
    this.architecture = `${familyName(c)}Model`;
    this.embed_tokens = new Embedding(c.vocab_size, c.hidden_size, c.pad_token_id, c.initializer_range);
    const windows = slidingWindows(c);
    const rope = ropeLayers(c);
    this.layers = new ModuleList(Array.from({ length: c.num_hidden_layers }, (_, i) => new LlamaDecoderLayer(c, i, windows[i], rope[i])));
    this.norm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this._rotary = new RotaryEmbedding(ropeConfig(c));
  }

  get numKeyValueHeads(): number {
    return this.config.num_key_value_heads;
  }
  get headDim(): number {
    return this.config.head_dim;
  }
  get numLayers(): number {
    return this.config.num_hidden_layers;
  }

  /** (B, T) ids -> last hidden state (B, T, C). tokenTypeIds are refused: Llama has none. */
  forward(x: DecoderInputs & { tokenTypeIds?: Tensor | null }): { lastHiddenState: Tensor } {
    if (x.tokenTypeIds) throw new TypeError(`${this.architecture}: token type ids are not an input of this model`);
    const [B, T] = x.inputIds.shape;
    const past = x.cache?.length ?? 0;
    const dev = x.inputIds.device;
    const positions = x.positionIds ?? defaultPositions(T, past, dev);
    let h = this.embed_tokens.forward(x.inputIds); // (B, T, C)
    const { cos, sin } = this._rotary.forward(positions, h.dtype); // (B or 1, T, D)
    // one pattern per distinct window (mistral: every layer the same; qwen2: full and sliding layers)
    const patterns = new Map<number | null, AttentionPattern>();
    const pattern = (w: number | null) => {
      if (!patterns.has(w)) patterns.set(w, attentionPattern({ attentionMask: x.attentionMask, positionIds: x.positionIds, batch: B, queries: T, past, slidingWindow: w, device: dev }));
      return patterns.get(w)!;
    };
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers.at(i);
      const prev = h;
      const p = pattern(layer.slidingWindow);
      h = checkpoint(h, { cos, sin, mask: p.mask }, (t, e) => layer.forward(t, e.cos, e.sin, { mask: e.mask, isCausal: p.isCausal }, x.cache ?? null));
      prev.dispose(); // made here; autograd holds its own reference
    }
    x.cache?.advance(T);
    return { lastHiddenState: this.norm.forward(h) };
  }
}

/** The class-name prefix transformers uses for each model_type served here. */
export function familyName(c: LlamaConfig): string {
  return { llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2', qwen3: 'Qwen3', smollm3: 'SmolLM3' }[c.model_type];
}
