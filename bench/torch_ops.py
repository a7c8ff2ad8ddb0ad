"""PyTorch side of bench/ops.ts: the same workloads through PyTorch's Python API.
Prints one JSON object of seconds per iteration. Args: threads rounds."""
import json
import sys
import time

import torch
import torch.nn.functional as F

threads = int(sys.argv[1])
torch.set_num_threads(threads)


def per_iter(fn, iters):
    fn()  # warm up
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


a, b = torch.randn(4, 4), torch.randn(4, 4)
m1, m2 = torch.randn(64, 64), torch.randn(64, 64)


def add():
    for _ in range(1000):
        c = a + b


def matmul():
    for _ in range(1000):
        c = m1 @ m2


torch.manual_seed(0)
x, y = torch.randn(64, 256), torch.randint(0, 10, (64,))
w1 = (torch.randn(512, 256) * 0.05).requires_grad_()
b1 = torch.zeros(512, requires_grad=True)
w2 = (torch.randn(10, 512) * 0.05).requires_grad_()
b2 = torch.zeros(10, requires_grad=True)
opt = torch.optim.AdamW([w1, b1, w2, b2], lr=1e-3, fused=True)


def mlp_step():
    opt.zero_grad()
    loss = F.cross_entropy(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([w1, b1, w2, b2], 1.0)
    opt.step()


out = {
    "add_4x4": per_iter(add, 200) / 1000,
    "matmul_64x64": per_iter(matmul, 20) / 1000,
    "mlp_train_step": per_iter(mlp_step, 300),
}
print(json.dumps(out))
