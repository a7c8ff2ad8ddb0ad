// One training step (forward and backward) of a random model with long sequences, with or
// without gradient checkpointing; prints the peak RSS before and after it (MB) and the loss.
// Usage: checkpoint-memory.ts bert-512|llama-1024 0|1
import * as ft from '../../src';
import { CheckpointSession } from '../../src/nn/checkpoint';
import { buildModel } from '../../src/models/registry';

const [model, on] = process.argv.slice(2);
const configs: Record<string, { raw: Record<string, unknown>; head: 'sequence-classification' | 'causal-lm'; B: number; T: number }> = {
  'bert-512': {
    raw: { model_type: 'bert', vocab_size: 1000, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024, max_position_embeddings: 512, num_labels: 2 },
    head: 'sequence-classification',
    B: 8,
    T: 512,
  },
  'llama-1024': {
    raw: { model_type: 'llama', vocab_size: 1000, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 688, max_position_embeddings: 1024 },
    head: 'causal-lm',
    B: 4,
    T: 1024,
  },
};
const c = configs[model];
ft.manualSeed(0);
const m = buildModel(c.raw, model, c.head) as ft.AnyPreTrainedModel;
m.train();
const rss = () => process.resourceUsage().maxRSS / 1024;
const ids = ft.randint(0, 1000, [c.B, c.T], { dtype: 'int64' });
const x = { inputIds: ids, labels: c.head === 'causal-lm' ? ids : ft.randint(0, 2, [c.B], { dtype: 'int64' }) };
const baseMb = rss();
const s = on === '1' ? new CheckpointSession() : null;
const out = s ? s.record(() => m.forward(x)) : m.forward(x);
if (s) s.backward(out.loss);
else out.loss.backward();
console.log(JSON.stringify({ peakMb: rss(), baseMb, loss: out.loss.item() }));
