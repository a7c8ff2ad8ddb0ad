// Task heads on BERT, with Hugging Face's module names and losses.
import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { activation } from '../../nn/activations';
import { Tensor } from '../../tensor/tensor';
import { crossEntropy } from '../../tensor/functional';
import { LossReduction, sequenceClassificationLoss } from '../losses';
import { PreTrainedModel } from '../pretrained';
import { BertConfig, numLabels } from './config';
import { BertInputs, BertModel } from './model';

const LEGACY_POSITION_IDS = /^bert\.embeddings\.position_ids$/;

/** What a head's forward takes beyond the base model's inputs: labels, and the loss's reduction. */
export interface HeadInputs {
  labels?: Tensor | null;
  /** 'mean' (transformers' default) or 'sum' over the targets (a Trainer normalising over an accumulated batch). */
  lossReduction?: LossReduction;
}

export interface ClassifierOutput {
  loss: Tensor | null;
  /** (B, numLabels) for sequences, (B, T, numLabels) for tokens, (B, T, V) for masked LM */
  logits: Tensor;
}

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
    const pooled = this.bert.forward(x).poolerOutput!; // (B, C)
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
    const n = numLabels(this.config);
    const loss = x.labels ? crossEntropy(logits.view(-1, n), x.labels.view(-1), { reduction: x.lossReduction ?? 'mean' }) : null;
    return { loss, logits };
  }
}

export interface QAOutput {
  loss: Tensor | null;
  startLogits: Tensor; // (B, T)
  endLogits: Tensor; // (B, T)
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
  forward(x: BertInputs & { startPositions?: Tensor | null; endPositions?: Tensor | null; lossReduction?: LossReduction }): QAOutput {
    const h = this.bert.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.qa_outputs.forward(h); // (B, T, 2)
    const [s, e] = logits.split(1, -1);
    const startLogits = s.squeeze(-1).contiguous(); // (B, T)
    const endLogits = e.squeeze(-1).contiguous(); // (B, T)
    let loss: Tensor | null = null;
    if (x.startPositions && x.endPositions) {
      const T = startLogits.size(1);
      const sp = x.startPositions.ndim > 1 ? x.startPositions.squeeze(-1) : x.startPositions;
      const ep = x.endPositions.ndim > 1 ? x.endPositions.squeeze(-1) : x.endPositions;
      const reduction = x.lossReduction ?? 'mean';
      const ls = crossEntropy(startLogits, sp.clamp(0, T), { ignoreIndex: T, reduction });
      const le = crossEntropy(endLogits, ep.clamp(0, T), { ignoreIndex: T, reduction });
      loss = ls.add(le).div(2);
    }
    return { loss, startLogits, endLogits };
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
    this.decoder = new Linear(c.hidden_size, c.vocab_size, { std: c.initializer_range });
    this.decoder.weight.dispose(); // replaced by the tied embedding matrix
    this.decoder.weight = wordEmbeddings;
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
    const loss = x.labels ? crossEntropy(logits.view(-1, this.config.vocab_size), x.labels.view(-1), { reduction: x.lossReduction ?? 'mean' }) : null;
    return { loss, logits };
  }
}

