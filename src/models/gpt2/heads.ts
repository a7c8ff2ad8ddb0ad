// GPT-2 heads: language modelling (lm_head tied to wte) and sequence classification (`score` on
// the last token that is not padding), with transformers' names and losses.
import { Linear } from '../../nn/linear';
import { Tensor } from '../../tensor/tensor';
import { numLabels } from '../config';
import { poolLastToken } from '../decoder';
import { causalLMLoss, sequenceClassificationLoss } from '../losses';
import { PreTrainedModel } from '../pretrained';
import { generate, GenerateOptions, GenerationConfig } from '../generate';
import { GPT2Config } from './config';
import { GPT2Inputs, GPT2Model } from './model';

export interface CausalLMOutput {
  loss: Tensor | null;
  /** (B, T, V) */
  logits: Tensor;
}

abstract class GPT2HeadModel extends PreTrainedModel<GPT2Config> {
  readonly basePrefix = 'transformer';
  readonly baseModelPrefix = 'transformer';
  transformer: GPT2Model;
  protected constructor(config: GPT2Config) {
    super(config);
    this.transformer = new GPT2Model(config);
  }
}

/** Causal language modelling; labels (B, T) are shifted inside, -100 ignored. */
export class GPT2LMHeadModel extends GPT2HeadModel {
  readonly architecture = 'GPT2LMHeadModel';
  readonly headKeys = [/^lm_head\./];
  readonly ignoredKeys = [/^score\./, /(^|\.)attn\.(masked_)?bias$/];
  lm_head: Linear;
  /** generation_config.json (read by fromPretrained, written by savePretrained); null: the config's token ids */
  generationConfig: GenerationConfig | null = null;
  constructor(config: GPT2Config) {
    super(config);
    const tied = config.tie_word_embeddings ? this.transformer.wte.weight : undefined;
    this.lm_head = new Linear(config.n_embd, config.vocab_size, { bias: false, std: config.initializer_range, weight: tied });
  }
  forward(x: GPT2Inputs): CausalLMOutput {
    const h = this.transformer.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.lm_head.forward(h); // (B, T, V)
    return { loss: x.labels ? causalLMLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
  /** The longest sequence the position table takes (n_positions): generation refuses to go past it. */
  get maxPositions(): number {
    return this.config.n_positions;
  }
  /** Continues each row of inputIds (B, T) int64: see generate(). Returns (B, T + new tokens). */
  generate(inputIds: Tensor, opts: GenerateOptions = {}): Tensor {
    return generate(this, inputIds, opts);
  }
}

/** Sequence classification from the last non-padding token (config.pad_token_id). */
export class GPT2ForSequenceClassification extends GPT2HeadModel {
  readonly architecture = 'GPT2ForSequenceClassification';
  readonly headKeys = [/^score\./];
  readonly ignoredKeys = [/^lm_head\./, /(^|\.)attn\.(masked_)?bias$/];
  score: Linear;
  constructor(config: GPT2Config) {
    super(config);
    this.score = new Linear(config.n_embd, numLabels(config), { bias: false, std: config.initializer_range });
  }
  forward(x: GPT2Inputs): { loss: Tensor | null; logits: Tensor } {
    const h = this.transformer.forward(x).lastHiddenState; // (B, T, C)
    const logits = poolLastToken(this.score.forward(h), x.inputIds, this.config.pad_token_id, this.architecture); // (B, L)
    return { loss: x.labels ? sequenceClassificationLoss(this.config, logits, x.labels, x.lossReduction) : null, logits };
  }
}
