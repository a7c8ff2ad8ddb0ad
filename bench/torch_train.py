"""Python side of bench/train.ts: a transformers Trainer on the same data, model, batch and threads.

prepare <dir> <tokenizer>: writes a random BERT (4 layers, hidden 256) with <tokenizer>'s vocabulary into <dir>/model
train <dir> <threads> <max_steps> <csv> <max_length> <batch>: trains on <csv> (text,label) and prints
  {"samples_per_second": ..., "peak_rss_mb": ...}
predict <model> <threads> <csv> <max_length> <batch>: Trainer.predict of the model folder <model> over every row of <csv>;
  prints
  {"samples_per_second": ...}
"""
import csv
import json
import os
import resource
import sys

import torch
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertForSequenceClassification,
                          DataCollatorWithPadding, Trainer, TrainingArguments)
from transformers.utils import logging

logging.set_verbosity_error()
cmd, d = sys.argv[1], sys.argv[2]


def dataset(tok, path, max_length):
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    enc = tok([r["text"] for r in rows], truncation=True, max_length=max_length)
    return [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "token_type_ids": enc["token_type_ids"][i],
             "labels": int(rows[i]["label"])} for i in range(len(rows))]


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
elif cmd == "train":
    threads, max_steps, path, max_length, batch = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
    torch.set_num_threads(threads)
    model_dir = os.path.join(d, "model")
    tok = AutoTokenizer.from_pretrained(model_dir)
    ds = dataset(tok, path, max_length)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    args = TrainingArguments(output_dir=os.path.join(d, "hf-out"), per_device_train_batch_size=batch, max_steps=max_steps, learning_rate=5e-5,
                             warmup_steps=4, weight_decay=0.01, logging_strategy="no", save_strategy="no", report_to=[],
                             dataloader_num_workers=0, use_cpu=True, seed=42, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(tok))
    out = trainer.train()
    print(json.dumps({"samples_per_second": out.metrics["train_samples_per_second"],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
elif cmd == "predict":
    threads, path, max_length, batch = int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    torch.set_num_threads(threads)
    model_dir = d
    tok = AutoTokenizer.from_pretrained(model_dir)
    ds = dataset(tok, path, max_length)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    args = TrainingArguments(output_dir=os.path.join(d, "hf-predict"), per_device_eval_batch_size=batch, report_to=[],
                             dataloader_num_workers=0, use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tok))
    out = trainer.predict(ds)
    print(json.dumps({"samples_per_second": out.metrics["test_samples_per_second"]}))
else:
    sys.exit(f"unknown command {cmd}")
