// DeBERTa-v2 (and v3, the same model_type) registers itself by model_type.
import { registerFamily } from '../registry';
import { debertaV2Config } from './config';
import { DebertaV2Model } from './model';
import { DebertaV2ForMaskedLM, DebertaV2ForQuestionAnswering, DebertaV2ForSequenceClassification, DebertaV2ForTokenClassification } from './heads';

registerFamily({
  modelTypes: ['deberta-v2'],
  defaultArchitecture: 'DebertaV2Model',
  architectures: {
    DebertaV2Model: { head: 'base', build: (r, w) => new DebertaV2Model(debertaV2Config(r, w)) },
    DebertaV2ForSequenceClassification: { head: 'sequence-classification', build: (r, w) => new DebertaV2ForSequenceClassification(debertaV2Config(r, w)) },
    DebertaV2ForTokenClassification: { head: 'token-classification', build: (r, w) => new DebertaV2ForTokenClassification(debertaV2Config(r, w)) },
    DebertaV2ForQuestionAnswering: { head: 'question-answering', build: (r, w) => new DebertaV2ForQuestionAnswering(debertaV2Config(r, w)) },
    DebertaV2ForMaskedLM: { head: 'masked-lm', build: (r, w) => new DebertaV2ForMaskedLM(debertaV2Config(r, w)) },
  },
});
