import { Linear } from '../../nn/linear';
import { Tensor } from '../../tensor/tensor';
import { BertEmbeddings } from '../bert/embeddings';
import { BertEncoder } from '../bert/encoder';
import { BertForwardOptions, BertInputs } from '../bert/model';
import { PreTrainedModel } from '../pretrained';
import { ElectraConfig } from './config';

/**
 * Hugging Face's ElectraModel: BERT's embeddings at embedding_size, projected to hidden_size by
 * `embeddings_project` when the two differ, then BERT's encoder; no pooler. Head models hold it
 * as `electra`.
 */
export class ElectraModel extends PreTrainedModel<ElectraConfig> {
  readonly architecture = 'ElectraModel';
  readonly basePrefix = null;
  readonly baseModelPrefix = 'electra';
  readonly headKeys = [];
  readonly ignoredKeys = [/^(discriminator_predictions|generator_predictions|generator_lm_head|classifier|qa_outputs)\./, /(^|\.)embeddings\.position_ids$/];
  embeddings: BertEmbeddings;
  embeddings_project: Linear | null;
  encoder: BertEncoder;

  constructor(config: ElectraConfig) {
    super(config);
    this.embeddings = new BertEmbeddings(config, { width: config.embedding_size });
    this.embeddings_project =
      config.embedding_size !== config.hidden_size ? new Linear(config.embedding_size, config.hidden_size, { std: config.initializer_range }) : null;
    this.encoder = new BertEncoder(config);
  }

  /** lastHiddenState (B, T, C), or (B, 1, C) with o.firstTokenOnly (BertEncoder.run). */
  forward(x: BertInputs, o: BertForwardOptions = {}): { lastHiddenState: Tensor } {
    let h = this.embeddings.forward(x.inputIds, x.tokenTypeIds, x.positionIds); // (B, T, E)
    if (this.embeddings_project) h = this.embeddings_project.forward(h); // (B, T, C)
    return { lastHiddenState: this.encoder.run(h, x.attentionMask, o) }; // (B, T, C)
  }
}
