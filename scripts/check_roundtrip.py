#!/usr/bin/env python3
"""Loads a checkpoint that fulltune saved with Python transformers and prints its logits.

Usage: python scripts/check_roundtrip.py <model dir> <inputs.json>
inputs.json: {"input_ids": [[...]], "attention_mask": [[...]], "token_type_ids": [[...]]}
Prints one JSON line: {"class": ..., "logits": [...flat...], "shape": [...], "tokenizer_ids": [...]}
"""
import json
import sys

import torch
from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer

model_dir, inputs_file = sys.argv[1], sys.argv[2]
inputs = {k: torch.tensor(v) for k, v in json.load(open(inputs_file)).items()}
arch = json.load(open(f"{model_dir}/config.json"))["architectures"][0]
cls = {"BertForSequenceClassification": AutoModelForSequenceClassification, "BertForMaskedLM": AutoModelForMaskedLM}.get(arch, AutoModel)
model = cls.from_pretrained(model_dir).eval()
assert type(model).__name__ == arch, (type(model).__name__, arch)
with torch.no_grad():
    out = model(**inputs)
logits = out.logits if hasattr(out, "logits") else out.last_hidden_state
tok = AutoTokenizer.from_pretrained(model_dir)
print(json.dumps({"class": type(model).__name__, "logits": logits.reshape(-1).tolist(), "shape": list(logits.shape),
                  "tokenizer_ids": tok(["the quick brown fox, café 北京"])["input_ids"][0]}))
