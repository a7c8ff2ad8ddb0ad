// ElectraConfig: BERT's fields plus embedding_size, with transformers' defaults (the small
// discriminator's sizes), read straight from config.json.
import { BertConfig, bertConfig, ConfigError } from '../bert/config';

export type ElectraConfig = BertConfig & { model_type: 'electra'; embedding_size: number };

export function electraConfig(raw: Record<string, unknown>, where = 'config.json', overrides: Record<string, unknown> = {}): ElectraConfig {
  const c = bertConfig(raw, where, overrides, {
    modelType: 'electra',
    defaults: { hidden_size: 256, num_attention_heads: 4, intermediate_size: 1024 },
  }) as ElectraConfig;
  const e = c.embedding_size ?? 128;
  if (typeof e !== 'number' || !Number.isInteger(e) || e < 1) throw new ConfigError(where, `embedding_size must be an integer >= 1, got ${JSON.stringify(e)}`);
  c.embedding_size = e;
  return c;
}
