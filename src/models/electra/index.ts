// ELECTRA registers itself by model_type.
import { registerFamily } from '../registry';
import { electraConfig } from './config';
import { ElectraModel } from './model';
import { ElectraForMaskedLM, ElectraForQuestionAnswering, ElectraForSequenceClassification, ElectraForTokenClassification } from './heads';

registerFamily({
  modelTypes: ['electra'],
  defaultArchitecture: 'ElectraModel',
  config: (r, w) => electraConfig(r, w),
  architectures: {
    ElectraModel: { head: 'base', build: (r, w) => new ElectraModel(electraConfig(r, w)) },
    ElectraForSequenceClassification: { head: 'sequence-classification', build: (r, w) => new ElectraForSequenceClassification(electraConfig(r, w)) },
    ElectraForTokenClassification: { head: 'token-classification', build: (r, w) => new ElectraForTokenClassification(electraConfig(r, w)) },
    ElectraForQuestionAnswering: { head: 'question-answering', build: (r, w) => new ElectraForQuestionAnswering(electraConfig(r, w)) },
    ElectraForMaskedLM: { head: 'masked-lm', build: (r, w) => new ElectraForMaskedLM(electraConfig(r, w)) },
  },
});
