// Losses of the heads every family shares, as transformers computes them (loss_utils.py), with
// the reduction the caller picks: 'mean' as transformers' default, 'sum' for a Trainer that
// normalises over the targets of a whole accumulated batch.
import { full } from '../tensor/create';
import { bceWithLogits, cat, crossEntropy, mseLoss } from '../tensor/functional';
import { Tensor } from '../tensor/tensor';
import { LabelFields, numLabels } from './config';

export type LossReduction = 'mean' | 'sum';

/** What a head's forward takes beyond the base model's inputs: labels, and the loss's reduction. */
export interface HeadInputs {
  labels?: Tensor | null;
  /** 'mean' (transformers' default) or 'sum' over the targets (a Trainer normalising over an accumulated batch). */
  lossReduction?: LossReduction;
}

/** A question answering head's inputs beyond the base model's: answer positions (B), and the loss's reduction. */
export interface QAInputs {
  startPositions?: Tensor | null;
  endPositions?: Tensor | null;
  lossReduction?: LossReduction;
}

/** What classification and language-model heads return. */
export interface ClassifierOutput {
  loss: Tensor | null;
  /** (B, numLabels) for sequences, (B, T, numLabels) for tokens, (B, T, V) for masked LM */
  logits: Tensor;
}

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

/**
 * Token classification and masked-LM loss: logits (B, T, L) against labels (B, T), -100 where no
 * label applies (transformers' CrossEntropyLoss over the flattened tokens).
 */
export function tokenClassificationLoss(logits: Tensor, labels: Tensor, reduction: LossReduction = 'mean'): Tensor {
  const n = logits.size(-1);
  return crossEntropy(logits.view(-1, n), labels.view(-1), { reduction });
}

/** What extractive question answering heads return. */
export interface QAOutput {
  loss: Tensor | null;
  startLogits: Tensor; // (B, T)
  endLogits: Tensor; // (B, T)
}

/**
 * The question answering head's output from qa_outputs' logits (B, T, 2), with the loss when
 * positions (B) or (B, 1) are given: the mean of the start and end cross-entropies, positions
 * outside the sequence clamped to T and ignored, as transformers' QA heads do.
 */
export function questionAnsweringOutput(
  logits: Tensor,
  startPositions?: Tensor | null,
  endPositions?: Tensor | null,
  reduction: LossReduction = 'mean',
): QAOutput {
  const [s, e] = logits.split(1, -1);
  const startLogits = s.squeeze(-1).contiguous(); // (B, T)
  const endLogits = e.squeeze(-1).contiguous(); // (B, T)
  let loss: Tensor | null = null;
  if (startPositions && endPositions) {
    const T = startLogits.size(1);
    const sp = startPositions.ndim > 1 ? startPositions.squeeze(-1) : startPositions;
    const ep = endPositions.ndim > 1 ? endPositions.squeeze(-1) : endPositions;
    const ls = crossEntropy(startLogits, sp.clamp(0, T), { ignoreIndex: T, reduction });
    const le = crossEntropy(endLogits, ep.clamp(0, T), { ignoreIndex: T, reduction });
    loss = ls.add(le).div(2);
  }
  return { loss, startLogits, endLogits };
}
