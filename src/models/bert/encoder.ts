import { Module, ModuleList } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { activation } from '../../nn/activations';
import { Tensor } from '../../tensor/tensor';
import { tidy } from '../../tensor/scope';
import { BertConfig } from './config';
import { BertAttention, BertResidualOutput } from './attention';
import { checkpoint } from '../../nn/checkpoint';

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
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const a = tidy(() => this.attention.forward(x, mask)); // (B, T, C)
    return tidy(() => this.output.forward(this.intermediate.forward(a), a)); // (B, T, C)
  }
}

export class BertEncoder extends Module {
  layer: ModuleList<BertLayer>;
  constructor(c: BertConfig) {
    super();
    this.layer = new ModuleList(Array.from({ length: c.num_hidden_layers }, () => new BertLayer(c)));
  }
  forward(input: Tensor, mask: Tensor | null): Tensor {
    let x = input;
    for (const l of this.layer) {
      const prev = x;
      x = checkpoint(x, mask, (t, m) => l.forward(t, m));
      // a hidden state made here is no longer needed (autograd holds its own reference); the caller's input is theirs
      if (prev !== input) prev.dispose();
    }
    return x;
  }
}
