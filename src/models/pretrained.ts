// What every Hugging Face-compatible model shares: its config, the prefix its base model
// lives under, and the explicit rules for loading a checkpoint of a related architecture.
import { Module } from '../nn/module';

export interface PretrainedConfigLike {
  model_type: string;
  architectures?: string[];
  [k: string]: unknown;
}

export abstract class PreTrainedModel<C extends PretrainedConfigLike = PretrainedConfigLike> extends Module {
  /** The Hugging Face class name written to config.json's `architectures`. */
  abstract readonly architecture: string;
  /**
   * Attribute holding the base model in head models (`bert`), or null for the base model
   * itself. A base checkpoint loads into a head model under this prefix, and a head
   * checkpoint into a base model without it, as Hugging Face does.
   */
  abstract readonly basePrefix: string | null;
  /**
   * The family's base_model_prefix (`bert`, `transformer`, `model`): where head models hold the
   * base model, and what a base model strips from a head checkpoint's keys.
   */
  abstract readonly baseModelPrefix: string;
  /** Keys that may be absent from a checkpoint: newly initialised heads (each announced). */
  abstract readonly headKeys: RegExp[];
  /**
   * Checkpoint keys this model deliberately does not use (other heads, legacy buffers).
   * Any other unexpected key is an error.
   */
  abstract readonly ignoredKeys: RegExp[];

  /**
   * Whether forward takes token type ids (BERT, GPT-2). Llama-family tokenizers do not return
   * them in transformers, and the Trainer does not pass them to models that say false.
   */
  readonly acceptsTokenTypeIds: boolean = true;

  protected constructor(readonly config: C) {
    super();
  }
}

/**
 * The keys of a family's other heads, for ignoredKeys: its head modules (`heads`, by attribute
 * name) other than the ones the model itself has (`own`).
 */
export function otherHeads(heads: readonly string[], own: readonly string[]): RegExp {
  return new RegExp(`^(${heads.filter((h) => !own.includes(h)).join('|')})\\.`);
}
