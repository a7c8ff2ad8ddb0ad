#!/usr/bin/env python3
"""Golden values for the BERT tests, from Python transformers + PyTorch 2.13 + tokenizers.

Run:  python scripts/gen_bert_fixtures.py      (pip install torch==2.13.0 transformers tokenizers safetensors)
Writes test/fixtures/bert/:
  tokenizer-vocab/   vocab.txt + tokenizer_config.json (a WordPiece vocabulary trained here)
  tokenizer-json/    the same tokenizer saved by transformers (tokenizer.json)
  tokenizer-cased/   a cased variant (do_lower_case false, strip_accents false)
  <model>/           small random-initialised checkpoints, one per head, saved by save_pretrained
  seqcls-bin/, seqcls-sharded/   the same weights as pytorch_model.bin and as sharded safetensors
  tokenizer.json     ids, types, masks, offsets and overflow for a test corpus, per setting
  expected.json      inputs, and per model: eval logits and loss; train-mode (dropout off) loss
Then run scripts/gen_bert_grad_fixtures.py for the gradients (grads.safetensors).
"""
import base64
import json
import os
import shutil

import numpy as np
import torch
from tokenizers import BertWordPieceTokenizer
from transformers import (AutoTokenizer, BertConfig, BertForMaskedLM, BertForQuestionAnswering,
                          BertForSequenceClassification, BertForTokenClassification, BertModel)

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "bert")

CORPUS = """
The quick brown fox jumps over the lazy dog while the cat sleeps in the warm afternoon sun.
Natural language processing lets computers read, understand and generate human language.
Fine-tuning a pretrained transformer on labelled data adapts it to a new classification task.
The movie was wonderful, the acting superb and the music unforgettable; I loved every minute.
The service was slow, the food was cold and the waiter forgot our order twice. Terrible!
Tokenizers split text into words and subwords; WordPiece marks continuations with two hashes.
Attention layers compare every token with every other token and mix their representations.
Gradient descent follows the slope of the loss; Adam keeps running averages of gradients.
Café, naïve, résumé, façade, jalapeño, über, smörgåsbord and déjà vu have accents.
北京 上海 东京 首尔 我爱自然语言处理 日本語のテキスト 한국어 텍스트 中文分词测试
Emoji appear in reviews: great product 👍, broken on arrival 😡, shipping was fast 🚀.
Numbers like 3.14159, 2026, 42 and 1,000,000 appear in prices, dates and measurements.
Question answering finds the span of a context paragraph that answers a given question.
Named entities such as Paris, London, Ada Lovelace, Alan Turing and the United Nations.
Batch sizes, learning rates, warmup steps and weight decay are the usual hyperparameters.
The checkpoint stores every weight of the model so that training can stop and resume exactly.
She sells sea shells by the sea shore; the shells she sells are surely sea shells.
A journey of a thousand miles begins with a single step, said the old philosopher.
Reading books, writing code, running experiments and measuring results every single day.
Models learn representations of meaning from large amounts of unlabelled text data.
""".strip().split("\n")

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def b64(a):
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}


def fresh(d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def make_tokenizers():
    wp = BertWordPieceTokenizer(lowercase=True)
    # repeat the corpus so that rarer merges still reach min_frequency
    wp.train_from_iterator(CORPUS * 3, vocab_size=1000, min_frequency=1, special_tokens=SPECIAL, limit_alphabet=500)
    vocab = sorted(wp.get_vocab().items(), key=lambda kv: kv[1])
    d = fresh(os.path.join(OUT, "tokenizer-vocab"))
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(t for t, _ in vocab) + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 64}, f, indent=2)
    cased = fresh(os.path.join(OUT, "tokenizer-cased"))
    shutil.copy(os.path.join(d, "vocab.txt"), cased)
    with open(os.path.join(cased, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": False, "strip_accents": False}, f, indent=2)
    tok = AutoTokenizer.from_pretrained(d)
    j = fresh(os.path.join(OUT, "tokenizer-json"))
    tok.save_pretrained(j)
    for f in os.listdir(j):  # keep tokenizer.json alone, so that the tokenizer.json path is what is tested
        if f not in ("tokenizer.json", "tokenizer_config.json"):
            os.remove(os.path.join(j, f))
    return tok, len(vocab)


TEXTS = [
    "Hello world!",
    "Café déjà vu: naïve façades, RÉSUMÉ and Über.",
    "我爱北京天安门 and 日本語のテキスト mixed with English.",
    "Emoji 👍😡🚀 and flags 🇫🇷 and ❤️ hearts.",
    "control\tchars\nnew\rline\u0000nul\u0007bell\u200bzero-width",
    "a" * 150 + " supercalifragilisticexpialidocious pneumonoultramicroscopic",
    "",
    "   ",
    "The quick brown fox jumps over the lazy dog.",
    "Numbers 3.14159 and 1,000,000 and 2026-11-28.",
]
PAIRS = [
    ["What does the fox do?", "The quick brown fox jumps over the lazy dog while the cat sleeps."],
    ["Where?", "In Paris, London and 北京."],
    ["", "An empty question."],
    ["A question with some words in it", ""],
]
LONG_CONTEXT = " ".join(CORPUS[:6])


def tok_case(tok, name, inputs, **kw):
    enc = tok(inputs, return_offsets_mapping=True, return_special_tokens_mask=True, **kw)
    out = {k: (v if not hasattr(v, "tolist") else v.tolist()) for k, v in enc.items()}
    return {"name": name, "inputs": inputs, "kwargs": kw, "expected": out}


def tokenizer_cases(tok_vocab, tok_json, tok_cased):
    cases = []
    for label, tok in (("vocab", tok_vocab), ("json", tok_json)):
        cases.append({"tokenizer": label, **tok_case(tok, "singles", TEXTS)})
        cases.append({"tokenizer": label, **tok_case(tok, "pairs", [p[0] for p in PAIRS], text_pair=[p[1] for p in PAIRS])})
        cases.append({"tokenizer": label, **tok_case(tok, "truncate-longest-first", [p[0] for p in PAIRS],
                                                     text_pair=[p[1] for p in PAIRS], truncation="longest_first", max_length=12)})
        cases.append({"tokenizer": label, **tok_case(tok, "pad-longest", TEXTS[:4], padding="longest")})
        cases.append({"tokenizer": label, **tok_case(tok, "pad-max-length", TEXTS[:3], padding="max_length", truncation=True, max_length=20)})
        cases.append({"tokenizer": label, **tok_case(tok, "overflow-only-second", ["What jumps over the dog?", "Who reads?"],
                                                     text_pair=[LONG_CONTEXT, LONG_CONTEXT], truncation="only_second",
                                                     max_length=32, stride=8, return_overflowing_tokens=True, padding="max_length")})
    cases.append({"tokenizer": "cased", **tok_case(tok_cased, "singles-cased", TEXTS)})
    return cases


def main():
    tok, vocab_size = make_tokenizers()
    tok_json = AutoTokenizer.from_pretrained(os.path.join(OUT, "tokenizer-json"))
    tok_cased = AutoTokenizer.from_pretrained(os.path.join(OUT, "tokenizer-cased"))
    assert len(tok("hello world")["input_ids"]) > 2 and tok.unk_token_id not in tok("the quick brown fox")["input_ids"]
    with open(os.path.join(OUT, "tokenizer.json"), "w") as f:
        json.dump({"generator": "scripts/gen_bert_fixtures.py", "cases": tokenizer_cases(tok, tok_json, tok_cased)}, f, ensure_ascii=False)

    base = dict(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                max_position_embeddings=64, type_vocab_size=2, initializer_range=0.08, hidden_dropout_prob=0.1,
                attention_probs_dropout_prob=0.1, layer_norm_eps=1e-12, pad_token_id=0)
    # a padded batch: two singles of different lengths and one pair
    batch = tok(["the movie was wonderful and the music unforgettable", "terrible service", ["who reads?", "she reads books every day"]][:2],
                padding=True, return_tensors="pt")
    pair = tok(["the quick brown fox", "who reads?"], ["jumps over the lazy dog", "she reads books every single day"],
               padding=True, return_tensors="pt")
    T = max(batch["input_ids"].shape[1], pair["input_ids"].shape[1])

    def pad_to(x, v):
        return torch.nn.functional.pad(x, (0, T - x.shape[1]), value=v)
    inputs = {
        "input_ids": torch.cat([pad_to(batch["input_ids"], 0), pad_to(pair["input_ids"], 0)]),
        "attention_mask": torch.cat([pad_to(batch["attention_mask"], 0), pad_to(pair["attention_mask"], 0)]),
        "token_type_ids": torch.cat([pad_to(batch["token_type_ids"], 0), pad_to(pair["token_type_ids"], 0)]),
    }
    B = inputs["input_ids"].shape[0]
    assert inputs["attention_mask"].min() == 0, "the batch must have padding"
    g = torch.Generator().manual_seed(5)
    mlm_labels = torch.full((B, T), -100)
    mlm_labels[:, 1:4] = inputs["input_ids"][:, 1:4]
    tok_labels = torch.randint(0, 5, (B, T), generator=g).masked_fill(inputs["attention_mask"] == 0, -100)
    models = {
        "base": (BertModel, {}, None),
        "seqcls": (BertForSequenceClassification, {"id2label": {0: "neg", 1: "neutral", 2: "pos"}, "label2id": {"neg": 0, "neutral": 1, "pos": 2}},
                   {"labels": torch.tensor([2, 0, 1, 2])}),
        "seqcls-multilabel": (BertForSequenceClassification, {"num_labels": 4, "problem_type": "multi_label_classification"},
                              {"labels": torch.tensor([[1., 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0], [0, 1, 0, 1]])}),
        "seqcls-regression": (BertForSequenceClassification, {"num_labels": 1}, {"labels": torch.tensor([0.5, -1.0, 2.0, 0.0])}),
        "tokencls": (BertForTokenClassification, {"num_labels": 5}, {"labels": tok_labels}),
        "qa": (BertForQuestionAnswering, {}, {"start_positions": torch.tensor([1, 2, 3, 40]), "end_positions": torch.tensor([2, 4, 3, 41])}),
        "mlm": (BertForMaskedLM, {}, {"labels": mlm_labels}),
    }
    expected = {"generator": "scripts/gen_bert_fixtures.py", "torch": torch.__version__,
                "inputs": {k: v.tolist() for k, v in inputs.items()}, "models": {}}
    for seed, (name, (cls, extra, labels)) in enumerate(models.items()):
        torch.manual_seed(100 + seed)
        cfg = BertConfig(**base, **extra)
        model = cls(cfg).eval()
        d = fresh(os.path.join(OUT, name))
        model.save_pretrained(d)
        for f in ("vocab.txt", "tokenizer_config.json"):
            shutil.copy(os.path.join(OUT, "tokenizer-vocab", f), d)
        e = {"labels": {k: v.tolist() for k, v in (labels or {}).items()}}
        with torch.no_grad():
            out = model(**inputs, **(labels or {}))
        heads = ["last_hidden_state", "pooler_output"] if name == "base" else (["start_logits", "end_logits"] if name == "qa" else ["logits"])
        e["eval"] = {h: b64(getattr(out, h)) for h in heads}
        if labels:
            e["eval"]["loss"] = out.loss.item()
            # train mode, dropout off, as the TS test loads it (config overrides)
            tm = cls.from_pretrained(d, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).train()
            out = tm(**inputs, **labels)
            out.loss.backward()
            # every parameter's gradient: scripts/gen_bert_grad_fixtures.py (grads.safetensors)
            e["train"] = {"loss": out.loss.item()}
        expected["models"][name] = e
        if name == "seqcls":
            binary = fresh(os.path.join(OUT, "seqcls-bin"))
            shutil.copy(os.path.join(d, "config.json"), binary)
            torch.save(model.state_dict(), os.path.join(binary, "pytorch_model.bin"))
            sharded = fresh(os.path.join(OUT, "seqcls-sharded"))
            model.save_pretrained(sharded, max_shard_size="200KB")
            assert os.path.exists(os.path.join(sharded, "model.safetensors.index.json"))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("wrote", os.path.relpath(OUT), "vocab", vocab_size, "T", T)


if __name__ == "__main__":
    main()
