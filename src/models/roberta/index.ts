// RoBERTa and XLM-RoBERTa register themselves by model_type (one network, two class names).
import { registerFamily } from '../registry';
import { robertaConfig, RobertaModelType } from './config';
import { RobertaModel } from './model';
import { RobertaForMaskedLM, RobertaForQuestionAnswering, RobertaForSequenceClassification, RobertaForTokenClassification } from './heads';

for (const [type, prefix] of [['roberta', 'Roberta'], ['xlm-roberta', 'XLMRoberta']] as [RobertaModelType, string][]) {
  const cfg = (r: Record<string, unknown>, w: string) => robertaConfig(r, w, {}, type);
  registerFamily({
    modelTypes: [type],
    defaultArchitecture: `${prefix}Model`,
    config: cfg,
    // positions count from pad_token_id + 1: roberta-base's 514 take 512 tokens
    maxPositions: (raw) => {
      const c = cfg(raw, 'config.json');
      return { value: c.max_position_embeddings - c.pad_token_id - 1, field: 'max_position_embeddings - pad_token_id - 1' };
    },
    architectures: {
      [`${prefix}Model`]: { head: 'base', build: (r, w) => new RobertaModel(cfg(r, w)) },
      [`${prefix}ForSequenceClassification`]: { head: 'sequence-classification', build: (r, w) => new RobertaForSequenceClassification(cfg(r, w)) },
      [`${prefix}ForTokenClassification`]: { head: 'token-classification', build: (r, w) => new RobertaForTokenClassification(cfg(r, w)) },
      [`${prefix}ForQuestionAnswering`]: { head: 'question-answering', build: (r, w) => new RobertaForQuestionAnswering(cfg(r, w)) },
      [`${prefix}ForMaskedLM`]: { head: 'masked-lm', build: (r, w) => new RobertaForMaskedLM(cfg(r, w)) },
    },
  });
}
