// DeBERTa-v2 (and v3, the same model_type) registers itself by model_type.
import { ConfigError } from '../config';
import { registerFamily } from '../registry';
import { debertaV2Config } from './config';
import { DebertaV2Model } from './model';
import { DebertaV2ForMaskedLM, DebertaV2ForQuestionAnswering, DebertaV2ForSequenceClassification, DebertaV2ForTokenClassification } from './heads';

registerFamily({
  modelTypes: ['deberta-v2'],
  defaultArchitecture: 'DebertaV2Model',
  config: (r, w) => debertaV2Config(r, w),
  architectures: {
    DebertaV2Model: { head: 'base', build: (r, w) => new DebertaV2Model(debertaV2Config(r, w)) },
    DebertaV2ForSequenceClassification: { head: 'sequence-classification', build: (r, w) => new DebertaV2ForSequenceClassification(debertaV2Config(r, w)) },
    DebertaV2ForTokenClassification: { head: 'token-classification', build: (r, w) => new DebertaV2ForTokenClassification(debertaV2Config(r, w)) },
    DebertaV2ForQuestionAnswering: { head: 'question-answering', build: (r, w) => new DebertaV2ForQuestionAnswering(debertaV2Config(r, w)) },
    DebertaV2ForMaskedLM: {
      head: 'masked-lm',
      build: (r, w) => {
        const c = debertaV2Config(r, w);
        // transformers fails on it too (a product of mismatched sizes)
        if (!c.legacy && c.embedding_size !== c.hidden_size) throw new ConfigError(w, `the non-legacy masked-LM head (legacy false) needs embedding_size ${c.embedding_size} equal to hidden_size ${c.hidden_size}`);
        return new DebertaV2ForMaskedLM(c);
      },
    },
  },
});
