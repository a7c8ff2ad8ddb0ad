#!/usr/bin/env python3
"""Golden values for test/train.test.ts and test/metrics.test.ts.

Run:  python scripts/gen_train_fixtures.py   (torch==2.13.0, transformers, scikit-learn, scipy, seqeval)
Writes test/fixtures/train/:
  tiny.csv           24 labelled sentences (neg/neutral/pos) for the training tests
  parity.json        30 steps of a PyTorch + transformers loop on tiny.csv with the seqcls fixture:
                     AdamW (fused, no decay on biases and LayerNorm weights), linear warmup (3 steps)
                     then decay, clipping at 1.0, batches of 8 in file order, dropout off;
                     the loss of every step and, per parameter, the final weights' norm and dot
                     with a fixed pattern
  metrics.json       scikit-learn, scipy, seqeval and SQuAD-script values on fixed predictions
"""
import collections
import csv
import json
import math
import os
import random
import re
import string

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from seqeval.metrics import accuracy_score as seq_acc, f1_score as seq_f1, precision_score as seq_p, recall_score as seq_r
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from transformers import AutoTokenizer, BertForSequenceClassification, get_linear_schedule_with_warmup

torch.set_num_threads(1)
HERE = os.path.dirname(__file__)
FX = os.path.join(HERE, "..", "test", "fixtures")
OUT = os.path.join(FX, "train")

ROWS = [
    ("the movie was wonderful and the music unforgettable", "pos"), ("terrible service and cold food", "neg"),
    ("it was fine, nothing special", "neutral"), ("i loved every minute of it", "pos"),
    ("the waiter forgot our order twice", "neg"), ("an average afternoon in the sun", "neutral"),
    ("superb acting and a great story", "pos"), ("slow, aimless and boring", "neg"),
    ("the book is on the table", "neutral"), ("great product, fast shipping", "pos"),
    ("broken on arrival, very poor quality", "neg"), ("the train leaves at noon", "neutral"),
    ("she reads books every single day and enjoys it a lot", "pos"), ("never again, the worst meal", "neg"),
    ("numbers and dates appear in the text", "neutral"), ("wonderful music, superb service", "pos"),
    ("the food was cold and the service slow", "neg"), ("a journey begins with a single step", "neutral"),
    ("i would recommend it to everyone", "pos"), ("the quality was very poor", "neg"),
    ("models learn representations of meaning", "neutral"), ("best purchase this year", "pos"),
    ("disappointing and far too expensive", "neg"), ("the cat sleeps in the warm sun", "neutral"),
]


def train_parity():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "tiny.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(ROWS)
    # the same rows as Parquet, with another text column name (pip install pyarrow)
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"sentence": [t for t, _ in ROWS], "label": [l for _, l in ROWS], "idx": list(range(len(ROWS)))}),
                   os.path.join(OUT, "tiny.parquet"), compression="snappy")
    model_dir = os.path.join(FX, "bert", "seqcls")
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertForSequenceClassification.from_pretrained(model_dir, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).train()
    label2id = model.config.label2id
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8, fused=True)
    sched = get_linear_schedule_with_warmup(opt, 3, 30)
    losses, norms = [], []
    batches = [ROWS[i:i + 8] for i in range(0, len(ROWS), 8)]
    for step in range(30):
        b = batches[step % len(batches)]
        enc = tok([t for t, _ in b], padding=True, truncation=True, max_length=32, return_tensors="pt")
        labels = torch.tensor([label2id[l] for _, l in b])
        loss = model(**enc, labels=labels).loss
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
    json.dump({"generator": "scripts/gen_train_fixtures.py", "losses": losses, "grad_norms": norms, "final": final},
              open(os.path.join(OUT, "parity.json"), "w"))


# The SQuAD v1.1 evaluation script's functions (official, as the `evaluate` squad metric ships them).
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)
    return white_space_fix(remove_articles(remove_punc(s.lower())))


def squad_f1(prediction, ground_truth):
    p = normalize_answer(prediction).split()
    g = normalize_answer(ground_truth).split()
    common = collections.Counter(p) & collections.Counter(g)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision, recall = num_same / len(p), num_same / len(g)
    return (2 * precision * recall) / (precision + recall)


def squad(preds, golds):
    em = f1 = 0
    for p, gs in zip(preds, golds):
        em += max(float(normalize_answer(p) == normalize_answer(g)) for g in gs)
        f1 += max(squad_f1(p, g) for g in gs)
    return {"exact_match": 100 * em / len(preds), "f1": 100 * f1 / len(preds)}


def metric_refs():
    rng = random.Random(7)
    gold = [rng.randrange(3) for _ in range(200)]
    pred = [g if rng.random() < 0.7 else rng.randrange(3) for g in gold]
    bgold = [rng.randrange(2) for _ in range(150)]
    bpred = [g if rng.random() < 0.8 else 1 - g for g in bgold]
    x = [rng.gauss(0, 1) for _ in range(100)]
    y = [v + rng.gauss(0, 0.5) for v in x]
    y[3] = y[4]  # ties for the ranks
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG"]
    seq_gold = [[rng.choice(tags) for _ in range(rng.randrange(3, 12))] for _ in range(40)]
    seq_pred = [[t if rng.random() < 0.75 else rng.choice(tags) for t in s] for s in seq_gold]
    squad_golds = [["the Eiffel Tower"], ["Paris", "paris, France"], ["1889"], ["Gustave Eiffel's company"], ["an iron lattice tower"]]
    squad_preds = ["Eiffel Tower", "Paris France", "in 1889", "Eiffel", "a steel tower!"]
    refs = {
        "multiclass": {"gold": gold, "pred": pred, "accuracy": accuracy_score(gold, pred),
                       "f1_macro": f1_score(gold, pred, average="macro"), "f1_micro": f1_score(gold, pred, average="micro"),
                       "matthews": matthews_corrcoef(gold, pred)},
        "binary": {"gold": bgold, "pred": bpred, "f1": f1_score(bgold, bpred), "matthews": matthews_corrcoef(bgold, bpred)},
        "regression": {"x": x, "y": y, "pearson": pearsonr(x, y)[0], "spearman": spearmanr(x, y)[0]},
        "seqeval": {"gold": seq_gold, "pred": seq_pred, "precision": seq_p(seq_gold, seq_pred), "recall": seq_r(seq_gold, seq_pred),
                    "f1": seq_f1(seq_gold, seq_pred), "accuracy": seq_acc(seq_gold, seq_pred)},
        "squad": {"preds": squad_preds, "golds": squad_golds, **squad(squad_preds, squad_golds)},
    }
    json.dump(refs, open(os.path.join(OUT, "metrics.json"), "w"))


if __name__ == "__main__":
    train_parity()
    metric_refs()
    print("wrote", os.path.relpath(OUT))
