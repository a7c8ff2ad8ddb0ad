export { PreTrainedModel } from './pretrained';
export { bertConfig, BERT_DEFAULTS, ConfigError, numLabels } from './bert/config';
export type { BertConfig, ProblemType } from './bert/config';
export { BertModel, BertPooler, attentionMask } from './bert/model';
export type { BertInputs, BertModelOutput } from './bert/model';
export { BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering, BertForMaskedLM } from './bert/heads';
export type { ClassifierOutput, QAOutput } from './bert/heads';
export {
  AutoModel,
  AutoBaseModel,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
  AutoModelForQuestionAnswering,
  AutoModelForMaskedLM,
  AutoModelForCausalLM,
} from './auto';
export type { AnyPreTrainedModel } from './auto';
export { registerFamily, supportedModelTypes, buildModel, headOfArchitecture } from './registry';
export type { ModelFamily, HeadKind, ArchitectureSpec } from './registry';
