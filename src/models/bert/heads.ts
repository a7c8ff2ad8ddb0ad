// Task heads on BERT, with Hugging Face's module names and losses.
import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { activation } from '../../nn/activations';
import { Tensor } from '../../tensor/tensor';
import { ClassifierOutput, HeadInputs, QAInputs, QAOutput, questionAnsweringOutput, sequenceClassificationLoss, tokenClassificationLoss } from '../losses';
import { PreTrainedModel } from '../pretrained';
import { BertConfig, numLabels } from './config';
import { tiedWeight } from '../config';

export type { ClassifierOutput, HeadInputs, QAOutput } from '../losses';
import { BertInputs, BertModel } from './model';

const LEGACY_POSITION_IDS = /^bert\.embeddings\.position_ids$/;


abstract class BertHeadModel extends PreTrainedModel<BertConfig> {
  readonly basePrefix = 'bert';
  readonly baseModelPrefix = 'bert';
  bert: BertModel;
  protected constructor(config: BertConfig, pooler: boolean) {
    super(config);
    this.bert = new BertModel(config, { addPoolingLayer: pooler });
  }
  protected classifierDropout(): number {
    return this.config.classifier_dropout ?? this.config.hidden_dropout_prob;
  }
}

/** Sequence classification: single-label, multi-label or regression by config.problem_type. */
export class BertForSequenceClassification extends BertHeadModel {
  readonly architecture = 'BertForSequenceClassification';
  readonly headKeys = [/^classifier\./];
  readonly ignoredKeys = [/^(cls|qa_outputs)\./, LEGACY_POSITION_IDS];
  dropout: Dropout;
  classifier: Linear;

  constructor(config: BertConfig) {
    super(config, true);
    this.dropout = new Dropout(this.classifierDropout());
    this.classifier = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
  }

  /** labels: int64 (B) class ids; float (B, numLabels) multi-hot; float (B) or (B, 1) regression targets. */
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    // the pooler reads the first token only: the encoder runs over real tokens alone
    const pooled = this.bert.forward(x, { firstTokenOnly: true }).poolerOutput!; // (B, C)
    const logits = this.classifier.forward(this.dropout.forward(pooled)); // (B, L)
    const loss = x.labels ? sequenceClassificationLoss(this.config, logits, x.labels, x.lossReduction) : null;
    return { loss, logits };
  }
}

/** Token classification (NER and the like): labels (B, T) with -100 where no label applies. */
export class BertForTokenClassification extends BertHeadModel {
  readonly architecture = 'BertForTokenClassification';
  readonly headKeys = [/^classifier\./];
  readonly ignoredKeys = [/^(cls|qa_outputs)\./, /^bert\.pooler\./, LEGACY_POSITION_IDS];
  dropout: Dropout;
  classifier: Linear;

  constructor(config: BertConfig) {
    super(config, false);
    this.dropout = new Dropout(this.classifierDropout());
    this.classifier = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
  }

  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    const h = this.bert.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.classifier.forward(this.dropout.forward(h)); // (B, T, L)
    const loss = x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null;
    return { loss, logits };
  }
}

/** Extractive question answering: start and end logits over the tokens. */
export class BertForQuestionAnswering extends BertHeadModel {
  readonly architecture = 'BertForQuestionAnswering';
  readonly headKeys = [/^qa_outputs\./];
  readonly ignoredKeys = [/^(cls|classifier)\./, /^bert\.pooler\./, LEGACY_POSITION_IDS];
  qa_outputs: Linear;

  constructor(config: BertConfig) {
    super(config, false);
    this.qa_outputs = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
  }

  /** startPositions/endPositions (B): positions outside the sequence are clamped and ignored, as Hugging Face does. */
  forward(x: BertInputs & QAInputs): QAOutput {
    const h = this.bert.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.qa_outputs.forward(h); // (B, T, 2)
    return questionAnsweringOutput(logits, x.startPositions, x.endPositions, x.lossReduction);
  }
}

export class BertPredictionHeadTransform extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  private readonly _act: (x: Tensor) => Tensor;
  constructor(c: BertConfig) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, { std: c.initializer_range });
    this._act = activation(c.hidden_act);
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
  }
  forward(h: Tensor): Tensor {
    return this.LayerNorm.forward(this._act(this.dense.forward(h)));
  }
}

/** The MLM decoder: its weight is the word embedding matrix and its bias is `bias` (tied). */
export class BertLMPredictionHead extends Module {
  // `bias` is declared before `decoder` so that it, not its alias decoder.bias, is the saved key
  bias: Tensor;
  transform: BertPredictionHeadTransform;
  decoder: Linear;
  constructor(c: BertConfig, wordEmbeddings: Tensor) {
    super();
    this.transform = new BertPredictionHeadTransform(c);
    this.decoder = new Linear(c.hidden_size, c.vocab_size, { std: c.initializer_range, weight: tiedWeight(c, wordEmbeddings) });
    this.bias = this.decoder.bias!;
  }
  forward(h: Tensor): Tensor {
    return this.decoder.forward(this.transform.forward(h)); // (B, T, V)
  }
}

export class BertOnlyMLMHead extends Module {
  predictions: BertLMPredictionHead;
  constructor(c: BertConfig, wordEmbeddings: Tensor) {
    super();
    this.predictions = new BertLMPredictionHead(c, wordEmbeddings);
  }
}

/** Masked language modelling; labels (B, T) with -100 on unmasked positions. */
export class BertForMaskedLM extends BertHeadModel {
  readonly architecture = 'BertForMaskedLM';
  readonly headKeys = [/^cls\.predictions\./];
  readonly ignoredKeys = [/^cls\.seq_relationship\./, /^(classifier|qa_outputs)\./, /^bert\.pooler\./, LEGACY_POSITION_IDS];
  cls: BertOnlyMLMHead;

  constructor(config: BertConfig) {
    super(config, false);
    this.cls = new BertOnlyMLMHead(config, this.bert.embeddings.word_embeddings.weight);
  }

  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    const h = this.bert.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.cls.predictions.forward(h); // (B, T, V)
    const loss = x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null;
    return { loss, logits };
  }
}

