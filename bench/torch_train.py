"""Python side of bench/train.ts: a transformers Trainer on the same data, model, batch and threads.

train <model> <out> <threads> <max_steps> <csv> <max_length> <batch> <fp32|bf16>: fine-tunes <model> (a new
  2-label sequence-classification head) on <csv> (text,label); prints {"samples_per_second": ..., "peak_rss_mb": ...}
predict <model> <out> <threads> <csv> <max_length> <batch>: Trainer.predict of <model> over every row of <csv>;
  prints {"samples_per_second": ...}
"""
import csv
import json
import sys



import torch
from bench_util import peak_rss_mb
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments
from transformers.utils import logging

logging.set_verbosity_error()
cmd, model_dir, out_dir, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.set_num_threads(threads)


def dataset(tok, path, max_length):
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    enc = tok([r["text"] for r in rows], truncation=True, max_length=max_length)
    return [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "token_type_ids": enc["token_type_ids"][i],
             "labels": int(rows[i]["label"])} for i in range(len(rows))]


tok = AutoTokenizer.from_pretrained(model_dir)
if cmd == "train":
    max_steps, path, max_length, batch, precision = int(sys.argv[5]), sys.argv[6], int(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
    ds = dataset(tok, path, max_length)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    args = TrainingArguments(output_dir=out_dir, per_device_train_batch_size=batch, max_steps=max_steps, learning_rate=5e-5,
                             warmup_steps=0.1, weight_decay=0.01, logging_strategy="no", save_strategy="no", report_to=[],
                             dataloader_num_workers=0, use_cpu=True, seed=42, disable_tqdm=True, bf16=precision == "bf16")
    trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(tok))
    out = trainer.train()
    print(json.dumps({"samples_per_second": out.metrics["train_samples_per_second"],
                      "peak_rss_mb": peak_rss_mb()}))
elif cmd == "predict":
    path, max_length, batch = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
    ds = dataset(tok, path, max_length)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    args = TrainingArguments(output_dir=out_dir, per_device_eval_batch_size=batch, report_to=[], dataloader_num_workers=0, use_cpu=True,
                             disable_tqdm=True)
    out = Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tok)).predict(ds)
    print(json.dumps({"samples_per_second": out.metrics["test_samples_per_second"]}))
else:
    sys.exit(f"unknown command {cmd}")
