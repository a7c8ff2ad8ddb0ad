#!/usr/bin/env python3
"""Loads a causal LM that fulltune saved (model, tokenizer, generation_config.json) with Python
transformers, and prints one JSON line: its class, logits on the given prompts, its greedy
continuation of the first prompt, and its tokenizer's ids and chat rendering.
Usage: check_roundtrip_lm.py <model dir> <inputs.json>   (inputs: {"input_ids": [[...]], "prompt": "...", "max_new_tokens": N})
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

d, inputs_file = sys.argv[1], sys.argv[2]
with open(inputs_file) as f:
    x = json.load(f)
model = AutoModelForCausalLM.from_pretrained(d, local_files_only=True).float().eval()
tok = AutoTokenizer.from_pretrained(d, local_files_only=True)
with torch.no_grad():
    logits = model(input_ids=torch.tensor(x['input_ids'])).logits
    ids = torch.tensor([tok(x['prompt'])['input_ids']])
    gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=x['max_new_tokens'], do_sample=False,
                         pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
out = {'class': type(model).__name__, 'logits': logits.reshape(-1).tolist(), 'generated': gen[0].tolist(),
       'tokenizer_ids': tok(x['prompt'])['input_ids']}
if tok.chat_template:
    out['chat'] = tok.apply_chat_template([{'role': 'user', 'content': x['prompt']}], tokenize=False, add_generation_prompt=True)
print(json.dumps(out))
