// Auto classes: config.json's model_type picks the family (registry.ts) and the head picks the
// class, as in transformers.
import { fromPretrained, FromPretrainedOptions } from '../hub/pretrained';
import { PreTrainedModel } from './pretrained';
import { buildModel, HeadKind } from './registry';
import './families';

/**
 * The family's class is known only at run time: without a type argument the result is a
 * PreTrainedModel whose family attributes are untyped (`m.bert`, `m.model`); name the class to
 * type it: `AutoModelForCausalLM.fromPretrained<LlamaForCausalLM>(dir)`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPreTrainedModel = PreTrainedModel & { [attribute: string]: any };

function auto(head: HeadKind | 'from-architecture') {
  return {
    fromPretrained: <M extends PreTrainedModel = AnyPreTrainedModel>(idOrDir: string, opts: FromPretrainedOptions = {}): Promise<M> =>
      fromPretrained(idOrDir, (raw, where) => buildModel(raw, where, head) as M, opts),
  };
}

/** The class named by config.json's architectures (the family's base model when none). */
export const AutoModel = auto('from-architecture');
export const AutoModelForSequenceClassification = auto('sequence-classification');
export const AutoModelForTokenClassification = auto('token-classification');
export const AutoModelForQuestionAnswering = auto('question-answering');
export const AutoModelForMaskedLM = auto('masked-lm');
export const AutoModelForCausalLM = auto('causal-lm');
export const AutoBaseModel = auto('base');
