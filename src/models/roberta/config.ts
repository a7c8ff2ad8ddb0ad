// RobertaConfig and XLMRobertaConfig: BERT's fields (Hugging Face's RobertaConfig subclasses
// BertConfig's fields) with their own defaults, read straight from config.json.
import { BertConfig, bertConfig, ConfigError } from '../bert/config';

export type RobertaModelType = 'roberta' | 'xlm-roberta';
export type RobertaConfig = BertConfig & { model_type: RobertaModelType };

// transformers' class defaults (roberta-base's config.json sets max_position_embeddings 514,
// type_vocab_size 1 and layer_norm_eps 1e-5 itself)
const DEFAULTS: Record<RobertaModelType, Record<string, unknown>> = {
  roberta: { vocab_size: 50265, pad_token_id: 1 },
  'xlm-roberta': { pad_token_id: 1 },
};

export function robertaConfig(raw: Record<string, unknown>, where = 'config.json', overrides: Record<string, unknown> = {}, type: RobertaModelType = 'roberta'): RobertaConfig {
  const c = bertConfig(raw, where, overrides, { modelType: type, defaults: DEFAULTS[type] }) as RobertaConfig;
  // positions count from pad_token_id + 1, and the padding row is a row of the position table
  if (c.pad_token_id + 1 >= c.max_position_embeddings) {
    throw new ConfigError(where, `pad_token_id ${c.pad_token_id} leaves no positions: RoBERTa's count from pad_token_id + 1, and max_position_embeddings is ${c.max_position_embeddings}`);
  }
  return c;
}
