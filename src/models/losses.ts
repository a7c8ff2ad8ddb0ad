// Losses of the heads every family shares, as transformers computes them (loss_utils.py), with
// the reduction the caller picks: 'mean' as transformers' default, 'sum' for a Trainer that
// normalises over the targets of a whole accumulated batch.
import { full } from '../tensor/create';
import { bceWithLogits, cat, crossEntropy, mseLoss } from '../tensor/functional';
import { Tensor } from '../tensor/tensor';
import { LabelFields, numLabels } from './config';

export type LossReduction = 'mean' | 'sum';

/**
 * Next-token loss (ForCausalLMLoss): logits (B, T, V) in float32 against labels shifted one to
 * the left (the last position predicts nothing); -100 labels are ignored.
 */
export function causalLMLoss(logits: Tensor, labels: Tensor, reduction: LossReduction = 'mean'): Tensor {
  const [B, , V] = logits.shape;
  const pad = full([B, 1], -100, { dtype: 'int64', device: labels.device });
  const shifted = cat([labels.slice(1, 1), pad], 1); // (B, T)
  return crossEntropy(logits.float().view(-1, V), shifted.view(-1), { reduction });
}

/** The number of targets causalLMLoss counts: labels after the first position that are not -100. */
export function causalLMTargets(labels: Tensor): Tensor {
  return labels.slice(1, 1).ne(-100).sum();
}

/**
 * Sequence classification by config.problem_type (decided once from the first labels and
 * recorded in the config, as transformers does): MSE for regression, cross-entropy for single
 * labels, BCE with logits for multi-hot labels.
 */
export function sequenceClassificationLoss(config: LabelFields, logits: Tensor, labels: Tensor, reduction: LossReduction = 'mean'): Tensor {
  const n = numLabels(config);
  let pt = config.problem_type;
  if (pt === null) {
    pt = n === 1 ? 'regression' : labels.dtype === 'int64' || labels.dtype === 'int32' ? 'single_label_classification' : 'multi_label_classification';
    config.problem_type = pt;
  }
  const lg = logits.float();
  if (pt === 'regression') return n === 1 ? mseLoss(lg.view(-1), labels.view(-1).float(), reduction) : mseLoss(lg, labels, reduction);
  if (pt === 'single_label_classification') return crossEntropy(lg.view(-1, n), labels.view(-1), { reduction });
  return bceWithLogits(lg, labels, { reduction });
}
