// Task heads on ELECTRA (discriminator checkpoints; the generator's masked-LM head too), with
// Hugging Face's module names and losses.
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
import { ElectraConfig } from './config';
import { ElectraModel } from './model';

const HEADS = ['discriminator_predictions', 'generator_predictions', 'generator_lm_head', 'classifier', 'qa_outputs'];
/** Keys of the other heads (a discriminator checkpoint carries discriminator_predictions). */
const othersThan = (...own: string[]) => [otherHeads(HEADS, own), /^electra\.embeddings\.position_ids$/];

abstract class ElectraHeadModel extends PreTrainedModel<ElectraConfig> {
  readonly basePrefix = 'electra';
  readonly baseModelPrefix = 'electra';
  electra: ElectraModel;
  protected constructor(config: ElectraConfig) {
    super(config);
    this.electra = new ElectraModel(config);
  }
  protected classifierDropout(): number {
    return this.config.classifier_dropout ?? this.config.hidden_dropout_prob;
  }
}

/** The first token through dropout, dense + GELU (not BERT's tanh), dropout and out_proj. */
export class ElectraClassificationHead extends Module {
  dense: Linear;
  dropout: Dropout;
  out_proj: Linear;
  constructor(c: ElectraConfig, p: number) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, { std: c.initializer_range });
    this.dropout = new Dropout(p);
    this.out_proj = new Linear(c.hidden_size, numLabels(c), { std: c.initializer_range });
  }
  forward(h: Tensor): Tensor {
    const x = this.dropout.forward(h.select(1, 0)); // (B, C)
    return this.out_proj.forward(this.dropout.forward(gelu(this.dense.forward(x)))); // (B, L)
  }
}

/** Sequence classification: single-label, multi-label or regression by config.problem_type. */
export class ElectraForSequenceClassification extends ElectraHeadModel {
  readonly architecture = 'ElectraForSequenceClassification';
  readonly headKeys = [/^classifier\./];
  // a token-classification checkpoint's classifier is another head under the same name
  readonly ignoredKeys = [...othersThan('classifier'), /^classifier\.(weight|bias)$/];
  classifier: ElectraClassificationHead;
  constructor(config: ElectraConfig) {
    super(config);
    this.classifier = new ElectraClassificationHead(config, this.classifierDropout());
  }
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    // the head reads the first token only: the encoder runs over real tokens alone
    const logits = this.classifier.forward(this.electra.forward(x, { firstTokenOnly: true }).lastHiddenState); // (B, L)
    const loss = x.labels ? sequenceClassificationLoss(this.config, logits, x.labels, x.lossReduction) : null;
    return { loss, logits };
  }
}

/** Token classification: labels (B, T) with -100 where no label applies. */
export class ElectraForTokenClassification extends ElectraHeadModel {
  readonly architecture = 'ElectraForTokenClassification';
  readonly headKeys = [/^classifier\./];
  // a sequence-classification checkpoint's classifier (dense, out_proj) is another head under the same name
  readonly ignoredKeys = [...othersThan('classifier'), /^classifier\.(dense|out_proj)\./];
  dropout: Dropout;
  classifier: Linear;
  constructor(config: ElectraConfig) {
    super(config);
    this.dropout = new Dropout(this.classifierDropout());
    this.classifier = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
  }
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    const logits = this.classifier.forward(this.dropout.forward(this.electra.forward(x).lastHiddenState)); // (B, T, L)
    return { loss: x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
}

/** Extractive question answering: start and end logits over the tokens. */
export class ElectraForQuestionAnswering extends ElectraHeadModel {
  readonly architecture = 'ElectraForQuestionAnswering';
  readonly headKeys = [/^qa_outputs\./];
  readonly ignoredKeys = othersThan('qa_outputs');
  qa_outputs: Linear;
  constructor(config: ElectraConfig) {
    super(config);
    this.qa_outputs = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
  }
  forward(x: BertInputs & QAInputs): QAOutput {
    const logits = this.qa_outputs.forward(this.electra.forward(x).lastHiddenState); // (B, T, 2)
    return questionAnsweringOutput(logits, x.startPositions, x.endPositions, x.lossReduction);
  }
}

/** dense (hidden -> embedding_size) -> GELU -> LayerNorm. */
export class ElectraGeneratorPredictions extends Module {
  LayerNorm: LayerNorm;
  dense: Linear;
  constructor(c: ElectraConfig) {
    super();
    this.LayerNorm = new LayerNorm(c.embedding_size, c.layer_norm_eps);
    this.dense = new Linear(c.hidden_size, c.embedding_size, { std: c.initializer_range });
  }
  forward(h: Tensor): Tensor {
    return this.LayerNorm.forward(gelu(this.dense.forward(h))); // (B, T, E)
  }
}

/** The generator's masked LM: generator_predictions, then generator_lm_head (tied to the word embeddings). */
export class ElectraForMaskedLM extends ElectraHeadModel {
  readonly architecture = 'ElectraForMaskedLM';
  readonly headKeys = [/^(generator_predictions|generator_lm_head)\./];
  readonly ignoredKeys = othersThan('generator_predictions', 'generator_lm_head');
  generator_predictions: ElectraGeneratorPredictions;
  generator_lm_head: Linear;
  constructor(config: ElectraConfig) {
    super(config);
    this.generator_predictions = new ElectraGeneratorPredictions(config);
    this.generator_lm_head = new Linear(config.embedding_size, config.vocab_size, { std: config.initializer_range, weight: tiedWeight(config, this.electra.embeddings.word_embeddings.weight) });
  }
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    const h = this.electra.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.generator_lm_head.forward(this.generator_predictions.forward(h)); // (B, T, V)
    return { loss: x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
}
