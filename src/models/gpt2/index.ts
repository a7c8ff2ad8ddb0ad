// GPT-2 registers itself by model_type.
import { registerFamily } from '../registry';
import { gpt2Config } from './config';
import { GPT2Model } from './model';
import { GPT2ForSequenceClassification, GPT2LMHeadModel } from './heads';

registerFamily({
  modelTypes: ['gpt2'],
  defaultArchitecture: 'GPT2LMHeadModel',
  config: (r, w) => gpt2Config(r, w),
  architectures: {
    GPT2Model: { head: 'base', build: (r, w) => new GPT2Model(gpt2Config(r, w)) },
    GPT2LMHeadModel: { head: 'causal-lm', build: (r, w) => new GPT2LMHeadModel(gpt2Config(r, w)) },
    GPT2ForSequenceClassification: { head: 'sequence-classification', build: (r, w) => new GPT2ForSequenceClassification(gpt2Config(r, w)) },
  },
});
