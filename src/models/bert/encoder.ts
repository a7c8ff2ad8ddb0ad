import { Module, ModuleList } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { activation } from '../../nn/activations';
import { Tensor } from '../../tensor/tensor';
import { tidy } from '../../tensor/scope';
import { arange } from '../../tensor/create';
import { BertConfig } from './config';
import { attentionFirstQueryExact } from '../../tensor/functional';
import { attentionMask } from './mask';
import { BertAttention, BertResidualOutput } from './attention';
import { checkpoint } from '../../nn/checkpoint';
import { TokenRows, firstRows, packRows, tokenRows } from '../../nn/token-rows';

export class BertIntermediate extends Module {
  dense: Linear;
  private readonly _act: (x: Tensor) => Tensor;
  constructor(c: BertConfig) {
    super();
    this.dense = new Linear(c.hidden_size, c.intermediate_size, { std: c.initializer_range });
    this._act = activation(c.hidden_act);
  }
  forward(x: Tensor): Tensor {
    return this._act(this.dense.forward(x)); // (B, T, I)
  }
}

/** After the feed-forward block (Hugging Face's BertOutput). */
export class BertOutput extends BertResidualOutput {
  constructor(c: BertConfig) {
    super(c, c.intermediate_size);
  }
}

export class BertLayer extends Module {
  attention: BertAttention;
  intermediate: BertIntermediate;
  output: BertOutput;
  constructor(c: BertConfig) {
    super();
    this.attention = new BertAttention(c);
    this.intermediate = new BertIntermediate(c);
    this.output = new BertOutput(c);
  }
  // Each block runs in its own scope so that its temporaries are freed when it returns, as
  // Python's reference counting frees them: holding them to the end of the step costs fresh
  // (page-faulting) memory for every allocation. Autograd keeps what backward needs itself.
  /** x: (B, T, C), or the real tokens' rows (N, C) with `rows`; returns x's layout. */
  forward(x: Tensor, mask: Tensor | null, rows: TokenRows | null = null): Tensor {
    const a = tidy(() => this.attention.forward(x, mask, rows)); // (B, T, C)
    return tidy(() => this.output.forward(this.intermediate.forward(a), a, rows)); // (B, T, C)
  }
  /**
   * The layer's output at each row's first token alone (B, C), from every token of x ((B, T, C),
   * or real rows (N, C) with `rows`); `firsts` places the first tokens in the padded batch (for
   * dropout's masks). Not with attention dropout in train mode (BertSelfAttention.forwardFirst).
   */
  forwardFirst(x: Tensor, mask: Tensor | null, rows: TokenRows | null, firsts: TokenRows): Tensor {
    const xq = rows ? x.indexSelect(0, rows.first) : x.select(1, 0); // (B, C)
    const a = tidy(() => this.attention.forwardFirst(x, xq, mask, rows, firsts)); // (B, C)
    return tidy(() => this.output.forward(this.intermediate.forward(a), a, firsts)); // (B, C)
  }
}

export class BertEncoder extends Module {
  layer: ModuleList<BertLayer>;
  constructor(c: BertConfig) {
    super();
    this.layer = new ModuleList(Array.from({ length: c.num_hidden_layers }, () => new BertLayer(c)));
  }
  /** input: (B, T, C), or the real tokens' rows (N, C) with `rows`; mask: bool (B, 1, 1, T) or null. */
  forward(input: Tensor, mask: Tensor | null, rows: TokenRows | null = null): Tensor {
    return this.layers(input, mask, rows, this.layer.length);
  }

  /** The first `count` layers over input (x's layout in and out). */
  private layers(input: Tensor, mask: Tensor | null, rows: TokenRows | null, count: number): Tensor {
    let x = input;
    for (const l of [...this.layer].slice(0, count)) {
      const prev = x;
      x = checkpoint(x, { mask, rows }, (t, e) => l.forward(t, e.mask, e.rows));
      // a hidden state made here is no longer needed (autograd holds its own reference); the caller's input is theirs
      if (prev !== input) prev.dispose();
    }
    return x;
  }

  /**
   * The encoder over embeddings h (B, T, C) with the batch's padding mask (B, T) (1 or true where
   * real; absent: nothing padded): the last hidden state (B, T, C); with firstTokenOnly, each
   * row's first token's state alone (B, 1, C), what poolers and classification heads read, and
   * then only what that state depends on is computed:
   * - a padded batch runs over its real tokens only (TokenRows): padded positions are never
   *   computed, real ones get the padded layout's values, dropout draws the same masks;
   * - the last layer runs for the first tokens alone (their queries against every key; with
   *   attention dropout, the masks attention over every query draws), unless that dropout cannot
   *   be reproduced there (autocast, CUDA: attentionFirstQueryExact).
   * Real tokens get the padded layout's values up to float32 rounding (products over fewer
   * rows may round differently); dropout's masks and the generator's state are the same.
   * A row that starts with padding (left padding) or a mask that is not (B, T) runs the padded
   * layout.
   */
  run(h: Tensor, padding: Tensor | null | undefined, o: EncoderRunOptions = {}): Tensor {
    const [B, T] = h.shape;
    if (!o.firstTokenOnly || (padding && (padding.ndim !== 2 || padding.shape[0] !== B || padding.shape[1] !== T))) {
      const last = this.forward(h, attentionMask(padding)); // (B, T, C)
      return o.firstTokenOnly ? last.narrow(1, 0, 1) : last;
    }
    const rows = tokenRows(padding);
    const mask = rows ? (padding!.dtype === 'bool' ? padding! : padding!.ne(0)).view(B, 1, 1, T) : attentionMask(padding); // (B, 1, 1, T)
    if (rows === null && mask !== null) return this.forward(h, mask).narrow(1, 0, 1); // left padding
    const x = rows ? packRows(h, rows) : h; // (N, C) or (B, T, C)
    const n = this.layer.length;
    const last = this.layer.at(n - 1);
    const self = last.attention.self;
    if (self.training && self.dropout.p > 0 && !attentionFirstQueryExact(h.dtype, h.device)) {
      const out = this.forward(x, mask, rows);
      return rows ? firstRows(out, rows) : out.narrow(1, 0, 1); // (B, 1, C)
    }
    // where each first token sits in the padded batch: b * T
    const firsts: TokenRows = { index: arange(0, B * T, T, { device: h.device }), first: arange(B, undefined, 1, { device: h.device }), batch: B, length: T };
    const before = this.layers(x, mask, rows, n - 1);
    const out = checkpoint(before, { mask, rows, firsts }, (t, e) => last.forwardFirst(t, e.mask, e.rows, e.firsts)); // (B, C)
    if (before !== x) before.dispose();
    return out.unsqueeze(1); // (B, 1, C)
  }
}

export interface EncoderRunOptions {
  /** only each row's first token's final state is wanted: (B, 1, C) */
  firstTokenOnly?: boolean;
}
