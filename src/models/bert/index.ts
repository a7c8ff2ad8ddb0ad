// BERT registers itself by model_type.
import { registerFamily } from '../registry';
import { bertConfig } from './config';
import { BertModel } from './model';
import { BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification } from './heads';

registerFamily({
  modelTypes: ['bert'],
  defaultArchitecture: 'BertModel',
  config: (r, w) => bertConfig(r, w),
  architectures: {
    BertModel: { head: 'base', build: (r, w) => new BertModel(bertConfig(r, w)) },
    BertForSequenceClassification: { head: 'sequence-classification', build: (r, w) => new BertForSequenceClassification(bertConfig(r, w)) },
    BertForTokenClassification: { head: 'token-classification', build: (r, w) => new BertForTokenClassification(bertConfig(r, w)) },
    BertForQuestionAnswering: { head: 'question-answering', build: (r, w) => new BertForQuestionAnswering(bertConfig(r, w)) },
    BertForMaskedLM: { head: 'masked-lm', build: (r, w) => new BertForMaskedLM(bertConfig(r, w)) },
  },
});
