#!/usr/bin/env python3
"""Golden trajectory for test/optim.test.ts: a 2-layer MLP trained with torch.optim.AdamW
(fused, as fulltune's native step) and clip_grad_norm_, and with SGD + Nesterov momentum.

Run:  python scripts/gen_mlp_fixture.py   -> test/fixtures/mlp.json
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
X = torch.randn(32, 6)
y = torch.randint(0, 3, (32,))
init = {
    "w1": torch.randn(16, 6) * 0.5, "b1": torch.randn(16) * 0.1,
    "w2": torch.randn(3, 16) * 0.5, "b2": torch.randn(3) * 0.1,
}


def forward(p):
    h = torch.tanh(F.linear(X, p["w1"], p["b1"]))
    return F.cross_entropy(F.linear(h, p["w2"], p["b2"]), y)


def run(make_opt, steps, clip):
    p = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    # two groups as a Trainer makes them: weights decayed, biases not
    opt = make_opt([{"params": [p["w1"], p["w2"]]}, {"params": [p["b1"], p["b2"]], "weight_decay": 0.0}])
    losses, norms = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = forward(p)
        loss.backward()
        losses.append(loss.item())
        if clip is not None:
            norms.append(torch.nn.utils.clip_grad_norm_(list(p.values()), clip).item())
        opt.step()
    return {"losses": losses, "norms": norms, "final": {k: v.detach().reshape(-1).tolist() for k, v in p.items()}}


p0 = {k: v.clone().requires_grad_(True) for k, v in init.items()}
loss0 = forward(p0)
loss0.backward()

out = {
    "generator": "scripts/gen_mlp_fixture.py",
    "torch": torch.__version__,
    "X": {"shape": list(X.shape), "data": X.reshape(-1).tolist()},
    "y": y.tolist(),
    "init": {k: {"shape": list(v.shape), "data": v.reshape(-1).tolist()} for k, v in init.items()},
    "loss0": loss0.item(),
    "grads0": {k: v.grad.reshape(-1).tolist() for k, v in p0.items()},
    "adamw": run(lambda g: torch.optim.AdamW(g, lr=1e-2, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05, fused=True), 300, 1.0),
    "sgd": run(lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3), 100, None),
}
path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "mlp.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", os.path.relpath(path))
