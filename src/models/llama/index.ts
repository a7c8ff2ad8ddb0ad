// The Llama family registers itself for llama, mistral, qwen2, qwen3 and smollm3 (transformers' class names for each).
import { ArchitectureSpec, registerFamily } from '../registry';
import { llamaConfig } from './config';
import { LlamaModel } from './model';
import { LlamaForCausalLM, LlamaForSequenceClassification } from './heads';

for (const [type, name] of [['llama', 'Llama'], ['mistral', 'Mistral'], ['qwen2', 'Qwen2'], ['qwen3', 'Qwen3'], ['smollm3', 'SmolLM3']] as const) {
  const archs: Record<string, ArchitectureSpec> = {
    [`${name}Model`]: { head: 'base', build: (r, w) => new LlamaModel(llamaConfig(r, w)) },
    [`${name}ForCausalLM`]: { head: 'causal-lm', build: (r, w) => new LlamaForCausalLM(llamaConfig(r, w)) },
    [`${name}ForSequenceClassification`]: { head: 'sequence-classification', build: (r, w) => new LlamaForSequenceClassification(llamaConfig(r, w)) },
  };
  registerFamily({ modelTypes: [type], defaultArchitecture: `${name}ForCausalLM`, config: (r, w) => llamaConfig(r, w), architectures: archs });
}
