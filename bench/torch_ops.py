"""PyTorch side of bench/ops.ts: the same workloads through PyTorch's Python API.
Prints one JSON object of seconds per iteration. Args: threads floor_lib chunks add_per_chunk
matmul_per_chunk. floor_lib: bench/native_floor.cc built as a shared library, loaded here through
ctypes, so that the C++ floor is timed in this process between the chunks of each op."""
import ctypes
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

threads = int(sys.argv[1])
torch.set_num_threads(threads)
floor = ctypes.CDLL(sys.argv[2])
floor.ft_floor_op.restype = ctypes.c_double
floor.ft_floor_op.argtypes = [ctypes.c_int, ctypes.c_longlong]
chunks, add_n, mm_n = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])


def per_iter(fn, iters):
    fn()  # warm up
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


a, b = torch.randn(4, 4), torch.randn(4, 4)
m1, m2 = torch.randn(64, 64), torch.randn(64, 64)


def timed(fn, n):
    def run():
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) / n
    return run


def add():
    for _ in range(add_n):
        c = a + b


def matmul():
    for _ in range(mm_n):
        c = m1 @ m2


def paired(op, floor_op):
    """bench/common.ts pairedOverhead: medians of the op, the floor, and their chunk differences"""
    op(), floor_op()
    ops, floors = [], []
    for _ in range(chunks):
        ops.append(op())
        floors.append(floor_op())
    diffs = [o - f for o, f in zip(ops, floors)]
    return statistics.median(ops), statistics.median(floors), statistics.median(diffs)


add_op, add_floor, add_over = paired(timed(add, add_n), lambda: floor.ft_floor_op(0, add_n))
mm_op, mm_floor, mm_over = paired(timed(matmul, mm_n), lambda: floor.ft_floor_op(1, mm_n))

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
    "add_4x4": add_op,
    "add_4x4_overhead": add_over,
    "add_4x4_floor": add_floor,
    "matmul_64x64": mm_op,
    "matmul_64x64_overhead": mm_over,
    "matmul_64x64_floor": mm_floor,
    "mlp_train_step": per_iter(mlp_step, 300),
}
print(json.dumps(out))
