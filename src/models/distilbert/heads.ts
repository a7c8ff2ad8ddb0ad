// Task heads on DistilBERT, with Hugging Face's module names and losses.
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { activation } from '../../nn/activations';
import { Tensor } from '../../tensor/tensor';
import { numLabels, tiedWeight } from '../config';
import { ClassifierOutput, HeadInputs, QAInputs, QAOutput, questionAnsweringOutput, sequenceClassificationLoss, tokenClassificationLoss } from '../losses';
import { otherHeads, PreTrainedModel } from '../pretrained';
import { DistilBertConfig } from './config';
import { DistilBertInputs, DistilBertModel } from './model';

const HEADS = ['vocab_transform', 'vocab_layer_norm', 'vocab_projector', 'pre_classifier', 'classifier', 'qa_outputs'];
/** Keys of the other heads (base and other head checkpoints carry them). */
const othersThan = (...own: string[]) => [otherHeads(HEADS, own), /^distilbert\.embeddings\.position_ids$/];

abstract class DistilBertHeadModel extends PreTrainedModel<DistilBertConfig> {
  readonly basePrefix = 'distilbert';
  readonly baseModelPrefix = 'distilbert';
  readonly acceptsTokenTypeIds = false;
  distilbert: DistilBertModel;
  protected constructor(config: DistilBertConfig) {
    super(config);
    this.distilbert = new DistilBertModel(config);
  }
}

/** The first token through pre_classifier + ReLU, dropout (seq_classif_dropout) and classifier. */
export class DistilBertForSequenceClassification extends DistilBertHeadModel {
  readonly architecture = 'DistilBertForSequenceClassification';
  readonly headKeys = [/^(pre_classifier|classifier)\./];
  readonly ignoredKeys = othersThan('pre_classifier', 'classifier');
  pre_classifier: Linear;
  classifier: Linear;
  dropout: Dropout;
  constructor(config: DistilBertConfig) {
    super(config);
    this.pre_classifier = new Linear(config.dim, config.dim, { std: config.initializer_range });
    this.classifier = new Linear(config.dim, numLabels(config), { std: config.initializer_range });
    this.dropout = new Dropout(config.seq_classif_dropout);
  }
  /** labels: int64 (B) class ids; float (B, numLabels) multi-hot; float (B) or (B, 1) regression targets. */
  forward(x: DistilBertInputs & HeadInputs): ClassifierOutput {
    const first = this.distilbert.forward(x).lastHiddenState.select(1, 0); // (B, C)
    const logits = this.classifier.forward(this.dropout.forward(this.pre_classifier.forward(first).relu())); // (B, L)
    const loss = x.labels ? sequenceClassificationLoss(this.config, logits, x.labels, x.lossReduction) : null;
    return { loss, logits };
  }
}

/** Token classification: dropout (config.dropout) and classifier; labels (B, T), -100 where none applies. */
export class DistilBertForTokenClassification extends DistilBertHeadModel {
  readonly architecture = 'DistilBertForTokenClassification';
  readonly headKeys = [/^classifier\./];
  readonly ignoredKeys = othersThan('classifier');
  dropout: Dropout;
  classifier: Linear;
  constructor(config: DistilBertConfig) {
    super(config);
    this.dropout = new Dropout(config.dropout);
    this.classifier = new Linear(config.dim, numLabels(config), { std: config.initializer_range });
  }
  forward(x: DistilBertInputs & HeadInputs): ClassifierOutput {
    const logits = this.classifier.forward(this.dropout.forward(this.distilbert.forward(x).lastHiddenState)); // (B, T, L)
    return { loss: x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
}

/** Extractive question answering: dropout (qa_dropout), then start and end logits. */
export class DistilBertForQuestionAnswering extends DistilBertHeadModel {
  readonly architecture = 'DistilBertForQuestionAnswering';
  readonly headKeys = [/^qa_outputs\./];
  readonly ignoredKeys = othersThan('qa_outputs');
  qa_outputs: Linear;
  dropout: Dropout;
  constructor(config: DistilBertConfig) {
    super(config);
    this.qa_outputs = new Linear(config.dim, numLabels(config), { std: config.initializer_range });
    this.dropout = new Dropout(config.qa_dropout);
  }
  forward(x: DistilBertInputs & QAInputs): QAOutput {
    const logits = this.qa_outputs.forward(this.dropout.forward(this.distilbert.forward(x).lastHiddenState)); // (B, T, 2)
    return questionAnsweringOutput(logits, x.startPositions, x.endPositions, x.lossReduction);
  }
}

/** Masked LM: vocab_transform -> activation -> vocab_layer_norm -> vocab_projector (tied to the word embeddings). */
export class DistilBertForMaskedLM extends DistilBertHeadModel {
  readonly architecture = 'DistilBertForMaskedLM';
  readonly headKeys = [/^(vocab_transform|vocab_layer_norm|vocab_projector)\./];
  readonly ignoredKeys = othersThan('vocab_transform', 'vocab_layer_norm', 'vocab_projector');
  vocab_transform: Linear;
  vocab_layer_norm: LayerNorm;
  vocab_projector: Linear;
  private readonly act: (x: Tensor) => Tensor;
  constructor(config: DistilBertConfig) {
    super(config);
    this.vocab_transform = new Linear(config.dim, config.dim, { std: config.initializer_range });
    this.vocab_layer_norm = new LayerNorm(config.dim, 1e-12);
    this.vocab_projector = new Linear(config.dim, config.vocab_size, { std: config.initializer_range, weight: tiedWeight(config, this.distilbert.embeddings.word_embeddings.weight) });
    this.act = activation(config.activation);
  }
  forward(x: DistilBertInputs & HeadInputs): ClassifierOutput {
    const h = this.distilbert.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.vocab_projector.forward(this.vocab_layer_norm.forward(this.act(this.vocab_transform.forward(h)))); // (B, T, V)
    return { loss: x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
}
