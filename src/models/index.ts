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
export type { AnyPreTrainedModel, HeadOutput, QAHeadOutput, BaseOutput } from './auto';
export { registerFamily, supportedModelTypes, buildModel, headOfArchitecture } from './registry';
export type { ModelFamily, HeadKind, ArchitectureSpec } from './registry';
export { ConfigReader, labelFields } from './config';
export type { LabelFields } from './config';
export { causalLMLoss, causalLMTargets, sequenceClassificationLoss } from './losses';
export type { LossReduction } from './losses';
export { KVCache, attentionPattern, poolLastToken } from './decoder';
export type { DecoderInputs, AttentionPattern } from './decoder';
export { gpt2Config } from './gpt2/config';
export type { GPT2Config } from './gpt2/config';
export { GPT2Model, GPT2Block, GPT2Attention, GPT2MLP } from './gpt2/model';
export type { GPT2Inputs } from './gpt2/model';
export { GPT2LMHeadModel, GPT2ForSequenceClassification } from './gpt2/heads';
export { llamaConfig, ropeConfig } from './llama/config';
export type { LlamaConfig } from './llama/config';
export { LlamaModel, LlamaDecoderLayer, LlamaAttention, LlamaMLP } from './llama/model';
export { LlamaForCausalLM, LlamaForSequenceClassification } from './llama/heads';
export { generate, generateStream, readGenerationConfig, defaultGenerationConfig, addStopTokens } from './generate';
export type { GenerateOptions, GenerationConfig, CausalLM } from './generate';
