#!/usr/bin/env python3
"""Loads checkpoints that fulltune saved with Python transformers and prints their outputs.

Usage: python scripts/check_roundtrip.py <model dir> <inputs.json> [<model dir> ...]
inputs.json: {"input_ids": [[...]], "attention_mask": [[...]], "token_type_ids": [[...]]} (token types optional)
Prints one JSON line per model dir: {"class": ..., "logits": [...flat...], "shape": [...], "tokenizer_ids": [...]}
(question answering: start logits then end logits, flattened).
"""
import json
import sys

import torch
from transformers import (AutoModel, AutoModelForMaskedLM, AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                          AutoModelForTokenClassification, AutoTokenizer)

AUTO = {"ForSequenceClassification": AutoModelForSequenceClassification, "ForMaskedLM": AutoModelForMaskedLM,
        "ForTokenClassification": AutoModelForTokenClassification, "ForQuestionAnswering": AutoModelForQuestionAnswering}

inputs_file = sys.argv[2]
inputs = {k: torch.tensor(v) for k, v in json.load(open(inputs_file)).items()}
for model_dir in [sys.argv[1], *sys.argv[3:]]:
    arch = json.load(open(f"{model_dir}/config.json"))["architectures"][0]
    cls = next((auto for suffix, auto in AUTO.items() if arch.endswith(suffix)), AutoModel)
    model = cls.from_pretrained(model_dir).eval()
    assert type(model).__name__ == arch, (type(model).__name__, arch)
    with torch.no_grad():
        out = model(**inputs)
    if hasattr(out, "start_logits"):
        logits = torch.cat([out.start_logits.reshape(-1), out.end_logits.reshape(-1)])
    else:
        logits = out.logits if hasattr(out, "logits") else out.last_hidden_state
    tok = AutoTokenizer.from_pretrained(model_dir)
    print(json.dumps({"class": type(model).__name__, "logits": logits.reshape(-1).tolist(), "shape": list(logits.shape),
                      "tokenizer_ids": tok(["the quick brown fox, café 北京"])["input_ids"][0]}))
