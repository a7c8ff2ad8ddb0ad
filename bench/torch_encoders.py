"""PyTorch + transformers side of bench/encoders.ts: forward+backward of each encoder family at
the bench's BERT size (4 layers, hidden 256, 4 heads, intermediate 1024), sequence classification,
train mode, batch 16 x 128 with half the rows padded.

prepare <dir>: writes <dir>/<family> checkpoints and <dir>/inputs.json
step <dir> <family> <threads> <iters>: seconds per forward+backward
"""
import json
import os
import sys
import time

import torch
from transformers import (AutoModelForSequenceClassification, DebertaV2Config, DistilBertConfig, ElectraConfig, ModernBertConfig,
                          RobertaConfig)
from transformers.utils import logging

logging.set_verbosity_error()
cmd, d = sys.argv[1], sys.argv[2]
V = 30522
SIZE = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, vocab_size=V, num_labels=2)
FAMILIES = {
    "roberta": lambda: RobertaConfig(**SIZE, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1),
    "distilbert": lambda: DistilBertConfig(vocab_size=V, dim=256, n_layers=4, n_heads=4, hidden_dim=1024, num_labels=2),
    "electra": lambda: ElectraConfig(**SIZE, embedding_size=128),
    # deberta-v3-base's attention settings
    "deberta-v3": lambda: DebertaV2Config(**SIZE, relative_attention=True, pos_att_type="p2c|c2p", position_buckets=256,
                                          max_relative_positions=-1, share_att_key=True, norm_rel_ebd="layer_norm",
                                          position_biased_input=False, type_vocab_size=0, layer_norm_eps=1e-7),
    # ModernBERT-base's pattern: a global layer every third, a local window of 128
    "modernbert": lambda: ModernBertConfig(**{**SIZE, "intermediate_size": 512}, local_attention=128, pad_token_id=0),
}

if cmd == "prepare":
    torch.manual_seed(0)
    for name, cfg in FAMILIES.items():
        AutoModelForSequenceClassification.from_config(cfg()).save_pretrained(os.path.join(d, name))
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 30000, (16, 128), generator=g)
    mask = torch.ones(16, 128, dtype=torch.long)
    mask[::2, 112:] = 0  # half the rows padded
    json.dump({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "labels": torch.randint(0, 2, (16,), generator=g).tolist()},
              open(os.path.join(d, "inputs.json"), "w"))
    print(json.dumps(list(FAMILIES)))
elif cmd == "step":
    family = sys.argv[3]
    torch.set_num_threads(int(sys.argv[4]))
    iters = int(sys.argv[5])
    attn = "eager" if family.startswith("deberta") else "sdpa"  # DeBERTa has no SDPA path in transformers
    model = AutoModelForSequenceClassification.from_pretrained(os.path.join(d, family), attn_implementation=attn).train()
    x = {k: torch.tensor(v) for k, v in json.load(open(os.path.join(d, "inputs.json"))).items()}
    pad = model.config.pad_token_id or 0
    x["input_ids"] = x["input_ids"].masked_fill(x["attention_mask"] == 0, pad)

    def step():
        model.zero_grad(set_to_none=True)
        model(**x).loss.backward()
    step()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    print(json.dumps({"step": (time.perf_counter() - t0) / iters}))
