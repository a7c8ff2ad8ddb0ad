import { Module } from '../../nn/module';
import { Linear } from '../../nn/linear';
import { Tensor } from '../../tensor/tensor';
import { BertConfig } from './config';
import { BertEmbeddings } from './embeddings';
import { BertEncoder } from './encoder';
import { PreTrainedModel } from '../pretrained';
import type { EncoderRunOptions } from './encoder';

export { attentionMask } from './mask';
/** What a base model's forward computes: `firstTokenOnly` gives lastHiddenState (B, 1, C), see BertEncoder.run. */
export type BertForwardOptions = EncoderRunOptions;

export interface BertInputs {
  /** (B, T) int64 token ids */
  inputIds: Tensor;
  /** (B, T), 1 (or true) where a token is real, 0 where it is padding */
  attentionMask?: Tensor | null;
  /** (B, T) int64 segment ids; absent: all zero */
  tokenTypeIds?: Tensor | null;
  /** (B, T) or (1, T) int64; absent: 0..T-1 */
  positionIds?: Tensor | null;
}

/** The first token's hidden state through dense + tanh. */
export class BertPooler extends Module {
  dense: Linear;
  constructor(c: BertConfig) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, { std: c.initializer_range });
  }
  forward(h: Tensor): Tensor {
    return this.dense.forward(h.select(1, 0)).tanh(); // (B, C)
  }
}

export interface BertModelOutput {
  lastHiddenState: Tensor; // (B, T, C)
  poolerOutput: Tensor | null; // (B, C)
}

/**
 * Hugging Face's BertModel: keys without a prefix (`embeddings.word_embeddings.weight`, ...).
 * Head models hold one as `bert`, which gives their `bert.` keys, as in transformers.
 */
export class BertModel extends PreTrainedModel<BertConfig> {
  readonly architecture = 'BertModel';
  readonly basePrefix = null;
  readonly baseModelPrefix = 'bert';
  readonly headKeys = [];
  // a head checkpoint's heads, and the legacy persistent position_ids buffer
  readonly ignoredKeys = [/^cls\./, /^classifier\./, /^qa_outputs\./, /(^|\.)embeddings\.position_ids$/];
  embeddings: BertEmbeddings;
  encoder: BertEncoder;
  pooler: BertPooler | null;

  constructor(config: BertConfig, opts: { addPoolingLayer?: boolean } = {}) {
    super(config);
    this.embeddings = new BertEmbeddings(config);
    this.encoder = new BertEncoder(config);
    this.pooler = opts.addPoolingLayer === false ? null : new BertPooler(config);
  }

  /** lastHiddenState (B, T, C), or (B, 1, C) with o.firstTokenOnly; poolerOutput (B, C). */
  forward(x: BertInputs, o: BertForwardOptions = {}): BertModelOutput {
    const h = this.embeddings.forward(x.inputIds, x.tokenTypeIds, x.positionIds); // (B, T, C)
    const last = this.encoder.run(h, x.attentionMask, o); // (B, T, C) or (B, 1, C)
    return { lastHiddenState: last, poolerOutput: this.pooler ? this.pooler.forward(last) : null };
  }
}
