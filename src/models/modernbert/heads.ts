// Task heads on ModernBERT, with Hugging Face's module names and losses: each passes the hidden
// states through ModernBertPredictionHead (`head`) before its classifier or decoder.
import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layernorm';
import { Dropout } from '../../nn/dropout';
import { activation } from '../../nn/activations';
import { Tensor } from '../../tensor/tensor';
import { tensor } from '../../tensor/create';
import { numLabels, tiedWeight } from '../config';
import { ClassifierOutput, HeadInputs, QAInputs, QAOutput, questionAnsweringOutput, sequenceClassificationLoss, tokenClassificationLoss } from '../losses';
import { otherHeads, PreTrainedModel } from '../pretrained';
import { ModernBertConfig } from './config';
import { cutoff, ModernBertInputs, ModernBertModel, outStd } from './model';

const HEADS = ['head', 'decoder', 'classifier'];
const othersThan = (...own: string[]) => [otherHeads(HEADS, own)];

/** dense -> classifier_activation -> norm. */
export class ModernBertPredictionHead extends Module {
  dense: Linear;
  norm: LayerNorm;
  private readonly act: (x: Tensor) => Tensor;
  constructor(c: ModernBertConfig) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, { bias: c.classifier_bias, std: outStd(c), cutoff: cutoff(c) });
    this.norm = new LayerNorm(c.hidden_size, c.norm_eps, { bias: c.norm_bias });
    this.act = activation(c.classifier_activation);
  }
  forward(h: Tensor): Tensor {
    return this.norm.forward(this.act(this.dense.forward(h)));
  }
}

abstract class ModernBertHeadModel extends PreTrainedModel<ModernBertConfig> {
  readonly basePrefix = 'model';
  readonly baseModelPrefix = 'model';
  readonly acceptsTokenTypeIds = false;
  model: ModernBertModel;
  head: ModernBertPredictionHead;
  protected constructor(config: ModernBertConfig) {
    super(config);
    this.model = new ModernBertModel(config);
    this.head = new ModernBertPredictionHead(config);
  }
}

/** A classifier after the prediction head (transformers' init for it: std hidden_size^-0.5, truncated). */
const classifier = (c: ModernBertConfig) => new Linear(c.hidden_size, numLabels(c), { std: c.hidden_size ** -0.5, cutoff: cutoff(c) });

/** Sequence classification over the first token (classifier_pooling 'cls') or the mean of the real tokens ('mean'). */
export class ModernBertForSequenceClassification extends ModernBertHeadModel {
  readonly architecture = 'ModernBertForSequenceClassification';
  readonly headKeys = [/^(head|classifier)\./];
  readonly ignoredKeys = othersThan('head', 'classifier');
  drop: Dropout;
  classifier: Linear;
  constructor(config: ModernBertConfig) {
    super(config);
    this.drop = new Dropout(config.classifier_dropout);
    this.classifier = classifier(config);
  }
  forward(x: ModernBertInputs & HeadInputs): ClassifierOutput {
    const h = this.model.forward(x).lastHiddenState; // (B, T, C)
    let pooled: Tensor;
    if (this.config.classifier_pooling === 'cls') {
      pooled = h.select(1, 0); // (B, C)
    } else {
      const m = x.attentionMask ? x.attentionMask.to(h.dtype) : h.select(2, 0).mul(0).add(1); // (B, T)
      pooled = h.mul(m.unsqueeze(-1)).sum(1).div(m.sum(1, true)); // (B, C)
    }
    const logits = this.classifier.forward(this.drop.forward(this.head.forward(pooled))); // (B, L)
    const loss = x.labels ? sequenceClassificationLoss(this.config, logits, x.labels, x.lossReduction) : null;
    return { loss, logits };
  }
}

/** Token classification: labels (B, T) with -100 where no label applies. */
export class ModernBertForTokenClassification extends ModernBertHeadModel {
  readonly architecture = 'ModernBertForTokenClassification';
  readonly headKeys = [/^(head|classifier)\./];
  readonly ignoredKeys = othersThan('head', 'classifier');
  drop: Dropout;
  classifier: Linear;
  constructor(config: ModernBertConfig) {
    super(config);
    this.drop = new Dropout(config.classifier_dropout);
    this.classifier = classifier(config);
  }
  forward(x: ModernBertInputs & HeadInputs): ClassifierOutput {
    const logits = this.classifier.forward(this.drop.forward(this.head.forward(this.model.forward(x).lastHiddenState))); // (B, T, L)
    return { loss: x.labels ? tokenClassificationLoss(logits, x.labels, x.lossReduction) : null, logits };
  }
}

/** Extractive question answering: start and end logits from `classifier`. */
export class ModernBertForQuestionAnswering extends ModernBertHeadModel {
  readonly architecture = 'ModernBertForQuestionAnswering';
  readonly headKeys = [/^(head|classifier)\./];
  readonly ignoredKeys = othersThan('head', 'classifier');
  drop: Dropout;
  classifier: Linear;
  constructor(config: ModernBertConfig) {
    super(config);
    this.drop = new Dropout(config.classifier_dropout);
    this.classifier = classifier(config);
  }
  forward(x: ModernBertInputs & QAInputs): QAOutput {
    const logits = this.classifier.forward(this.drop.forward(this.head.forward(this.model.forward(x).lastHiddenState))); // (B, T, 2)
    return questionAnsweringOutput(logits, x.startPositions, x.endPositions, x.lossReduction);
  }
}

/**
 * Masked LM: head, then decoder tied to the token embeddings. With sparse_prediction and labels,
 * logits only at the labelled positions, (N, V), as transformers.
 */
export class ModernBertForMaskedLM extends ModernBertHeadModel {
  readonly architecture = 'ModernBertForMaskedLM';
  readonly headKeys = [/^(head|decoder)\./];
  readonly ignoredKeys = othersThan('head', 'decoder');
  decoder: Linear;
  constructor(config: ModernBertConfig) {
    super(config);
    this.decoder = new Linear(config.hidden_size, config.vocab_size, { bias: config.decoder_bias, weight: tiedWeight(config, this.model.embeddings.tok_embeddings.weight) });
  }
  forward(x: ModernBertInputs & HeadInputs): ClassifierOutput {
    let h = this.model.forward(x).lastHiddenState; // (B, T, C)
    let labels = x.labels ?? null;
    if (this.config.sparse_prediction && labels) {
      const flat = labels.view(-1);
      // the labelled positions, read on the host (the number of them sets the output's shape)
      const ignore = this.config.sparse_pred_ignore_index;
      const kept = tensor(Array.from(flat.toNumbers()).flatMap((v, i) => (v !== ignore ? [i] : [])), { dtype: 'int64', device: flat.device }); // (N)
      h = h.view(flat.size(0), -1).indexSelect(0, kept); // (N, C)
      labels = flat.indexSelect(0, kept); // (N)
    }
    const logits = this.decoder.forward(this.head.forward(h)); // (B, T, V), or (N, V)
    // transformers' ForMaskedLMLoss takes the logits to float32 first
    return { loss: labels ? tokenClassificationLoss(logits.float(), labels, x.lossReduction) : null, logits };
  }
}
