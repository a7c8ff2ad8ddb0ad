// Task heads on RoBERTa and XLM-RoBERTa, with Hugging Face's module names and losses.
import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { Tensor } from '../../tensor/tensor';
import { gelu } from '../../tensor/functional';
import { numLabels, tiedWeight } from '../config';
import { ClassifierOutput, HeadInputs, QAInputs, QAOutput, questionAnsweringOutput, sequenceClassificationLoss, tokenClassificationLoss } from '../losses';
import { otherHeads, PreTrainedModel } from '../pretrained';
import { BertInputs } from '../bert/model';
import { RobertaConfig } from './config';
import { classPrefix, RobertaModel } from './model';

const LEGACY_POSITION_IDS = /^roberta\.embeddings\.position_ids$/;
const HEADS = ['lm_head', 'classifier', 'qa_outputs'];
/** Keys of the other heads, and the pooler (no RoBERTa head uses it): present in base and other head checkpoints. */
const othersThan = (own: string) => [otherHeads(HEADS, [own]), /^roberta\.pooler\./, LEGACY_POSITION_IDS];

abstract class RobertaHeadModel extends PreTrainedModel<RobertaConfig> {
  readonly basePrefix = 'roberta';
  readonly baseModelPrefix = 'roberta';
  readonly acceptsTokenTypeIds = false;
  roberta: RobertaModel;
  protected constructor(
    config: RobertaConfig,
    private readonly suffix: string,
  ) {
    super(config);
    this.roberta = new RobertaModel(config, { addPoolingLayer: false });
  }
  get architecture(): string {
    return `${classPrefix(this.config)}${this.suffix}`;
  }
  protected classifierDropout(): number {
    return this.config.classifier_dropout ?? this.config.hidden_dropout_prob;
  }
}

/** The first token (<s>) through dropout, dense + tanh, dropout and out_proj (no pooler). */
export class RobertaClassificationHead extends Module {
  dense: Linear;
  dropout: Dropout;
  out_proj: Linear;
  constructor(c: RobertaConfig, p: number) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, { std: c.initializer_range });
    this.dropout = new Dropout(p);
    this.out_proj = new Linear(c.hidden_size, numLabels(c), { std: c.initializer_range });
  }
  forward(h: Tensor): Tensor {
    const x = this.dropout.forward(h.select(1, 0)); // (B, C)
    return this.out_proj.forward(this.dropout.forward(this.dense.forward(x).tanh())); // (B, L)
  }
}

/** Sequence classification: single-label, multi-label or regression by config.problem_type. */
export class RobertaForSequenceClassification extends RobertaHeadModel {
  readonly headKeys = [/^classifier\./];
  // a token-classification checkpoint's classifier is another head under the same name
  readonly ignoredKeys = [...othersThan('classifier'), /^classifier\.(weight|bias)$/];
  classifier: RobertaClassificationHead;
  constructor(config: RobertaConfig) {
    super(config, 'ForSequenceClassification');
    this.classifier = new RobertaClassificationHead(config, this.classifierDropout());
  }
  /** labels: int64 (B) class ids; float (B, numLabels) multi-hot; float (B) or (B, 1) regression targets. */
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    // the head reads the first token only: the encoder runs over real tokens alone
    const logits = this.classifier.forward(this.roberta.forward(x, { firstTokenOnly: true }).lastHiddenState); // (B, L)
    const loss = x.labels ? sequenceClassificationLoss(this.config, logits, x.labels, x.lossReduction) : null;
    return { loss, logits };
  }
}

/** Token classification: labels (B, T) with -100 where no label applies. */
export class RobertaForTokenClassification extends RobertaHeadModel {
  readonly headKeys = [/^classifier\./];
  // a sequence-classification checkpoint's classifier (dense, out_proj) is another head under the same name
  readonly ignoredKeys = [...othersThan('classifier'), /^classifier\.(dense|out_proj)\./];
  dropout: Dropout;
  classifier: Linear;
  constructor(config: RobertaConfig) {
    super(config, 'ForTokenClassification');
    this.dropout = new Dropout(this.classifierDropout());
    this.classifier = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
  }
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    const h = this.roberta.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.classifier.forward(this.dropout.forward(h)); // (B, T, L)
    return { loss: x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
}

/** Extractive question answering: start and end logits over the tokens. */
export class RobertaForQuestionAnswering extends RobertaHeadModel {
  readonly headKeys = [/^qa_outputs\./];
  readonly ignoredKeys = othersThan('qa_outputs');
  qa_outputs: Linear;
  constructor(config: RobertaConfig) {
    super(config, 'ForQuestionAnswering');
    this.qa_outputs = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
  }
  forward(x: BertInputs & QAInputs): QAOutput {
    const logits = this.qa_outputs.forward(this.roberta.forward(x).lastHiddenState); // (B, T, 2)
    return questionAnsweringOutput(logits, x.startPositions, x.endPositions, x.lossReduction);
  }
}

/** dense -> gelu -> layer_norm -> decoder (the word embedding matrix, tied) + bias. */
export class RobertaLMHead extends Module {
  dense: Linear;
  layer_norm: LayerNorm;
  // `bias` is declared before `decoder` so that it, not its alias decoder.bias, is the saved key
  bias: Tensor;
  decoder: Linear;
  constructor(c: RobertaConfig, wordEmbeddings: Tensor) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, { std: c.initializer_range });
    this.layer_norm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    // bias starts at zero, as transformers'
    this.decoder = new Linear(c.hidden_size, c.vocab_size, { std: c.initializer_range, weight: tiedWeight(c, wordEmbeddings) });
    this.bias = this.decoder.bias!;
  }
  forward(h: Tensor): Tensor {
    return this.decoder.forward(this.layer_norm.forward(gelu(this.dense.forward(h)))); // (B, T, V)
  }
}

/** Masked language modelling; labels (B, T) with -100 on unmasked positions. */
export class RobertaForMaskedLM extends RobertaHeadModel {
  readonly headKeys = [/^lm_head\./];
  readonly ignoredKeys = othersThan('lm_head');
  lm_head: RobertaLMHead;
  constructor(config: RobertaConfig) {
    super(config, 'ForMaskedLM');
    this.lm_head = new RobertaLMHead(config, this.roberta.embeddings.word_embeddings.weight);
  }
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    const logits = this.lm_head.forward(this.roberta.forward(x).lastHiddenState); // (B, T, V)
    return { loss: x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
}
