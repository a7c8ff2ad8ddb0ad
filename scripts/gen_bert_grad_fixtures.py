#!/usr/bin/env python3
"""Every parameter's gradient, element by element, for test/bert.test.ts.

Run:  python scripts/gen_bert_grad_fixtures.py   (torch==2.13.0, transformers, safetensors)
      after scripts/gen_bert_fixtures.py, whose checkpoints, inputs and labels it reuses.
Writes test/fixtures/bert/grads.safetensors: for each head with labels, in train mode with
dropout off, the float32 gradient of the loss with respect to every parameter, keyed
"<head>:<parameter name>". The word embeddings' gradient is zero outside the rows of the tokens
in the batch (the position embeddings' outside the batch's length), so of an embedding table
only the non-zero rows are stored (key "<head>:<name>") with their row numbers
("<head>:<name>:rows", int64); the test checks that every other row is exactly zero. Where the
word embeddings are tied to the MLM decoder the gradient is dense and stored whole.
"""
import json
import os

import torch
from safetensors.torch import save_file
from transformers import (BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
                          BertForTokenClassification)

torch.set_num_threads(1)
FX = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "bert")
HEADS = {
    "seqcls": BertForSequenceClassification,
    "seqcls-multilabel": BertForSequenceClassification,
    "seqcls-regression": BertForSequenceClassification,
    "tokencls": BertForTokenClassification,
    "qa": BertForQuestionAnswering,
    "mlm": BertForMaskedLM,
}


def main():
    expected = json.load(open(os.path.join(FX, "expected.json")))
    inputs = {k: torch.tensor(v) for k, v in expected["inputs"].items()}
    out = {}
    for name, cls in HEADS.items():
        fx = expected["models"][name]
        labels = {k: torch.tensor(v, dtype=torch.float32 if name in ("seqcls-multilabel", "seqcls-regression") else torch.int64)
                  for k, v in fx["labels"].items()}
        model = cls.from_pretrained(os.path.join(FX, name), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).train()
        loss = model(**inputs, **labels).loss
        loss.backward()
        # the same forward as gen_bert_fixtures.py's: its loss must come out again
        assert abs(loss.item() - fx["train"]["loss"]) <= 1e-6 * abs(fx["train"]["loss"]), (name, loss.item(), fx["train"]["loss"])
        for pname, p in model.named_parameters():
            g = p.grad.detach().float().contiguous()
            if pname.endswith("embeddings.weight"):
                rows = g.abs().sum(1).nonzero().flatten()
                if len(rows) < g.shape[0] // 2:
                    out[f"{name}:{pname}:rows"] = rows.to(torch.int64).contiguous()
                    g = g[rows].contiguous()
            out[f"{name}:{pname}"] = g
    save_file(out, os.path.join(FX, "grads.safetensors"), metadata={"generator": "scripts/gen_bert_grad_fixtures.py", "torch": torch.__version__})
    print("wrote", os.path.relpath(os.path.join(FX, "grads.safetensors")), len(out), "tensors")


if __name__ == "__main__":
    main()
