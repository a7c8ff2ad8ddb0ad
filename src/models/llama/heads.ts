// Llama-family heads: causal language modelling (lm_head, tied to embed_tokens when
// tie_word_embeddings) and sequence classification (`score` on the last non-padding token).
import { Linear } from '../../nn/linear';
import { Tensor } from '../../tensor/tensor';
import { numLabels } from '../config';
import { DecoderInputs, poolLastToken } from '../decoder';
import { causalLMLoss, sequenceClassificationLoss } from '../losses';
import { PreTrainedModel } from '../pretrained';
import { generate, GenerateOptions, GenerationConfig } from '../generate';
import { LlamaConfig } from './config';
import { familyName, LlamaModel } from './model';

abstract class LlamaHeadModel extends PreTrainedModel<LlamaConfig> {
  readonly basePrefix = 'model';
  readonly acceptsTokenTypeIds = false;
  readonly baseModelPrefix = 'model';
  model: LlamaModel;
  protected constructor(config: LlamaConfig) {
    super(config);
    this.model = new LlamaModel(config);
  }
}

/** LlamaForCausalLM (MistralForCausalLM, Qwen2ForCausalLM): labels (B, T) are shifted inside, -100 ignored. */
export class LlamaForCausalLM extends LlamaHeadModel {
  readonly architecture: string;
  readonly headKeys = [/^lm_head\./];
  readonly ignoredKeys = [/^score\./, /(^|\.)rotary_emb\.inv_freq$/];
  lm_head: Linear;
  /** generation_config.json (read by fromPretrained, written by savePretrained); null: the config's token ids */
  generationConfig: GenerationConfig | null = null;
  constructor(config: LlamaConfig) {
    super(config);
    this.architecture = `${familyName(config)}ForCausalLM`;
    const tied = config.tie_word_embeddings ? this.model.embed_tokens.weight : undefined;
    this.lm_head = new Linear(config.hidden_size, config.vocab_size, { bias: false, std: config.initializer_range, weight: tied });
  }
  forward(x: DecoderInputs): { loss: Tensor | null; logits: Tensor } {
    const h = this.model.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.lm_head.forward(h); // (B, T, V)
    return { loss: x.labels ? causalLMLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
  /** Continues each row of inputIds (B, T) int64: see generate(). Returns (B, T + new tokens). */
  generate(inputIds: Tensor, opts: GenerateOptions = {}): Tensor {
    return generate(this, inputIds, opts);
  }
}

/** LlamaForSequenceClassification (and Mistral's, Qwen2's): scores the last non-padding token. */
export class LlamaForSequenceClassification extends LlamaHeadModel {
  readonly architecture: string;
  readonly headKeys = [/^score\./];
  readonly ignoredKeys = [/^lm_head\./, /(^|\.)rotary_emb\.inv_freq$/];
  score: Linear;
  constructor(config: LlamaConfig) {
    super(config);
    this.architecture = `${familyName(config)}ForSequenceClassification`;
    this.score = new Linear(config.hidden_size, numLabels(config), { bias: false, std: config.initializer_range });
  }
  forward(x: DecoderInputs): { loss: Tensor | null; logits: Tensor } {
    const h = this.model.forward(x).lastHiddenState; // (B, T, C)
    const logits = poolLastToken(this.score.forward(h), x.inputIds, this.config.pad_token_id, this.architecture); // (B, L)
    return { loss: x.labels ? sequenceClassificationLoss(this.config, logits, x.labels, x.lossReduction) : null, logits };
  }
}
