#!/usr/bin/env python3
"""Golden training losses of every task for test/task-loss.test.ts, from transformers' own heads.

Run:  python scripts/gen_task_loss_fixtures.py   (torch==2.13.0, transformers)
      after scripts/gen_bert_fixtures.py, scripts/gen_train_fixtures.py and scripts/gen_lm_fixtures.py
      (it reads their checkpoints, tiny.csv, ner.jsonl, qa.jsonl, and the causal-lm blocks and loss).
Writes test/fixtures/train/:
  multilabel.jsonl, regression.csv   small data sets for the multi-label and regression tasks
  task_losses.json   per task: the data file and settings, the features Hugging Face's example
                     recipes make of it (run_glue, run_ner with the first sub-token labelled,
                     run_qa's prepare_train_features), and the loss of the transformers model
                     (forward with labels, train mode, dropout off) on all of them as one batch
The test trains one step over the same features split into two micro-batches of unequal size
(and unequal labelled-token counts): fulltune's logged loss must equal this one-batch loss.
"""
import csv
import json
import os

import torch
from transformers import (AutoTokenizer, BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
                          BertForTokenClassification)

torch.set_num_threads(1)
FX = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")
TRAIN = os.path.join(FX, "train")

MULTILABEL = [
    ("great food and fast service", ["food", "service"]), ("the train leaves at noon", ["travel"]),
    ("a cold meal on a slow train", ["food", "travel"]), ("nothing to say", []),
    ("the waiter forgot our order", ["service"]), ("a journey to paris with great food", ["food", "travel"]),
    ("broken on arrival", ["shipping"]), ("fast shipping, friendly service", ["service", "shipping"]),
    ("the cat sleeps in the sun", []),
]
REGRESSION = [
    ("wonderful music, superb service", 4.5), ("terrible service and cold food", -3.0), ("it was fine", 0.25),
    ("i loved every minute of it", 3.75), ("never again, the worst meal", -4.0), ("the book is on the table", 0.0),
    ("best purchase this year", 5.0), ("disappointing and far too expensive", -2.5), ("an average afternoon", 0.5),
]


def write_data():
    with open(os.path.join(TRAIN, "multilabel.jsonl"), "w") as f:
        for text, labels in MULTILABEL:
            f.write(json.dumps({"text": text, "label": labels}) + "\n")
    with open(os.path.join(TRAIN, "regression.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(REGRESSION)


def read_jsonl(name):
    with open(os.path.join(TRAIN, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def sequence_task(task, model_dir, data, texts, targets, max_length):
    tok = AutoTokenizer.from_pretrained(os.path.join(FX, "bert", model_dir))
    enc = tok(texts, truncation=True, max_length=max_length)
    feats = [{"ids": ids, "label": t} for ids, t in zip(enc["input_ids"], targets)]
    return {"task": task, "model": model_dir, "data": data, "max_length": max_length}, feats


def token_task(max_length):
    rows = read_jsonl("ner.jsonl")
    labels = sorted({t for r in rows for t in r["ner_tags"]})
    tok = AutoTokenizer.from_pretrained(os.path.join(FX, "bert", "tokencls"))
    enc = tok([r["tokens"] for r in rows], is_split_into_words=True, truncation=True, max_length=max_length)
    feats = []
    for i, r in enumerate(rows):
        prev, tags = None, []
        for w in enc.word_ids(i):  # run_ner with label_all_tokens=False
            tags.append(-100 if w is None or w == prev else labels.index(r["ner_tags"][w]))
            prev = w
        feats.append({"ids": enc["input_ids"][i], "label": tags})
    return {"task": "token-classification", "model": "tokencls", "data": "ner.jsonl", "max_length": max_length, "labels": labels}, feats


def qa_task(max_length, stride):
    rows = read_jsonl("qa.jsonl")
    tok = AutoTokenizer.from_pretrained(os.path.join(FX, "bert", "qa"))
    enc = tok([r["question"] for r in rows], [r["context"] for r in rows], truncation="only_second", max_length=max_length,
              stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    feats = []
    for i, ids in enumerate(enc["input_ids"]):  # run_qa's prepare_train_features
        r = rows[enc["overflow_to_sample_mapping"][i]]
        offsets, seq = enc["offset_mapping"][i], enc.sequence_ids(i)
        start_char = r["answers"]["answer_start"][0]
        end_char = start_char + len(r["answers"]["text"][0])
        s = 0
        while seq[s] != 1:
            s += 1
        e = len(ids) - 1
        while seq[e] != 1:
            e -= 1
        if not (offsets[s][0] <= start_char and offsets[e][1] >= end_char):
            start = end = 0
        else:
            while s < len(offsets) and offsets[s][0] <= start_char:
                s += 1
            while offsets[e][1] >= end_char:
                e -= 1
            start, end = s - 1, e + 1
        feats.append({"ids": ids, "tt": enc["token_type_ids"][i], "start": start, "end": end})
    return {"task": "question-answering", "model": "qa", "data": "qa.jsonl", "max_length": max_length, "doc_stride": stride}, feats


def paragraphs(file):
    """fulltune's .txt rows: lines up to a blank line, joined with a newline."""
    out, para = [], []
    for line in open(file, encoding="utf-8").read().split("\n"):
        line = line[:-1] if line.endswith("\r") else line
        if line.strip() == "":
            if para:
                out.append("\n".join(para))
            para = []
        else:
            para.append(line)
    if para:
        out.append("\n".join(para))
    return out


def seed_of(parts):
    """The Trainer's per-feature seed: FNV-1a over the parts joined with commas."""
    h = 0x811C9DC5
    for c in ",".join(str(p) for p in parts):
        h = ((h ^ ord(c)) * 0x01000193) & 0xFFFFFFFF
    return h


def mulberry32(seed):
    """src/data/collate.ts's prng, in uint32 arithmetic."""
    state = [seed & 0xFFFFFFFF]
    M = 0xFFFFFFFF

    def rand():
        state[0] = (state[0] + 0x6D2B79F5) & M
        t = state[0]
        t = ((t ^ (t >> 15)) * (t | 1)) & M
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & M)) & M)) & M
        return ((t ^ (t >> 14)) & M) / 4294967296
    return rand


def mlm_batch(feats, seeds, mask_id, vocab, p=0.15):
    """DataCollatorForLanguageModeling's draws, with the Trainer's generator for each feature."""
    ids, labels = [], []
    for f, s in zip(feats, seeds):
        rand = mulberry32(s)
        x, y = list(f["ids"]), [-100] * len(f["ids"])
        for t, tok in enumerate(f["ids"]):
            if f["special"][t] == 1 or rand() >= p:
                continue
            y[t] = tok
            r = rand()
            if r < 0.8:
                x[t] = mask_id
            elif r < 0.9:
                x[t] = int(rand() * vocab)
        ids.append(x)
        labels.append(y)
    return ids, labels


def mlm_task(block, seed=42):
    """masked-lm on docs.txt with BERT's masked-LM fixture: blocks of `block` tokens (the last kept), the
    summed loss over all targets divided by their count, for evaluation's draws and the first step's."""
    model_dir = os.path.join(FX, "bert", "mlm")
    tok = AutoTokenizer.from_pretrained(model_dir)
    enc = tok(paragraphs(os.path.join(FX, "lm", "docs.txt")), return_special_tokens_mask=True)
    flat_ids = [i for r in enc["input_ids"] for i in r]
    flat_sp = [s for r in enc["special_tokens_mask"] for s in r]
    feats = [{"ids": flat_ids[i:i + block], "special": flat_sp[i:i + block]} for i in range(0, len(flat_ids), block)]
    model = BertForMaskedLM.from_pretrained(model_dir, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).train()
    vocab = min(len(tok), model.config.vocab_size)

    def loss(epoch):
        ids, labels = mlm_batch(feats, [seed_of([seed, epoch, i]) for i in range(len(feats))], tok.mask_token_id, vocab)
        T = max(len(x) for x in ids)
        batch = {"input_ids": torch.tensor([x + [0] * (T - len(x)) for x in ids]),
                 "attention_mask": torch.tensor([[1] * len(x) + [0] * (T - len(x)) for x in ids])}
        y = torch.tensor([l + [-100] * (T - len(l)) for l in labels])
        with torch.no_grad():
            logits = model(**batch).logits
        return torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1)).item()
    spec = {"task": "masked-lm", "model": "mlm", "data": "../lm/docs.txt", "max_length": block, "labels": [],
            "batch_size": len(feats) // 2 + 1, "features": [{"ids": f["ids"]} for f in feats],
            # evaluation draws with epoch -1, the first training step with epoch 0
            "loss": loss(-1), "train_loss": loss(0)}
    return spec


def reference_loss(spec, feats):
    T = max(len(f["ids"]) for f in feats)
    pad = lambda xs, v: [x + [v] * (T - len(x)) for x in xs]  # noqa: E731
    batch = {
        "input_ids": torch.tensor(pad([f["ids"] for f in feats], 0)),
        "attention_mask": torch.tensor(pad([[1] * len(f["ids"]) for f in feats], 0)),
        "token_type_ids": torch.tensor(pad([f.get("tt", [0] * len(f["ids"])) for f in feats], 0)),
    }
    task = spec["task"]
    if task == "question-answering":
        cls = BertForQuestionAnswering
        batch["start_positions"] = torch.tensor([f["start"] for f in feats])
        batch["end_positions"] = torch.tensor([f["end"] for f in feats])
    elif task == "token-classification":
        cls = BertForTokenClassification
        batch["labels"] = torch.tensor(pad([f["label"] for f in feats], -100))
    else:
        cls = BertForSequenceClassification
        dtype = torch.int64 if task == "sequence-classification" else torch.float32
        batch["labels"] = torch.tensor([f["label"] for f in feats], dtype=dtype)
    model = cls.from_pretrained(os.path.join(FX, "bert", spec["model"]), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).train()
    want = {"sequence-classification": "single_label_classification", "multi-label": "multi_label_classification", "regression": "regression"}
    if task in want:
        model.config.problem_type = want[task]
    with torch.no_grad():
        return model(**batch).loss.item()


def main():
    write_data()
    with open(os.path.join(TRAIN, "tiny.csv")) as f:
        tiny = list(csv.DictReader(f))
    seq_labels = sorted({r["label"] for r in tiny})
    ml_labels = sorted({l for _, ls in MULTILABEL for l in ls})
    cases = [
        sequence_task("sequence-classification", "seqcls", "tiny.csv", [r["text"] for r in tiny],
                      [seq_labels.index(r["label"]) for r in tiny], 32),
        sequence_task("multi-label", "seqcls-multilabel", "multilabel.jsonl", [t for t, _ in MULTILABEL],
                      [[1.0 if l in ls else 0.0 for l in ml_labels] for _, ls in MULTILABEL], 32),
        sequence_task("regression", "seqcls-regression", "regression.csv", [t for t, _ in REGRESSION], [v for _, v in REGRESSION], 32),
        token_task(32),
        qa_task(40, 8),
    ]
    cases[0][0]["labels"] = seq_labels
    cases[1][0]["labels"] = ml_labels
    cases[2][0]["labels"] = []
    cases[4][0]["labels"] = []
    out = []
    # causal-lm: the packed blocks of test/fixtures/lm/docs.txt and their loss, from gen_lm_fixtures.py
    with open(os.path.join(FX, "lm", "expected.json")) as f:
        lm_all = json.load(f)
    lm = lm_all["causal_lm"]
    lm_feats = [{"ids": b["ids"], "label": b["label"]} for b in lm["features"]]
    lm_case = {"task": "causal-lm", "model": "../lm/llama", "data": "../lm/docs.txt", "max_length": lm["block_size"], "labels": [],
               "batch_size": len(lm_feats) // 2 + 1, "features": lm_feats, "loss": lm["loss"]}
    sft = lm_all["sft"]
    sft_case = {"task": "sft", "model": "../lm/llama", "data": "../lm/chat.jsonl", "max_length": sft["max_length"], "labels": [],
                "batch_size": len(sft["chat"]) // 2 + 1, "features": sft["chat"], "loss": sft["chat_loss"]}
    for spec, feats in cases:
        n = len(feats)
        # two micro-batches of unequal size: per-micro-batch averaging would change the loss
        spec["batch_size"] = n // 2 + 1
        spec["features"] = feats
        spec["loss"] = reference_loss(spec, feats)
        out.append(spec)
        print(spec["task"], n, "features, loss", spec["loss"])
    out.append(lm_case)
    out.append(sft_case)
    mlm_case = mlm_task(32)
    out.append(mlm_case)
    print("masked-lm", len(mlm_case["features"]), "features, loss", mlm_case["loss"], "first step", mlm_case["train_loss"])
    print("causal-lm", len(lm_feats), "features, loss", lm_case["loss"])
    with open(os.path.join(TRAIN, "task_losses.json"), "w") as f:
        json.dump({"generator": "scripts/gen_task_loss_fixtures.py", "torch": torch.__version__, "cases": out}, f)


if __name__ == "__main__":
    main()
