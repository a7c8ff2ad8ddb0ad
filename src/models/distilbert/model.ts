// DistilBERT: BERT with half the layers, no token types and no pooler, and its own module names
// (transformers' modeling_distilbert.py).
import { Module, ModuleList, buffer } from '../../nn/module';
import { Embedding } from '../../nn/embedding';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { activation } from '../../nn/activations';
import { Tensor } from '../../tensor/tensor';
import { arange } from '../../tensor/create';
import { tidy } from '../../tensor/scope';
import { scaledDotProductAttention } from '../../tensor/functional';
import { attentionMask } from '../bert/model';
import { PreTrainedModel } from '../pretrained';
import { DistilBertConfig } from './config';
import { checkpoint } from '../../nn/checkpoint';

/** DistilBERT's layer norms use a fixed eps (1e-12), not a config field. */
const LN_EPS = 1e-12;

export interface DistilBertInputs {
  /** (B, T) int64 token ids */
  inputIds: Tensor;
  /** (B, T), 1 where a token is real, 0 where it is padding */
  attentionMask?: Tensor | null;
  /** (B, T) or (1, T) int64; absent: 0..T-1 */
  positionIds?: Tensor | null;
}

/** Word + position embeddings, LayerNorm, dropout (transformers' `Embeddings`). */
export class DistilBertEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  position_ids: Tensor;
  constructor(c: DistilBertConfig) {
    super();
    this.word_embeddings = new Embedding(c.vocab_size, c.dim, c.pad_token_id, c.initializer_range);
    this.position_embeddings = new Embedding(c.max_position_embeddings, c.dim, null, c.initializer_range);
    this.LayerNorm = new LayerNorm(c.dim, LN_EPS);
    this.dropout = new Dropout(c.dropout);
    this.position_ids = buffer(tidy(() => arange(c.max_position_embeddings).unsqueeze(0)), { persistent: false }); // (1, P)
  }
  forward(inputIds: Tensor, positionIds?: Tensor | null): Tensor {
    return tidy(() => {
      const T = inputIds.size(1);
      if (!positionIds && T > this.position_embeddings.numEmbeddings) {
        throw new RangeError(`sequence length ${T} exceeds max_position_embeddings ${this.position_embeddings.numEmbeddings}`);
      }
      const pos = positionIds ?? this.position_ids.slice(1, 0, T); // (1, T)
      const x = this.word_embeddings.forward(inputIds).add(this.position_embeddings.forward(pos)); // (B, T, C)
      return this.dropout.forward(this.LayerNorm.forward(x));
    });
  }
}

/** q_lin, k_lin, v_lin, scaled dot product attention, out_lin (no dropout after out_lin). */
export class DistilBertSelfAttention extends Module {
  q_lin: Linear;
  k_lin: Linear;
  v_lin: Linear;
  out_lin: Linear;
  dropout: Dropout;
  private readonly heads: number;
  constructor(c: DistilBertConfig) {
    super();
    const std = { std: c.initializer_range };
    this.q_lin = new Linear(c.dim, c.dim, std);
    this.k_lin = new Linear(c.dim, c.dim, std);
    this.v_lin = new Linear(c.dim, c.dim, std);
    this.out_lin = new Linear(c.dim, c.dim, std);
    this.dropout = new Dropout(c.attention_dropout);
    this.heads = c.n_heads;
  }
  /** mask: bool (B, 1, 1, T), true where a key may be attended; null when nothing is padded. */
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const [B, T, C] = x.shape;
    const D = C / this.heads;
    const split = (l: Linear) => l.forward(x).view(B, T, this.heads, D).transpose(1, 2); // (B, H, T, D)
    const y = scaledDotProductAttention(split(this.q_lin), split(this.k_lin), split(this.v_lin), {
      attnMask: mask,
      dropoutP: this.training ? this.dropout.p : 0,
      scale: 1 / Math.sqrt(D),
    }); // (B, H, T, D)
    return this.out_lin.forward(y.transpose(1, 2).reshape(B, T, C)); // (B, T, C)
  }
}

/** lin1 -> activation -> lin2 -> dropout. */
export class FFN extends Module {
  lin1: Linear;
  lin2: Linear;
  dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;
  constructor(c: DistilBertConfig) {
    super();
    this.lin1 = new Linear(c.dim, c.hidden_dim, { std: c.initializer_range });
    this.lin2 = new Linear(c.hidden_dim, c.dim, { std: c.initializer_range });
    this.dropout = new Dropout(c.dropout);
    this.act = activation(c.activation);
  }
  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.lin2.forward(this.act(this.lin1.forward(x)))); // (B, T, C)
  }
}

/** Post-norm block: attention + residual -> sa_layer_norm, FFN + residual -> output_layer_norm. */
export class TransformerBlock extends Module {
  attention: DistilBertSelfAttention;
  sa_layer_norm: LayerNorm;
  ffn: FFN;
  output_layer_norm: LayerNorm;
  constructor(c: DistilBertConfig) {
    super();
    this.attention = new DistilBertSelfAttention(c);
    this.sa_layer_norm = new LayerNorm(c.dim, LN_EPS);
    this.ffn = new FFN(c);
    this.output_layer_norm = new LayerNorm(c.dim, LN_EPS);
  }
  // each half in its own scope: its temporaries are freed when it returns (autograd keeps what backward needs)
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const a = tidy(() => this.sa_layer_norm.forward(this.attention.forward(x, mask).add(x))); // (B, T, C)
    return tidy(() => this.output_layer_norm.forward(this.ffn.forward(a).add(a))); // (B, T, C)
  }
}

export class Transformer extends Module {
  layer: ModuleList<TransformerBlock>;
  constructor(c: DistilBertConfig) {
    super();
    this.layer = new ModuleList(Array.from({ length: c.n_layers }, () => new TransformerBlock(c)));
  }
  forward(input: Tensor, mask: Tensor | null): Tensor {
    let x = input;
    for (const l of this.layer) {
      const prev = x;
      x = checkpoint(x, mask, (t, m) => l.forward(t, m));
      if (prev !== input) prev.dispose(); // autograd holds its own reference
    }
    return x;
  }
}

/** Hugging Face's DistilBertModel; head models hold it as `distilbert`. */
export class DistilBertModel extends PreTrainedModel<DistilBertConfig> {
  readonly architecture = 'DistilBertModel';
  readonly basePrefix = null;
  readonly baseModelPrefix = 'distilbert';
  readonly headKeys = [];
  readonly ignoredKeys = [/^(vocab_transform|vocab_layer_norm|vocab_projector|pre_classifier|classifier|qa_outputs)\./, /(^|\.)embeddings\.position_ids$/];
  // DistilBERT's tokenizers return no token types, and it has no table for them
  readonly acceptsTokenTypeIds = false;
  embeddings: DistilBertEmbeddings;
  transformer: Transformer;
  constructor(config: DistilBertConfig) {
    super(config);
    this.embeddings = new DistilBertEmbeddings(config);
    this.transformer = new Transformer(config);
  }
  forward(x: DistilBertInputs): { lastHiddenState: Tensor } {
    const h = this.embeddings.forward(x.inputIds, x.positionIds); // (B, T, C)
    return { lastHiddenState: this.transformer.forward(h, attentionMask(x.attentionMask)) }; // (B, T, C)
  }
}
