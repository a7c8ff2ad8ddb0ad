#!/usr/bin/env python3
"""Golden values for test/decoder.test.ts: small random-initialised GPT-2 and Llama-family models
(Llama, Mistral, Qwen2, Qwen3, SmolLM3)
from transformers, with their logits, losses and every parameter's gradient on a padded batch,
packed-document equivalence, and greedy generation (batched, left-padded).

Run with the project's Python (torch==2.13.0, transformers 5.x):
    python scripts/gen_decoder_fixtures.py
Writes test/fixtures/decoder/<name>/{config.json, model.safetensors} and test/fixtures/decoder/expected.json.
initializer_range is raised (0.1) so that different inputs give measurably different logits;
dropout is off so that train mode and eval mode agree.
"""
import base64
import json
import os
import shutil

import numpy as np
import torch
import transformers
from transformers import (GPT2Config, GPT2LMHeadModel, GPT2ForSequenceClassification, LlamaConfig, LlamaForCausalLM,
                          LlamaForSequenceClassification, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM,
                          Qwen3Config, Qwen3ForCausalLM, Qwen3ForSequenceClassification, SmolLM3Config, SmolLM3ForCausalLM)

torch.manual_seed(0)
torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'decoder')
V = 96


def b64(t, dtype=np.float32):
    a = np.ascontiguousarray(t.detach().cpu().numpy().astype(dtype))
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}


common_llama = dict(vocab_size=V, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=64, initializer_range=0.1, rms_norm_eps=1e-6,
                    bos_token_id=1, eos_token_id=2, pad_token_id=0, attention_dropout=0.0)
MODELS = {
    'gpt2': (GPT2LMHeadModel, GPT2Config(vocab_size=V, n_positions=64, n_embd=32, n_layer=2, n_head=4, initializer_range=0.1,
                                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=2, eos_token_id=2)),
    'llama': (LlamaForCausalLM, LlamaConfig(**common_llama, tie_word_embeddings=False)),
    'llama3-rope': (LlamaForCausalLM, LlamaConfig(**{**common_llama, 'num_key_value_heads': 4}, tie_word_embeddings=True, rope_scaling={
        'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
        'original_max_position_embeddings': 16, 'rope_theta': 500000.0})),
    'llama-linear': (LlamaForCausalLM, LlamaConfig(**common_llama, rope_scaling={'rope_type': 'linear', 'factor': 2.0, 'rope_theta': 10000.0},
                                                   attention_bias=True, mlp_bias=True)),
    'llama-dynamic': (LlamaForCausalLM, LlamaConfig(**{**common_llama, 'max_position_embeddings': 8},
                                                    rope_scaling={'rope_type': 'dynamic', 'factor': 2.0, 'rope_theta': 10000.0})),
    'qwen2': (Qwen2ForCausalLM, Qwen2Config(**common_llama, tie_word_embeddings=True)),
    'mistral': (MistralForCausalLM, MistralConfig(**common_llama, sliding_window=4)),
    'gpt2-seqcls': (GPT2ForSequenceClassification, GPT2Config(vocab_size=V, n_positions=64, n_embd=32, n_layer=2, n_head=4, initializer_range=0.1,
                                                              resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, num_labels=3, pad_token_id=0)),
    'llama-seqcls': (LlamaForSequenceClassification, LlamaConfig(**common_llama, num_labels=3)),
    # q/k norms, head_dim (16) other than hidden / heads (8), the second layer sliding (window 4), tied
    'qwen3': (Qwen3ForCausalLM, Qwen3Config(**common_llama, head_dim=16, use_sliding_window=True, sliding_window=4, max_window_layers=1,
                                             tie_word_embeddings=True)),
    'qwen3-seqcls': (Qwen3ForSequenceClassification, Qwen3Config(**common_llama, head_dim=16, attention_bias=True, num_labels=3)),
    # the second layer without rotary embeddings, and sliding (window 4); biases on
    'smollm3': (SmolLM3ForCausalLM, SmolLM3Config(**common_llama, no_rope_layers=[1, 0], use_sliding_window=True, sliding_window=4,
                                                   attention_bias=True, mlp_bias=True, tie_word_embeddings=False)),
}

# a right-padded batch: rows of 11, 7 and 4 real tokens (pad 0, never a real token here)
lengths = [11, 7, 4]
T = max(lengths)
ids = torch.randint(3, V, (3, T))
mask = torch.zeros(3, T, dtype=torch.long)
for i, n in enumerate(lengths):
    mask[i, :n] = 1
ids = ids.masked_fill(mask == 0, 0)
labels = ids.masked_fill(mask == 0, -100)

expected = {'inputs': {'input_ids': ids.tolist(), 'attention_mask': mask.tolist(), 'labels': labels.tolist()},
            'transformers': transformers.__version__, 'torch': torch.__version__, 'models': {}}
shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)

for name, (cls, cfg) in MODELS.items():
    cfg._attn_implementation = 'sdpa'
    model = cls(cfg).float()
    d = os.path.join(OUT, name)
    model.save_pretrained(d, safe_serialization=True)
    model = cls.from_pretrained(d, attn_implementation='sdpa').float()
    seqcls = 'seqcls' in name
    y = torch.tensor([0, 2, 1]) if seqcls else labels
    entry = {}
    model.eval()
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=y)
    entry['logits'] = b64(out.logits)
    entry['loss'] = out.loss.item()
    if seqcls:
        entry['labels'] = y.tolist()
    model.train()
    model.zero_grad()
    out = model(input_ids=ids, attention_mask=mask, labels=y)
    out.loss.backward()
    entry['train_loss'] = out.loss.item()
    entry['grads'] = {k: b64(p.grad) for k, p in model.named_parameters() if p.grad is not None}
    entry['params'] = [k for k, _ in model.named_parameters()]
    if not seqcls:
        # summed loss over targets, as a Trainer normalising over an accumulated batch asks for
        with torch.no_grad():
            n = (labels[:, 1:] != -100).sum()
            entry['loss_sum'] = model(input_ids=ids, attention_mask=mask, labels=labels, num_items_in_batch=n).loss.item() * n.item()
            entry['targets'] = n.item()
        # packed documents: the three rows' real tokens in one row, positions restarting, no attention mask
        model.eval()
        with torch.no_grad():
            packed = torch.cat([ids[i, :n] for i, n in enumerate(lengths)]).unsqueeze(0)
            pos = torch.cat([torch.arange(n) for n in lengths]).unsqueeze(0)
            plab = torch.cat([torch.cat([ids[i, :n][:1] * 0 - 100, ids[i, 1:n]]) for i, n in enumerate(lengths)]).unsqueeze(0)
            # without a cache (transformers builds one when use_cache, and then ignores packing)
            po = model(input_ids=packed, position_ids=pos, labels=plab, use_cache=False)
        entry['packed'] = {'input_ids': packed.tolist(), 'position_ids': pos.tolist(), 'labels': plab.tolist(),
                           'logits': b64(po.logits), 'loss': po.loss.item()}
        # greedy generation, batched with left padding, to max_new_tokens or EOS
        prompts = [ids[0, :5].tolist(), ids[1, :3].tolist()]
        L = max(len(p) for p in prompts)
        pad_id = cfg.pad_token_id if cfg.pad_token_id is not None else cfg.eos_token_id
        gi = torch.tensor([[pad_id] * (L - len(p)) + p for p in prompts])
        gm = torch.tensor([[0] * (L - len(p)) + [1] * len(p) for p in prompts])
        with torch.no_grad():
            # a random model rarely emits its EOS: take as EOS the token the second row emits at
            # its fourth step, so that this row stops early (and is padded) while the other goes on
            free = model.generate(input_ids=gi, attention_mask=gm, max_new_tokens=12, do_sample=False, pad_token_id=pad_id, eos_token_id=None)
            eos = int(free[1, L + 3])
            g = model.generate(input_ids=gi, attention_mask=gm, max_new_tokens=12, do_sample=False, pad_token_id=pad_id, eos_token_id=eos)
            g1 = model.generate(input_ids=gi[:1, L - len(prompts[0]):], max_new_tokens=12, do_sample=False, pad_token_id=pad_id,
                                eos_token_id=eos)
        entry['generate'] = {'input_ids': gi.tolist(), 'attention_mask': gm.tolist(), 'pad_token_id': pad_id,
                             'eos_token_id': eos, 'max_new_tokens': 12, 'output': g.tolist(), 'single': g1.tolist()}
    expected['models'][name] = entry
    print(name, 'loss', entry['loss'])

with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump(expected, f)
print('wrote', OUT)
