// DistilBERT registers itself by model_type.
import { registerFamily } from '../registry';
import { distilBertConfig } from './config';
import { DistilBertModel } from './model';
import { DistilBertForMaskedLM, DistilBertForQuestionAnswering, DistilBertForSequenceClassification, DistilBertForTokenClassification } from './heads';

registerFamily({
  modelTypes: ['distilbert'],
  defaultArchitecture: 'DistilBertModel',
  config: (r, w) => distilBertConfig(r, w),
  architectures: {
    DistilBertModel: { head: 'base', build: (r, w) => new DistilBertModel(distilBertConfig(r, w)) },
    DistilBertForSequenceClassification: { head: 'sequence-classification', build: (r, w) => new DistilBertForSequenceClassification(distilBertConfig(r, w)) },
    DistilBertForTokenClassification: { head: 'token-classification', build: (r, w) => new DistilBertForTokenClassification(distilBertConfig(r, w)) },
    DistilBertForQuestionAnswering: { head: 'question-answering', build: (r, w) => new DistilBertForQuestionAnswering(distilBertConfig(r, w)) },
    DistilBertForMaskedLM: { head: 'masked-lm', build: (r, w) => new DistilBertForMaskedLM(distilBertConfig(r, w)) },
  },
});
