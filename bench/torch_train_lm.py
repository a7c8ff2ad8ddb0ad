"""Python side of bench/train_lm.ts: a transformers Trainer run of causal-LM training on the same
packed blocks, model and threads as `fulltune train --task causal-lm`.

prepare <dir> <tokenizer dir>: a random Llama (6 layers, hidden 384, 6 heads, 2 key-value heads)
  with that tokenizer in <dir>/model
run <dir> <threads> <max_steps> <blocks.json> [batch]: trains on the blocks fulltune built (ids, positions,
  labels; padding-free packing: position_ids restart per document, no attention mask, the cache
  off so that transformers masks across documents as fulltune does), batch 8, and prints
  {"samples_per_second": ..., "peak_rss_mb": ...} (rank 0 only under torchrun, where the Trainer runs
  DistributedDataParallel over Gloo and the batch is per process)
"""
import json
import os
import sys



import torch
from bench_util import peak_rss_mb
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments
from transformers.utils import logging

logging.set_verbosity_error()
cmd, d = sys.argv[1], sys.argv[2]

if cmd == "prepare":
    tok = AutoTokenizer.from_pretrained(sys.argv[3])
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=384, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=6,
                      num_key_value_heads=2, max_position_embeddings=512, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    out = os.path.join(d, "model")
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    print("{}")
else:
    threads, max_steps, blocks_file = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    batch = int(sys.argv[6]) if len(sys.argv) > 6 else 8
    torch.set_num_threads(threads)
    blocks = json.load(open(blocks_file))
    model = LlamaForCausalLM.from_pretrained(os.path.join(d, "model"))
    model.config.use_cache = False

    def collate(rows):
        T = max(len(r["ids"]) for r in rows)
        pad = lambda r, k, v: r[k] + [v] * (T - len(r[k]))  # noqa: E731
        return {"input_ids": torch.tensor([pad(r, "ids", 0) for r in rows]),
                "position_ids": torch.tensor([r["pos"] + list(range(T - len(r["ids"]))) for r in rows]),
                "labels": torch.tensor([pad(r, "label", -100) for r in rows])}
    args = TrainingArguments(output_dir=os.path.join(d, "hf-out"), per_device_train_batch_size=batch, max_steps=max_steps, learning_rate=5e-4,
                             warmup_steps=4, weight_decay=0.01, logging_strategy="no", save_strategy="no", report_to=[],
                             dataloader_num_workers=0, use_cpu=True, seed=42, disable_tqdm=True, remove_unused_columns=False)
    trainer = Trainer(model=model, args=args, train_dataset=blocks, data_collator=collate)
    out = trainer.train()
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"samples_per_second": out.metrics["train_samples_per_second"],
                          "peak_rss_mb": peak_rss_mb()}))
