"""PyTorch + transformers side of bench/decoder.ts.

prepare <dir>: random GPT-2-shaped and Llama-shaped causal LMs (6 layers, hidden 384, 6 heads;
  the Llama with 2 key-value heads; vocabulary 8192) in <dir>/gpt2 and <dir>/llama, and inputs
step <dir> <name> <threads> <iters>: seconds per forward+backward (train mode, causal-LM loss) on
  batch 8 x 256
generate <dir> <name> <threads> <batch>: seconds for greedy generation of 128 new tokens (with the
  cache, no early stop) from prompts of 16 tokens
"""
import json
import os
import sys
import time

import torch
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
from transformers.utils import logging

logging.set_verbosity_error()
cmd, d = sys.argv[1], sys.argv[2]
V = 8192


def inputs():
    return {k: torch.tensor(v) for k, v in json.load(open(os.path.join(d, "inputs.json"))).items()}


if cmd == "prepare":
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=512, n_embd=384, n_layer=6, n_head=6)).save_pretrained(os.path.join(d, "gpt2"))
    LlamaForCausalLM(LlamaConfig(vocab_size=V, hidden_size=384, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=6,
                                 num_key_value_heads=2, max_position_embeddings=512)).save_pretrained(os.path.join(d, "llama"))
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, V, (8, 256), generator=g)
    prompts = torch.randint(10, V, (8, 16), generator=g)
    json.dump({"input_ids": ids.tolist(), "prompts": prompts.tolist()}, open(os.path.join(d, "inputs.json"), "w"))
    print("{}")
else:
    name, threads = sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(os.path.join(d, name))
    x = inputs()
    if cmd == "step":
        iters = int(sys.argv[5])
        model.train()

        def step():
            model.zero_grad(set_to_none=True)
            model(input_ids=x["input_ids"], labels=x["input_ids"], use_cache=False).loss.backward()
        step()
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        print(json.dumps({"step": (time.perf_counter() - t0) / iters}))
    else:
        b = int(sys.argv[5])
        model.eval()
        p = x["prompts"][:b]
        kw = dict(attention_mask=torch.ones_like(p), max_new_tokens=128, min_new_tokens=128, do_sample=False, pad_token_id=0, eos_token_id=None)
        with torch.no_grad():
            model.generate(input_ids=p, **{**kw, "max_new_tokens": 4, "min_new_tokens": 4})
            t0 = time.perf_counter()
            out = model.generate(input_ids=p, **kw)
        assert out.shape[1] == 16 + 128
        print(json.dumps({"generate": time.perf_counter() - t0}))
