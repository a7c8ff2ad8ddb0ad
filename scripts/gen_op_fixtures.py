#!/usr/bin/env python3
"""Golden values for test/ops.test.ts: every tensor op forward and backward, from PyTorch.

Run with the project's Python (torch==2.13.0):  python scripts/gen_op_fixtures.py
Writes test/fixtures/ops.json. Each case names an op that test/ops.test.ts implements with
fulltune; inputs are stored exactly (float32 values as decimal doubles), and the gradient is of
sum(output * w) for a fixed random w, so every element of every gradient is checked.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_num_threads(1)

CASES = []
DT = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64", torch.bool: "bool",
      torch.int32: "int32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def enc(t):
    t = t.detach()
    flat = t.reshape(-1)
    if t.dtype == torch.bool:
        data = [bool(v) for v in flat.tolist()]
    elif t.dtype in (torch.int64, torch.int32):
        data = [int(v) for v in flat.tolist()]
    else:
        data = [float(v) if math.isfinite(v) else str(v) for v in flat.double().tolist()]
    return {"shape": list(t.shape), "dtype": DT[t.dtype], "data": data}


def case(name, inputs, fn, grad=True, const=()):
    """const: indices of float inputs that take no gradient (class weights, masks)."""
    ins = [x.clone().requires_grad_(grad and x.is_floating_point() and i not in const) for i, x in enumerate(inputs)]
    out = fn(*ins)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    entry = {"name": name, "inputs": [enc(x) for x in inputs], "outputs": [enc(o) for o in outs]}
    float_outs = [o for o in outs if o.is_floating_point() and o.requires_grad]
    if grad and float_outs:
        ws = [torch.randn(o.shape, dtype=o.dtype) for o in float_outs]
        loss = sum((o * w).sum() for o, w in zip(float_outs, ws))
        loss.backward()
        entry["weights"] = [enc(w) for w in ws]
        entry["grads"] = [enc(x.grad) if isinstance(x, torch.Tensor) and x.grad is not None else None for x in ins]
    CASES.append(entry)


r = lambda *s: torch.randn(*s)
pos = lambda *s: torch.rand(*s) + 0.5

# elementwise, with broadcasting
a, b = r(3, 4), r(4)
case("add", [a, b], lambda x, y: x + y)
case("sub", [a, b], lambda x, y: x - y)
case("mul", [a, r(3, 1)], lambda x, y: x * y)
case("div", [a, pos(3, 4)], lambda x, y: x / y)
case("addScalar", [a], lambda x: x + 2.5)
case("subScalar", [a], lambda x: x - 3)
case("rsub", [a], lambda x: 1 - x)
case("mulScalar", [a], lambda x: x * -1.5)
case("divScalar", [a], lambda x: x / 4)
case("rdiv", [pos(3, 4)], lambda x: 2 / x)
case("pow", [pos(3, 4), r(3, 4)], lambda x, y: x ** y)
case("powScalar", [a], lambda x: x ** 3)
case("maximum", [a, r(3, 4)], lambda x, y: torch.maximum(x, y))
case("minimum", [a, r(3, 4)], lambda x, y: torch.minimum(x, y))
case("neg", [a], lambda x: -x)
case("exp", [a], torch.exp)
case("log", [pos(3, 4)], torch.log)
case("sqrt", [pos(3, 4)], torch.sqrt)
case("rsqrt", [pos(3, 4)], torch.rsqrt)
case("abs", [a], torch.abs)
case("sigmoid", [a], torch.sigmoid)
case("tanh", [a], torch.tanh)
case("relu", [a], torch.relu)
case("silu", [a], F.silu)
case("gelu", [r(5, 6) * 3], lambda x: F.gelu(x))
case("geluTanh", [r(5, 6) * 3], lambda x: F.gelu(x, approximate="tanh"))
case("erf", [a], torch.erf)
case("square", [a], torch.square)
case("reciprocal", [pos(3, 4)], torch.reciprocal)
case("clamp", [a * 2], lambda x: torch.clamp(x, -1, 0.5))
c = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
d = torch.tensor([[1.0, 0.0, 3.0], [2.0, 2.0, 2.0]])
case("eq", [c, d], lambda x, y: x == y, grad=False)
case("ne", [c, d], lambda x, y: x != y, grad=False)
case("lt", [c, d], lambda x, y: x < y, grad=False)
case("le", [c, d], lambda x, y: x <= y, grad=False)
case("gt", [c, d], lambda x, y: x > y, grad=False)
case("ge", [c, d], lambda x, y: x >= y, grad=False)
case("gtScalar", [c], lambda x: x > 1.5, grad=False)
case("eqScalar", [c], lambda x: x == 2, grad=False)
case("where", [r(3, 4) > 0, a, r(3, 4)], lambda m, x, y: torch.where(m, x, y))
case("maskedFill", [a, r(3, 4) > 0], lambda x, m: x.masked_fill(m, -1e4))
case("logicalAnd", [r(3, 4) > 0, r(3, 4) > 0], torch.logical_and, grad=False)
case("logicalNot", [r(3, 4) > 0], torch.logical_not, grad=False)
case("intAddScalar", [torch.tensor([1, 2, 3])], lambda x: x + 2, grad=False)

# matrix products
case("matmul2d", [r(3, 5), r(5, 4)], torch.matmul)
case("matmulBatched", [r(2, 3, 5), r(5, 4)], torch.matmul)
case("matmulBroadcast", [r(2, 1, 3, 5), r(4, 5, 2)], torch.matmul)
case("bmm", [r(2, 3, 5), r(2, 5, 4)], torch.bmm)
case("linear", [r(2, 3, 5), r(4, 5), r(4)], F.linear)
case("linearNoBias", [r(3, 5), r(4, 5)], lambda x, w: F.linear(x, w))

# nn
case("softmax", [r(3, 7)], lambda x: F.softmax(x, dim=-1))
case("softmaxDim0", [r(3, 7)], lambda x: F.softmax(x, dim=0))
case("logSoftmax", [r(3, 7)], lambda x: F.log_softmax(x, dim=-1))
case("layerNorm", [r(2, 3, 8), r(8), r(8)], lambda x, w, b: F.layer_norm(x, (8,), w, b, 1e-12))
case("layerNormNoAffine", [r(4, 8)], lambda x: F.layer_norm(x, (8,), eps=1e-5))
case("dropoutEval", [a], lambda x: F.dropout(x, 0.5, training=False))
case("dropoutP0", [a], lambda x: F.dropout(x, 0.0, training=True))
torch.manual_seed(7)
case("dropoutSeeded", [r(6, 8)], lambda x: (torch.manual_seed(99), F.dropout(x, 0.3, training=True))[1])
emb_idx = torch.tensor([[0, 2, 1, 2], [3, 0, 0, 4]])
case("embedding", [r(5, 3), emb_idx], lambda w, i: F.embedding(i, w))
case("embeddingPadding", [r(5, 3), emb_idx], lambda w, i: F.embedding(i, w, padding_idx=0))
q, k, v = r(2, 2, 5, 4), r(2, 2, 6, 4), r(2, 2, 6, 4)
case("sdpa", [q, k, v], lambda q, k, v: F.scaled_dot_product_attention(q, k, v))
boolmask = torch.ones(2, 1, 1, 6, dtype=torch.bool)
boolmask[0, :, :, 4:] = False
boolmask[1, :, :, 5:] = False
case("sdpaBoolMask", [q, k, v, boolmask], lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
addmask = torch.zeros(2, 1, 1, 6)
addmask[0, :, :, 3:] = torch.finfo(torch.float32).min
case("sdpaAddMask", [q, k, v, addmask], lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), const=(3,))
qc, kc, vc = r(1, 2, 5, 4), r(1, 2, 5, 4), r(1, 2, 5, 4)
case("sdpaCausal", [qc, kc, vc], lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True))
case("sdpaScale", [q, k, v], lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3))
logits, tgt = r(6, 5), torch.tensor([0, 4, 2, -100, 1, 3])
case("crossEntropy", [logits, tgt], lambda x, t: F.cross_entropy(x, t))
case("crossEntropySum", [logits, tgt], lambda x, t: F.cross_entropy(x, t, reduction="sum"))
case("crossEntropyNone", [logits, tgt], lambda x, t: F.cross_entropy(x, t, reduction="none"))
case("crossEntropySmooth", [logits, tgt], lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1))
case("crossEntropyWeight", [logits, tgt, pos(5)], lambda x, t, w: F.cross_entropy(x, t, weight=w), const=(2,))
case("crossEntropyIgnore", [logits, torch.tensor([0, 4, 2, 3, 1, 3])], lambda x, t: F.cross_entropy(x, t, ignore_index=3))
case("crossEntropy3d", [r(2, 5, 4), torch.tensor([[0, 1, 2, 3], [4, -100, 0, 1]])], lambda x, t: F.cross_entropy(x, t))
case("mseLoss", [a, r(3, 4)], F.mse_loss)
case("mseLossSum", [a, r(3, 4)], lambda x, y: F.mse_loss(x, y, reduction="sum"))
case("bceWithLogits", [a, torch.rand(3, 4).round()], F.binary_cross_entropy_with_logits, const=(1,))
case("bceWithLogitsPosWeight", [a, torch.rand(3, 4).round(), pos(4)],
     lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw), const=(1, 2))

# reductions
m = r(3, 4, 5)
case("sumAll", [m], lambda x: x.sum())
case("sumDim", [m], lambda x: x.sum(1))
case("sumDims", [m], lambda x: x.sum((0, 2), keepdim=True))
case("meanAll", [m], lambda x: x.mean())
case("meanDim", [m], lambda x: x.mean(-1, keepdim=True))
case("maxAll", [m], lambda x: x.max())
case("maxDim", [m], lambda x: tuple(x.max(1)))
case("minDim", [m], lambda x: tuple(x.min(2)))
case("amax", [m], lambda x: x.amax((1, 2)))
case("argmaxAll", [m], lambda x: x.argmax(), grad=False)
case("argmaxDim", [m], lambda x: x.argmax(-1), grad=False)
case("norm2", [m], lambda x: torch.linalg.vector_norm(x))
case("norm1Dim", [m], lambda x: torch.linalg.vector_norm(x, 1, dim=1))
case("normInf", [m], lambda x: torch.linalg.vector_norm(x, float("inf")))

# shape and indexing
case("reshape", [m], lambda x: x.reshape(4, -1))
case("view", [m], lambda x: x.view(12, 5))
case("permute", [m], lambda x: x.permute(2, 0, 1))
case("transpose", [m], lambda x: x.transpose(0, 2))
case("contiguous", [m], lambda x: x.transpose(1, 2).contiguous())
case("expand", [r(3, 1)], lambda x: x.expand(3, 4))
case("flatten", [m], lambda x: x.flatten(1))
case("narrow", [m], lambda x: x.narrow(1, 1, 2))
case("slice", [m], lambda x: x[:, :, 1:5:2])
case("sliceNeg", [m], lambda x: x[-2:])
case("select", [m], lambda x: x[:, 2])
case("indexSelect", [m, torch.tensor([2, 0, 2])], lambda x, i: x.index_select(1, i))
case("gather", [m, torch.randint(0, 5, (3, 4, 2))], lambda x, i: x.gather(2, i))
case("cat", [r(2, 3), r(4, 3)], lambda x, y: torch.cat([x, y], 0))
case("stack", [r(2, 3), r(2, 3)], lambda x, y: torch.stack([x, y], 1))
case("split", [r(7, 2)], lambda x: tuple(torch.split(x, 3, 0)))
case("splitSizes", [r(2, 7)], lambda x: tuple(torch.split(x, [2, 5], 1)))
case("squeeze", [r(3, 1, 4, 1)], lambda x: x.squeeze())
case("squeezeDim", [r(3, 1, 4, 1)], lambda x: x.squeeze(1))
case("unsqueeze", [m], lambda x: x.unsqueeze(1))
case("toFloat64", [a], lambda x: x.to(torch.float64))
case("toInt64", [a * 3], lambda x: x.to(torch.int64), grad=False)
case("toBfloat16", [a], lambda x: x.to(torch.bfloat16).float())
case("toFloat16", [a], lambda x: x.to(torch.float16).float())
case("clone", [a], lambda x: x.clone())

# decoder ops: rotary angles, masks, grouped-query attention, selection for generation
case("sin", [a * 3], torch.sin)
case("cos", [a * 3], torch.cos)
case("cumsum", [m], lambda x: x.cumsum(1))
case("triu", [r(4, 5)], lambda x: x.triu(1))
case("tril", [r(4, 5)], lambda x: x.tril(-1))
case("scatter", [r(3, 5), torch.tensor([[0, 4], [2, 2], [1, 3]]), r(3, 2)], lambda x, i, s: x.scatter(1, i, s))
case("topk", [r(4, 7)], lambda x: tuple(torch.topk(x, 3, dim=-1)))
case("topkSmallest", [r(4, 7)], lambda x: tuple(torch.topk(x, 2, dim=0, largest=False)))
case("sort", [r(3, 6)], lambda x: tuple(torch.sort(x, dim=-1, descending=True, stable=True)))
qg, kg, vg = r(2, 4, 5, 3), r(2, 2, 5, 3), r(2, 2, 5, 3)
case("sdpaGqaCausal", [qg, kg, vg], lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True))
gmask = torch.ones(2, 1, 5, 5, dtype=torch.bool).tril()
gmask[1, :, :, 0] = False
gmask[1, :, 0, 0] = True
case("sdpaGqaMask", [qg, kg, vg, gmask], lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, enable_gqa=True))
def rms_norm_hf(x, w, eps=1e-6):
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(x.dtype)


def rotary_hf(x, cos, sin):
    c, s_ = cos.unsqueeze(1), sin.unsqueeze(1)
    rot = torch.cat((-x[..., x.shape[-1] // 2:], x[..., : x.shape[-1] // 2]), dim=-1)
    return (x * c) + (rot * s_)


case("rmsNorm", [r(2, 5, 8), r(8)], lambda x, w: rms_norm_hf(x, w, 1e-6))
case("applyRotary", [r(2, 3, 5, 8), r(1, 5, 8), r(1, 5, 8)], rotary_hf)
case("linearInOut", [r(2, 3, 5), r(5, 4), r(4)], lambda x, w, b: torch.addmm(b, x.view(-1, 5), w).view(2, 3, 4))
torch.manual_seed(5)
probs = torch.softmax(torch.randn(3, 6), -1)
torch.manual_seed(11)
CASES.append({"name": "multinomialSeed11", "inputs": [enc(probs)], "outputs": [enc(torch.multinomial(probs, 4, replacement=True))]})

# random number generation with a seed: the same streams as torch
torch.manual_seed(42)
CASES.append({"name": "randnSeed42", "inputs": [], "outputs": [enc(torch.randn(3, 5))]})
torch.manual_seed(42)
CASES.append({"name": "randSeed42", "inputs": [], "outputs": [enc(torch.rand(4, 3))]})
torch.manual_seed(42)
CASES.append({"name": "randintSeed42", "inputs": [], "outputs": [enc(torch.randint(0, 10, (8,)))]})
CASES.append({"name": "arange", "inputs": [], "outputs": [enc(torch.arange(2, 11, 3)), enc(torch.arange(0.0, 1.0, 0.25))]})

# few-row products without gradients (a decode step): fulltune's own kernels on an AVX2 CPU; the
# shapes leave tails after the kernels' blocks (16 columns of (in, out), 4 rows of (out, in), 8 of in)
torch.manual_seed(7)
with torch.no_grad():
    case("linearDecode", [r(1, 1, 40), r(37, 40), r(37)], F.linear, grad=False)
    case("linearDecodeNoBias", [r(3, 1, 13), r(21, 13)], F.linear, grad=False)
    case("linearDecode8", [r(8, 1, 384), r(70, 384), r(70)], F.linear, grad=False)
    case("linearInOutDecode", [r(8, 1, 24), r(24, 35), r(35)], lambda x, w, b: torch.addmm(b, x.view(-1, 24), w).view(8, 1, 35), grad=False)
    case("linearInOutDecode5", [r(5, 384), r(384, 48), r(48)], lambda x, w, b: torch.addmm(b, x, w), grad=False)

out = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "ops.json")
with open(out, "w") as f:
    json.dump({"generator": "scripts/gen_op_fixtures.py", "torch": torch.__version__, "cases": CASES}, f)
print(f"wrote {len(CASES)} cases to {os.path.relpath(out)}")
