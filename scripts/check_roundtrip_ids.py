#!/usr/bin/env python3
"""Loads a causal LM that fulltune saved (model and generation_config.json, no tokenizer) with
Python transformers and prints one JSON line: its class, its logits on the given ids and its
greedy continuation of the given prompt ids.
Usage: check_roundtrip_ids.py <model dir> <inputs.json>   (inputs: {"input_ids": [[...]], "prompt_ids": [[...]], "max_new_tokens": N})
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM

d, inputs_file = sys.argv[1], sys.argv[2]
with open(inputs_file) as f:
    x = json.load(f)
model = AutoModelForCausalLM.from_pretrained(d, local_files_only=True).float().eval()
with torch.no_grad():
    logits = model(input_ids=torch.tensor(x['input_ids'])).logits
    ids = torch.tensor(x['prompt_ids'])
    gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=x['max_new_tokens'], do_sample=False,
                         eos_token_id=None, pad_token_id=0)
print(json.dumps({'class': type(model).__name__, 'logits': logits.reshape(-1).tolist(), 'generated': gen[0].tolist()}))
