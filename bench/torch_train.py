"""Python side of bench/train.ts: a transformers Trainer run on the same data, model and threads.

prepare <dir> <model>: writes a random BERT (4 layers, hidden 256) with <model>'s tokenizer into <dir>/model
run <dir> <threads> <max_steps>: trains on data/sentiment/train.csv (batch 32, max length 64) and prints
  {"samples_per_second": ..., "peak_rss_mb": ...}
"""
import csv
import json
import os
import resource
import shutil
import sys

import torch
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertForSequenceClassification,
                          DataCollatorWithPadding, Trainer, TrainingArguments)
from transformers.utils import logging

logging.set_verbosity_error()
cmd, d = sys.argv[1], sys.argv[2]
ROOT = os.path.join(os.path.dirname(__file__), "..")

if cmd == "prepare":
    src = sys.argv[3]
    tok = AutoTokenizer.from_pretrained(src)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                     num_labels=2)
    out = os.path.join(d, "model")
    BertForSequenceClassification(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    print("{}")
else:
    threads, max_steps = int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    model_dir = os.path.join(d, "model")
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = list(csv.DictReader(open(os.path.join(ROOT, "data", "sentiment", "train.csv"))))
    enc = tok([r["text"] for r in rows], truncation=True, max_length=64)
    ds = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "token_type_ids": enc["token_type_ids"][i],
           "labels": int(rows[i]["label"])} for i in range(len(rows))]
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    args = TrainingArguments(output_dir=os.path.join(d, "hf-out"), per_device_train_batch_size=32, max_steps=max_steps, learning_rate=5e-5,
                             warmup_steps=4, weight_decay=0.01, logging_strategy="no", save_strategy="no", report_to=[],
                             dataloader_num_workers=0, use_cpu=True, seed=42, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(tok))
    out = trainer.train()
    print(json.dumps({"samples_per_second": out.metrics["train_samples_per_second"],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
