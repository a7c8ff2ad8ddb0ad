#!/usr/bin/env python3
"""30 training steps of RoBERTa and DeBERTa-v3 in a PyTorch + transformers loop, for test/encoders-train.test.ts.

Run after scripts/gen_encoder_fixtures.py and scripts/gen_train_fixtures.py (torch==2.13.0, transformers 5.x):
    python scripts/gen_encoder_train_fixtures.py
Writes test/fixtures/train/encoder_trajectories.json (outside encoders/, which gen_encoder_fixtures.py rewrites whole): per family, the loss and gradient norm (before
clipping) of every step and, per parameter, the final weights' norm and dot with a fixed pattern.
The loop is the one of scripts/gen_train_fixtures.py: the family's sequence-classification fixture
on test/fixtures/train/tiny.csv, AdamW (fused; no decay on biases and LayerNorm weights), linear
warmup (3 steps) then decay, clipping at 1.0, batches of 8 in file order, dropout off.
"""
import csv
import json
import os

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

torch.set_num_threads(1)
FX = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")
ENC = os.path.join(FX, "encoders")
LABELS = ["neg", "neutral", "pos"]


def trajectory(family):
    with open(os.path.join(FX, "train", "tiny.csv")) as f:
        rows = [(r["text"], r["label"]) for r in csv.DictReader(f)]
    tok = AutoTokenizer.from_pretrained(os.path.join(ENC, family, "tokenizer"))
    model = AutoModelForSequenceClassification.from_pretrained(
        os.path.join(ENC, family, "seqcls"), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)}, attn_implementation="eager").train()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8, fused=True)
    sched = get_linear_schedule_with_warmup(opt, 3, 30)
    losses, norms = [], []
    batches = [rows[i:i + 8] for i in range(0, len(rows), 8)]
    for step in range(30):
        b = batches[step % len(batches)]
        enc = tok([t for t, _ in b], padding=True, truncation=True, max_length=32, return_tensors="pt")
        loss = model(**enc, labels=torch.tensor([LABELS.index(l) for _, l in b])).loss
        loss.backward()
        losses.append(loss.item())
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    final = {}
    for name, p in model.named_parameters():
        flat = p.detach().reshape(-1).double()
        pattern = (torch.arange(flat.numel()) % 7 - 3).double()
        final[name] = [flat.norm().item(), (flat * pattern).sum().item()]
    return {"losses": losses, "grad_norms": norms, "final": final}


out = {"generator": "scripts/gen_encoder_train_fixtures.py", "families": {f: trajectory(f) for f in ["roberta", "deberta-v3"]}}
with open(os.path.join(FX, "train", "encoder_trajectories.json"), "w") as f:
    json.dump(out, f)
for f, t in out["families"].items():
    print(f, "loss", t["losses"][0], "->", t["losses"][-1])
