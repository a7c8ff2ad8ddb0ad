"""PyTorch + transformers side of bench/bert.ts.

prepare <dir>: writes two random BertForSequenceClassification checkpoints and the inputs:
  <dir>/step  (4 layers, hidden 256, 4 heads, vocab 30522) for forward+backward timing
  <dir>/load  (4 layers, hidden 512, 8 heads: about 110 MB of float32) for load timing
step <dir> <threads> <iters>: seconds per forward+backward (train mode) on batch 16 x 128
load <dir> <threads> <iters>: seconds per from_pretrained of <dir>/load
"""
import json
import os
import sys
import time

import torch
from transformers import BertConfig, BertForSequenceClassification
from transformers.utils import logging

logging.set_verbosity_error()
cmd, d = sys.argv[1], sys.argv[2]


def inputs():
    x = json.load(open(os.path.join(d, "inputs.json")))
    return {k: torch.tensor(v) for k, v in x.items()}


if cmd == "prepare":
    torch.manual_seed(0)
    for name, hidden, heads in (("step", 256, 4), ("load", 512, 8)):
        cfg = BertConfig(hidden_size=hidden, num_hidden_layers=4, num_attention_heads=heads, intermediate_size=4 * hidden, num_labels=2)
        BertForSequenceClassification(cfg).save_pretrained(os.path.join(d, name))
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 30000, (16, 128), generator=g)
    mask = torch.ones(16, 128, dtype=torch.long)
    mask[::2, 112:] = 0  # half the rows padded
    ids[mask == 0] = 0
    json.dump({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "labels": torch.randint(0, 2, (16,), generator=g).tolist()},
              open(os.path.join(d, "inputs.json"), "w"))
    print("{}")
elif cmd == "step":
    torch.set_num_threads(int(sys.argv[3]))
    iters = int(sys.argv[4])
    model = BertForSequenceClassification.from_pretrained(os.path.join(d, "step")).train()
    x = inputs()

    def step():
        model.zero_grad(set_to_none=True)
        model(**x).loss.backward()
    step()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    print(json.dumps({"step": (time.perf_counter() - t0) / iters}))
elif cmd == "load":
    torch.set_num_threads(int(sys.argv[3]))
    iters = int(sys.argv[4])
    BertForSequenceClassification.from_pretrained(os.path.join(d, "load"))  # warm the page cache and imports
    t0 = time.perf_counter()
    for _ in range(iters):
        BertForSequenceClassification.from_pretrained(os.path.join(d, "load"))
    load = (time.perf_counter() - t0) / iters
    # load and a first forward (eval, one row of 128): the lazy mapping's deferred reads included
    ids = inputs()["input_ids"][:1]
    t0 = time.perf_counter()
    for _ in range(iters):
        m = BertForSequenceClassification.from_pretrained(os.path.join(d, "load")).eval()
        with torch.no_grad():
            m(input_ids=ids)
    print(json.dumps({"load": load, "load_forward": (time.perf_counter() - t0) / iters}))
