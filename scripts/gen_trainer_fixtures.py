"""Golden values of transformers' own Trainer: test/fixtures/train/transformers_trainer.json.

A fulltune run is meant to equal a transformers Trainer run with the same seed and
hyperparameters, dropout and data order included. This script records, with transformers'
Trainer itself (not a loop written after it):

  runs      the BERT sequence classifier of test/fixtures/bert/seqcls (every dropout 0.1)
            trained on test/fixtures/train/tiny.csv (24 rows, max length 32) for 3 epochs of
            batches of 5 (the last of each epoch holds 4), AdamW lr 1e-3, 3 warmup steps then
            linear decay, weight decay 0.01, clipping at 1.0, seed 1234, with the random and the
            group_by_length sampler, and with the random one evaluating tiny.csv at each epoch's
            end (random_eval): the rows of each batch, the loss of every step and its gradient
            norm, and each evaluation's loss
  draws     torch.randperm from seeded generators and from the default generator, and
            torch.empty((), dtype=torch.int64).random_() (the data loader's draw at each epoch),
            each followed by torch.rand(3) from the default generator: where it left it

Run: python scripts/gen_trainer_fixtures.py   (torch 2.13 CPU, transformers 5)
"""
import csv
import json
import os
import shutil
import tempfile

import torch
from transformers import AutoTokenizer, BertForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments, set_seed

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FX = os.path.join(ROOT, "test", "fixtures")
MODEL = os.path.join(FX, "bert", "seqcls")
SEED = 1234
LABELS = ["neg", "neutral", "pos"]

torch.set_num_threads(1)


class Rows(torch.utils.data.Dataset):
    def __init__(self, enc, labels):
        self.enc, self.labels = enc, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        item = {k: v[i] for k, v in self.enc.items()}
        item["labels"] = self.labels[i]
        item["row"] = i
        return item


def run(sampler, evaluate=False):
    tok = AutoTokenizer.from_pretrained(MODEL)
    with open(os.path.join(FX, "train", "tiny.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    data = Rows(tok([r["text"] for r in rows], truncation=True, max_length=32), [LABELS.index(r["label"]) for r in rows])
    batches, losses = [], []
    pad = DataCollatorWithPadding(tok)

    def collate(features):
        batches.append([f.pop("row") for f in features])
        return pad(features)

    class Recording(Trainer):
        def training_step(self, model, inputs, *a, **k):
            loss = super().training_step(model, inputs, *a, **k)
            losses.append(loss.item())  # unrounded (the log rounds it)
            return loss

    out = tempfile.mkdtemp()
    try:
        set_seed(SEED)
        model = BertForSequenceClassification.from_pretrained(MODEL, attn_implementation="sdpa")
        args = TrainingArguments(
            output_dir=out, num_train_epochs=3, per_device_train_batch_size=5, learning_rate=1e-3, warmup_steps=3,
            weight_decay=0.01, max_grad_norm=1.0, seed=SEED, use_cpu=True, save_strategy="no", logging_steps=1,
            report_to=[], disable_tqdm=True, train_sampling_strategy=sampler, remove_unused_columns=False,
            eval_strategy="epoch" if evaluate else "no", per_device_eval_batch_size=5,
        )
        trainer = Recording(model=model, args=args, train_dataset=data, eval_dataset=data if evaluate else None, data_collator=collate)
        trainer.train()
        grad_norms = [h["grad_norm"] for h in trainer.state.log_history if "grad_norm" in h]
        eval_losses = [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    # the evaluations' batches went through the collator too
    train_batches = [b for i, b in enumerate(batches) if not evaluate or i % 10 < 5]
    assert len(train_batches) == len(losses) == len(grad_norms) == 15 and len(eval_losses) == (3 if evaluate else 0)
    return {"batches": train_batches, "losses": losses, "grad_norms": grad_norms, "eval_losses": eval_losses}


def draws():
    out = {"seeded": [], "default": []}
    for n, seed in [(10, 7), (1000, 42), (1, 3)]:
        g = torch.Generator().manual_seed(seed)
        out["seeded"].append({"n": n, "seed": seed, "perm": torch.randperm(n, generator=g).tolist()})
    torch.manual_seed(5)
    perm = torch.randperm(37).tolist()
    out["default"] = {"seed": 5, "perm": perm, "rand_after": torch.rand(3, dtype=torch.float64).tolist()}
    torch.manual_seed(11)
    value = torch.empty((), dtype=torch.int64).random_().item()
    out["random_"] = {"seed": 11, "value": str(value), "rand_after": torch.rand(3, dtype=torch.float64).tolist()}
    return out


def main():
    runs = {"random": run("random"), "group_by_length": run("group_by_length"), "random_eval": run("random", evaluate=True)}
    fixture = {"seed": SEED, "runs": runs, "draws": draws()}
    with open(os.path.join(FX, "train", "transformers_trainer.json"), "w") as f:
        json.dump(fixture, f, indent=1)


if __name__ == "__main__":
    main()
