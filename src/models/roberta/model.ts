import { Tensor } from '../../tensor/tensor';
import { BertEncoder } from '../bert/encoder';
import { BertForwardOptions, BertInputs, BertModelOutput, BertPooler } from '../bert/model';
import { PreTrainedModel } from '../pretrained';
import { RobertaConfig } from './config';
import { RobertaEmbeddings } from './embeddings';

/** 'Roberta' or 'XLMRoberta': the class-name prefix of a config's family. */
export function classPrefix(c: RobertaConfig): string {
  return c.model_type === 'xlm-roberta' ? 'XLMRoberta' : 'Roberta';
}

/**
 * Hugging Face's RobertaModel (and XLMRobertaModel, the same network): BERT's encoder and pooler
 * over RobertaEmbeddings. Head models hold it as `roberta`, without the pooler.
 */
export class RobertaModel extends PreTrainedModel<RobertaConfig> {
  readonly basePrefix = null;
  readonly baseModelPrefix = 'roberta';
  // roberta-base/large and every RoBERTa head checkpoint have no pooler: it is initialised, as transformers does
  readonly headKeys = [/^pooler\./];
  readonly ignoredKeys = [/^(lm_head|classifier|qa_outputs)\./, /(^|\.)embeddings\.position_ids$/];
  // RoBERTa's tokenizers return no token types (roberta-base has a single one): the Trainer passes none
  readonly acceptsTokenTypeIds = false;
  embeddings: RobertaEmbeddings;
  encoder: BertEncoder;
  pooler: BertPooler | null;

  constructor(config: RobertaConfig, opts: { addPoolingLayer?: boolean } = {}) {
    super(config);
    this.embeddings = new RobertaEmbeddings(config);
    this.encoder = new BertEncoder(config);
    this.pooler = opts.addPoolingLayer === false ? null : new BertPooler(config);
  }

  get architecture(): string {
    return `${classPrefix(this.config)}Model`;
  }

  /** inputIds (B, T) int64; positions, when not given, count real tokens from pad_token_id + 1. */
  forward(x: BertInputs, o: BertForwardOptions = {}): BertModelOutput {
    const h = this.embeddings.forward(x.inputIds, x.tokenTypeIds, x.positionIds); // (B, T, C)
    const last: Tensor = this.encoder.run(h, x.attentionMask, o); // (B, T, C), or (B, 1, C) with o.firstTokenOnly
    return { lastHiddenState: last, poolerOutput: this.pooler ? this.pooler.forward(last) : null };
  }
}
