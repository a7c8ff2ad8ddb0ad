"""Golden values of torch.nn.init.trunc_normal_ for test/init.test.ts: for each case, the values
drawn into an empty float32 tensor right after torch.manual_seed(seed). torch 2.13 draws by
rejection (normal draws when the window holds more than 0.3 of the mass, uniform proposals
otherwise): both ways are covered.

Writes test/fixtures/init/trunc_normal.json. Run with the torch==2.13.0 venv's Python.
"""
import json
import os

import torch

CASES = [
    {"seed": 0, "n": 1000, "mean": 0.0, "std": 0.02, "a": -0.04, "b": 0.04},  # ModernBERT's default cutoff 2
    {"seed": 7, "n": 257, "mean": 0.0, "std": 0.02 / (2 * 22) ** 0.5, "a": -3 * 0.02 / (2 * 22) ** 0.5, "b": 3 * 0.02 / (2 * 22) ** 0.5},
    {"seed": 42, "n": 64, "mean": 0.5, "std": 1.0, "a": -2.0, "b": 2.0},  # torch's defaults, shifted mean
    {"seed": 3, "n": 100, "mean": 0.0, "std": 1.0, "a": 0.5, "b": 3.0},  # a one-sided window (mass 0.307)
    # windows holding at most 0.3 of the mass: torch draws uniform proposals and accepts them
    {"seed": 11, "n": 300, "mean": 0.0, "std": 1.0, "a": 1.5, "b": 3.0},
    {"seed": 12, "n": 50, "mean": 1.0, "std": 0.1, "a": -0.5, "b": 0.95},
]

out = []
for c in CASES:
    torch.manual_seed(c["seed"])
    t = torch.empty(c["n"])
    torch.nn.init.trunc_normal_(t, mean=c["mean"], std=c["std"], a=c["a"], b=c["b"])
    out.append({**c, "values": t.tolist()})

path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "init", "trunc_normal.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, "cases": out}, f)
print(f"wrote {len(out)} cases to {os.path.normpath(path)}")
