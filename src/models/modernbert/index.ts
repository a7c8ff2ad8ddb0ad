// ModernBERT registers itself by model_type.
import { registerFamily } from '../registry';
import { modernBertConfig } from './config';
import { ModernBertModel } from './model';
import { ModernBertForMaskedLM, ModernBertForQuestionAnswering, ModernBertForSequenceClassification, ModernBertForTokenClassification } from './heads';

registerFamily({
  modelTypes: ['modernbert'],
  defaultArchitecture: 'ModernBertModel',
  config: (r, w) => modernBertConfig(r, w),
  architectures: {
    ModernBertModel: { head: 'base', build: (r, w) => new ModernBertModel(modernBertConfig(r, w)) },
    ModernBertForSequenceClassification: { head: 'sequence-classification', build: (r, w) => new ModernBertForSequenceClassification(modernBertConfig(r, w)) },
    ModernBertForTokenClassification: { head: 'token-classification', build: (r, w) => new ModernBertForTokenClassification(modernBertConfig(r, w)) },
    ModernBertForQuestionAnswering: { head: 'question-answering', build: (r, w) => new ModernBertForQuestionAnswering(modernBertConfig(r, w)) },
    ModernBertForMaskedLM: { head: 'masked-lm', build: (r, w) => new ModernBertForMaskedLM(modernBertConfig(r, w)) },
  },
});
