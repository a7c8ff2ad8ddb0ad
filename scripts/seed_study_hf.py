"""The transformers side of the accuracy study (scripts/seed-study.js runs it).

Fine-tunes a sequence-classification model with a transformers Trainer on the CSVs the fulltune
runs use (columns text and label), with the same hyperparameters, then evaluates the final model
on the validation file and prints one JSON line: {"seed", "accuracy", "f1", "train_seconds",
"transformers"} (its version).
F1 is binary F1 of label 1, as fulltune's eval_f1 for two labels.

Usage: python seed_study_hf.py --model DIR --train CSV --validation CSV --seed N --output DIR
       [--max-length 64] [--epochs 3] [--batch-size 32] [--lr 5e-5] [--warmup 0.1] [--weight-decay 0.01]
"""
import argparse
import csv
import json
import sys
import time

import numpy as np
import torch
import transformers
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    set_seed,
)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for i, r in enumerate(rows, start=2):
        if "text" not in r or "label" not in r:
            sys.exit(f"{path}: line {i}: expected columns text and label")
        if r["label"] not in ("0", "1"):
            sys.exit(f"{path}: line {i}: label must be 0 or 1, got {r['label']!r}")
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


class Encoded(torch.utils.data.Dataset):
    def __init__(self, enc, labels):
        self.enc, self.labels = enc, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        item = {k: v[i] for k, v in self.enc.items()}
        item["labels"] = self.labels[i]
        return item


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--validation", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    a = p.parse_args()

    set_seed(a.seed)  # before the head is initialised, as fulltune's manualSeed
    tok = AutoTokenizer.from_pretrained(a.model)
    tr_text, tr_y = read_csv(a.train)
    va_text, va_y = read_csv(a.validation)
    train = Encoded(tok(tr_text, truncation=True, max_length=a.max_length), tr_y)
    val = Encoded(tok(va_text, truncation=True, max_length=a.max_length), va_y)
    model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=2)
    args = TrainingArguments(
        output_dir=a.output,
        num_train_epochs=a.epochs,
        per_device_train_batch_size=a.batch_size,
        per_device_eval_batch_size=64,
        learning_rate=a.lr,
        warmup_steps=a.warmup,  # transformers 5: a float below 1 is a ratio
        weight_decay=a.weight_decay,
        lr_scheduler_type="linear",
        seed=a.seed,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(tok))
    t0 = time.time()
    trainer.train()
    secs = time.time() - t0
    pred = np.argmax(trainer.predict(val).predictions, axis=-1)
    gold = np.array(va_y)
    tp = int(((pred == 1) & (gold == 1)).sum())
    fp = int(((pred == 1) & (gold == 0)).sum())
    fn = int(((pred == 0) & (gold == 1)).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    print(json.dumps({"seed": a.seed, "accuracy": float((pred == gold).mean()), "f1": f1, "train_seconds": secs, "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
