import { Module } from './module';

/**
 * Normalisation layers (LayerNorm, RMSNorm): their weights take no weight decay, as
 * transformers' Trainer excludes them (get_decay_parameter_names).
 */
export abstract class Normalization extends Module {}
