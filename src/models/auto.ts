// Auto classes: config.json's model_type picks the family (registry.ts) and the head picks the
// class, as in transformers.
import { fromPretrained, FromPretrainedOptions } from '../hub/pretrained';
import { Tensor } from '../tensor/tensor';
import { PreTrainedModel } from './pretrained';
import { buildModel, HeadKind } from './registry';
import './families';

/**
 * The family's class is known only at run time: without a type argument the result is a
 * PreTrainedModel whose family attributes are untyped (`m.bert`, `m.model`); name the class to
 * type it: `AutoModelForCausalLM.fromPretrained<LlamaForCausalLM>(dir)`.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyPreTrainedModel<Out = Record<string, any>> = PreTrainedModel & { forward(x: any): Out; [attribute: string]: any };
/** What heads return: their loss (with labels) and logits; other fields per head. */
export type HeadOutput = { loss: Tensor | null; logits: Tensor; [field: string]: any };
export type QAHeadOutput = { loss: Tensor | null; startLogits: Tensor; endLogits: Tensor; [field: string]: any };
export type BaseOutput = { lastHiddenState: Tensor; [field: string]: any };
/* eslint-enable @typescript-eslint/no-explicit-any */

function auto<Default extends PreTrainedModel>(head: HeadKind | 'from-architecture') {
  return {
    fromPretrained: <M extends PreTrainedModel = Default>(idOrDir: string, opts: FromPretrainedOptions = {}): Promise<M> =>
      fromPretrained(idOrDir, (raw, where) => buildModel(raw, where, head) as M, opts),
  };
}

/** The class named by config.json's architectures (the family's base model when none). */
export const AutoModel = auto<AnyPreTrainedModel>('from-architecture');
export const AutoModelForSequenceClassification = auto<AnyPreTrainedModel<HeadOutput>>('sequence-classification');
export const AutoModelForTokenClassification = auto<AnyPreTrainedModel<HeadOutput>>('token-classification');
export const AutoModelForQuestionAnswering = auto<AnyPreTrainedModel<QAHeadOutput>>('question-answering');
export const AutoModelForMaskedLM = auto<AnyPreTrainedModel<HeadOutput>>('masked-lm');
export const AutoModelForCausalLM = auto<AnyPreTrainedModel<HeadOutput>>('causal-lm');
export const AutoBaseModel = auto<AnyPreTrainedModel<BaseOutput>>('base');
