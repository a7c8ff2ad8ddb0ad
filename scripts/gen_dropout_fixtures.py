"""Golden values for dropout in train mode: test/fixtures/dropout_train.json.

With dropout on, transformers' BertForSequenceClassification (test/fixtures/bert/seqcls: hidden
and attention-probs dropout 0.1, classifier dropout = hidden) takes two training forwards and
backwards right after torch.manual_seed(SEED), on the inputs of test/fixtures/bert/expected.json
(padded rows: the attention mask matters). fulltune with libtorch's dropout draws from the same
generator in the same order, so its logits, loss and gradients must equal these: that checks the
placement and scale of every dropout, including the one inside scaled dot product attention.

Run: python scripts/gen_dropout_fixtures.py (torch 2.13 CPU, transformers 5).
"""
import json
import os

import torch
from transformers import BertForSequenceClassification

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FX = os.path.join(ROOT, "test", "fixtures")
SEED = 1234

torch.set_num_threads(1)
inputs = json.load(open(os.path.join(FX, "bert", "expected.json")))["inputs"]
ids = torch.tensor(inputs["input_ids"])
mask = torch.tensor(inputs["attention_mask"])
types = torch.tensor(inputs["token_type_ids"])
labels = torch.arange(ids.shape[0]) % 3

model = BertForSequenceClassification.from_pretrained(os.path.join(FX, "bert", "seqcls"), attn_implementation="sdpa").train()
torch.manual_seed(SEED)
steps = []
for _ in range(2):
    model.zero_grad()
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)
    out.loss.backward()
    grads = {k: p.grad for k, p in model.named_parameters()}
    steps.append({
        "logits": out.logits.detach().flatten().tolist(),
        "loss": out.loss.item(),
        "grad_sums": {k: g.abs().sum().item() for k, g in grads.items()},
    })
# eval mode: no draw at all
model.eval()
with torch.no_grad():
    eval_logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits.flatten().tolist()

with open(os.path.join(FX, "dropout_train.json"), "w") as f:
    json.dump({"torch": torch.__version__, "seed": SEED, "labels": labels.tolist(), "steps": steps, "eval_logits": eval_logits}, f)
    f.write("\n")
print("wrote test/fixtures/dropout_train.json")
