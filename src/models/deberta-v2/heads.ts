// Task heads on DeBERTa-v2 / v3, with Hugging Face's module names and losses.
import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { activation } from '../../nn/activations';
import { zeros } from '../../nn/init';
import { Tensor } from '../../tensor/tensor';
import { crossEntropy, linear, mseLoss } from '../../tensor/functional';
import { numLabels, tiedWeight } from '../config';
import { ClassifierOutput, HeadInputs, LossReduction, QAInputs, QAOutput, questionAnsweringOutput, sequenceClassificationLoss, tokenClassificationLoss } from '../losses';
import { otherHeads, PreTrainedModel } from '../pretrained';
import { BertInputs } from '../bert/model';
import { DebertaV2Config } from './config';
import { DebertaV2Model } from './model';

const HEADS = ['cls', 'lm_predictions', 'mask_predictions', 'pooler', 'classifier', 'qa_outputs'];
/** Keys of the other heads, the legacy position_ids buffer, unused absolute positions. */
function othersThan(c: DebertaV2Config, ...own: string[]): RegExp[] {
  const res = [otherHeads(HEADS, own), /^deberta\.embeddings\.position_ids$/];
  if (!c.position_biased_input) res.push(/^deberta\.embeddings\.position_embeddings\./);
  return res;
}

abstract class DebertaV2HeadModel extends PreTrainedModel<DebertaV2Config> {
  readonly basePrefix = 'deberta';
  readonly baseModelPrefix = 'deberta';
  deberta: DebertaV2Model;
  protected constructor(config: DebertaV2Config) {
    super(config);
    this.deberta = new DebertaV2Model(config);
  }
}

/** The first token through dropout (pooler_dropout), dense and pooler_hidden_act. */
export class ContextPooler extends Module {
  dense: Linear;
  dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;
  constructor(c: DebertaV2Config) {
    super();
    this.dense = new Linear(c.pooler_hidden_size, c.pooler_hidden_size, { std: c.initializer_range });
    this.dropout = new Dropout(c.pooler_dropout);
    this.act = activation(c.pooler_hidden_act);
  }
  forward(h: Tensor): Tensor {
    return this.act(this.dense.forward(this.dropout.forward(h.select(1, 0)))); // (B, C)
  }
}

/**
 * DeBERTa's own loss when config.problem_type is unset (and it stays unset): MSE for one label;
 * cross-entropy over the rows whose class id is >= 0 (0 when none is); for labels (B, L), the
 * cross-entropy with those soft targets: -(log_softmax(logits) * labels).sum(-1).mean().
 */
function debertaSequenceLoss(c: DebertaV2Config, logits: Tensor, labels: Tensor, reduction: LossReduction): Tensor {
  if (c.problem_type !== null) return sequenceClassificationLoss(c, logits, labels, reduction);
  const n = numLabels(c);
  if (n === 1) return mseLoss(logits.view(-1).to(labels.dtype), labels.view(-1), reduction);
  if (labels.ndim === 1 || labels.size(-1) === 1) {
    // rows with a negative label are left out of the loss (ignore_index -100 does the same for ids < 0 here)
    const y = labels.view(-1).long();
    const kept = y.ge(0);
    if (kept.sum().item() === 0) return logits.sum().mul(0);
    return crossEntropy(logits.view(-1, n).float(), y.maskedFill(kept.logicalNot(), -100), { reduction });
  }
  const perRow = logits.logSoftmax(-1).mul(labels).sum(-1).neg(); // (B)
  return reduction === 'sum' ? perRow.sum() : perRow.mean();
}

/** Sequence classification over the ContextPooler, with DeBERTa's loss when problem_type is unset. */
export class DebertaV2ForSequenceClassification extends DebertaV2HeadModel {
  readonly architecture = 'DebertaV2ForSequenceClassification';
  readonly headKeys = [/^(pooler|classifier)\./];
  readonly ignoredKeys: RegExp[];
  pooler: ContextPooler;
  classifier: Linear;
  dropout: Dropout;
  constructor(config: DebertaV2Config) {
    super(config);
    this.ignoredKeys = othersThan(config, 'pooler', 'classifier');
    this.pooler = new ContextPooler(config);
    this.classifier = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
    this.dropout = new Dropout(config.cls_dropout ?? config.hidden_dropout_prob);
  }
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    const pooled = this.pooler.forward(this.deberta.forward(x).lastHiddenState); // (B, C)
    const logits = this.classifier.forward(this.dropout.forward(pooled)); // (B, L)
    const loss = x.labels ? debertaSequenceLoss(this.config, logits, x.labels, x.lossReduction ?? 'mean') : null;
    return { loss, logits };
  }
}

/** Token classification: dropout (hidden_dropout_prob) and classifier; labels (B, T), -100 where none applies. */
export class DebertaV2ForTokenClassification extends DebertaV2HeadModel {
  readonly architecture = 'DebertaV2ForTokenClassification';
  readonly headKeys = [/^classifier\./];
  readonly ignoredKeys: RegExp[];
  dropout: Dropout;
  classifier: Linear;
  constructor(config: DebertaV2Config) {
    super(config);
    this.ignoredKeys = othersThan(config, 'classifier');
    this.dropout = new Dropout(config.hidden_dropout_prob);
    this.classifier = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
  }
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    const logits = this.classifier.forward(this.dropout.forward(this.deberta.forward(x).lastHiddenState)); // (B, T, L)
    return { loss: x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
}

/** Extractive question answering: start and end logits over the tokens. */
export class DebertaV2ForQuestionAnswering extends DebertaV2HeadModel {
  readonly architecture = 'DebertaV2ForQuestionAnswering';
  readonly headKeys = [/^qa_outputs\./];
  readonly ignoredKeys: RegExp[];
  qa_outputs: Linear;
  constructor(config: DebertaV2Config) {
    super(config);
    this.ignoredKeys = othersThan(config, 'qa_outputs');
    this.qa_outputs = new Linear(config.hidden_size, numLabels(config), { std: config.initializer_range });
  }
  forward(x: BertInputs & QAInputs): QAOutput {
    const logits = this.qa_outputs.forward(this.deberta.forward(x).lastHiddenState); // (B, T, 2)
    return questionAnsweringOutput(logits, x.startPositions, x.endPositions, x.lossReduction);
  }
}

/** dense (hidden -> embedding_size) -> hidden_act -> LayerNorm. */
export class LegacyDebertaV2PredictionHeadTransform extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  private readonly act: (x: Tensor) => Tensor;
  constructor(c: DebertaV2Config) {
    super();
    this.dense = new Linear(c.hidden_size, c.embedding_size, { std: c.initializer_range });
    this.LayerNorm = new LayerNorm(c.embedding_size, c.layer_norm_eps);
    this.act = activation(c.hidden_act);
  }
  forward(h: Tensor): Tensor {
    return this.LayerNorm.forward(this.act(this.dense.forward(h))); // (B, T, E)
  }
}

/** The legacy masked-LM head (`cls.predictions`): transform, decoder tied to the word embeddings, bias. */
export class LegacyDebertaV2LMPredictionHead extends Module {
  transform: LegacyDebertaV2PredictionHeadTransform;
  // `bias` is declared before `decoder` so that it, not its alias decoder.bias, is the saved key
  bias: Tensor;
  decoder: Linear;
  constructor(c: DebertaV2Config, wordEmbeddings: Tensor) {
    super();
    this.transform = new LegacyDebertaV2PredictionHeadTransform(c);
    this.decoder = new Linear(c.embedding_size, c.vocab_size, { weight: tiedWeight(c, wordEmbeddings) });
    this.bias = this.decoder.bias!;
  }
  forward(h: Tensor): Tensor {
    return this.decoder.forward(this.transform.forward(h)); // (B, T, V)
  }
}

export class LegacyDebertaV2OnlyMLMHead extends Module {
  predictions: LegacyDebertaV2LMPredictionHead;
  constructor(c: DebertaV2Config, wordEmbeddings: Tensor) {
    super();
    this.predictions = new LegacyDebertaV2LMPredictionHead(c, wordEmbeddings);
  }
}

/** The newer masked-LM head (`lm_predictions.lm_head`): dense, act, LayerNorm, then h @ word_embeddingsᵀ + bias. */
export class DebertaV2LMPredictionHead extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  bias: Tensor;
  private readonly act: (x: Tensor) => Tensor;
  constructor(c: DebertaV2Config) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, { std: c.initializer_range });
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.bias = zeros([c.vocab_size]);
    this.act = activation(c.hidden_act);
  }
  forward(h: Tensor, wordEmbeddings: Tensor): Tensor {
    return linear(this.LayerNorm.forward(this.act(this.dense.forward(h))), wordEmbeddings, this.bias); // (B, T, V)
  }
}

export class DebertaV2OnlyMLMHead extends Module {
  lm_head: DebertaV2LMPredictionHead;
  constructor(c: DebertaV2Config) {
    super();
    this.lm_head = new DebertaV2LMPredictionHead(c);
  }
}

/** Masked language modelling with the legacy (config.legacy, the default) or the newer head. */
export class DebertaV2ForMaskedLM extends DebertaV2HeadModel {
  readonly architecture = 'DebertaV2ForMaskedLM';
  readonly headKeys: RegExp[];
  readonly ignoredKeys: RegExp[];
  cls: LegacyDebertaV2OnlyMLMHead | null = null;
  lm_predictions: DebertaV2OnlyMLMHead | null = null;
  constructor(config: DebertaV2Config) {
    super(config);
    const own = config.legacy ? 'cls' : 'lm_predictions';
    this.headKeys = [new RegExp(`^${own}\\.`)];
    this.ignoredKeys = othersThan(config, own);
    if (config.legacy) {
      this.cls = new LegacyDebertaV2OnlyMLMHead(config, this.deberta.embeddings.word_embeddings.weight);
    } else {
      this.lm_predictions = new DebertaV2OnlyMLMHead(config);
    }
  }
  forward(x: BertInputs & HeadInputs): ClassifierOutput {
    const h = this.deberta.forward(x).lastHiddenState; // (B, T, C)
    const logits = this.cls ? this.cls.predictions.forward(h) : this.lm_predictions!.lm_head.forward(h, this.deberta.embeddings.word_embeddings.weight); // (B, T, V)
    return { loss: x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
}
