#!/usr/bin/env python3
"""Golden values for test/encoders.test.ts: the encoder families beyond BERT (RoBERTa, XLM-RoBERTa,
DistilBERT, ELECTRA, DeBERTa-v2/v3, ModernBERT), each with its own tokenizer trained here on the
shared corpus of scripts/gen_bert_fixtures.py, and small random-initialised checkpoints for every
head.

Run with the project's Python (torch==2.13.0, transformers 5.x, tokenizers):
    python scripts/gen_encoder_fixtures.py
Writes test/fixtures/encoders/:
  <family>/tokenizer/          tokenizer.json + tokenizer_config.json saved by transformers
  <family>/<head>/             config.json + model.safetensors (save_pretrained)
  <family>/<head>.grads.safetensors   every parameter's gradient in train mode (dropout 0)
  expected.json                per family: tokenizer cases (ids, types, masks, offsets, overflow),
                               the model inputs, and per head eval logits and loss, train loss
initializer_range is raised (0.1) so that different inputs give measurably different logits.
"""
import base64
import json
import os
import shutil
import sys

os.environ["RAYON_NUM_THREADS"] = "1"  # the Unigram trainer's sums are otherwise ordered by thread timing

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import ByteLevelBPETokenizer, SentencePieceUnigramTokenizer, Tokenizer, models, pre_tokenizers, processors, decoders, trainers
import transformers
from transformers import (AutoTokenizer, PreTrainedTokenizerFast, RobertaTokenizer, XLMRobertaTokenizer, DebertaV2Tokenizer,
                          RobertaConfig, RobertaModel, RobertaForSequenceClassification, RobertaForTokenClassification,
                          RobertaForQuestionAnswering, RobertaForMaskedLM,
                          XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaForTokenClassification,
                          XLMRobertaForQuestionAnswering, XLMRobertaForMaskedLM, XLMRobertaModel,
                          DistilBertConfig, DistilBertModel, DistilBertForSequenceClassification, DistilBertForTokenClassification,
                          DistilBertForQuestionAnswering, DistilBertForMaskedLM,
                          ElectraConfig, ElectraModel, ElectraForSequenceClassification, ElectraForTokenClassification,
                          ElectraForQuestionAnswering, ElectraForMaskedLM,
                          DebertaV2Config, DebertaV2Model, DebertaV2ForSequenceClassification, DebertaV2ForTokenClassification,
                          DebertaV2ForQuestionAnswering, DebertaV2ForMaskedLM,
                          ModernBertConfig, ModernBertModel, ModernBertForSequenceClassification, ModernBertForTokenClassification,
                          ModernBertForQuestionAnswering, ModernBertForMaskedLM)

sys.path.insert(0, os.path.dirname(__file__))
from gen_bert_fixtures import CORPUS, TEXTS, PAIRS, LONG_CONTEXT, tok_case  # noqa: E402  the shared corpus

torch.manual_seed(0)
torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "encoders")
BERT_TOKENIZER = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "bert", "tokenizer-json")


def b64(t):
    a = np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32))
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}


def fresh(d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def keep_json(d):
    """Keeps tokenizer.json and tokenizer_config.json alone: the tokenizer.json path is what is tested."""
    for f in os.listdir(d):
        if f not in ("tokenizer.json", "tokenizer_config.json"):
            os.remove(os.path.join(d, f))


def bpe_tokenizer(d):
    """RoBERTa's byte-level BPE, trained on the corpus."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 3, vocab_size=700, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    vocab = bpe.get_vocab()
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in json.loads(bpe.to_str())["model"]["merges"]]
    tok = RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=512)
    tok.save_pretrained(d)
    keep_json(d)
    return AutoTokenizer.from_pretrained(d)


def unigram_vocab(specials):
    """A SentencePiece Unigram vocabulary (piece, score) trained on the corpus, specials first."""
    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(CORPUS * 3, vocab_size=600, special_tokens=specials, unk_token=specials[1] if specials[0] == "[PAD]" else "<unk>")
    # scores rounded (4 decimals) and ties ordered by piece: the trainer's scores of rare pieces
    # differ slightly from run to run (hash-map order), and so did the order of near-equal ones
    vocab = [(p, round(s, 4)) for p, s in json.loads(sp.to_str())["model"]["vocab"]]
    n = len(specials)
    return vocab[:n] + sorted(vocab[n:], key=lambda ps: (-ps[1], ps[0]))


def xlmr_tokenizer(d):
    vocab = unigram_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok = XLMRobertaTokenizer(vocab=vocab, model_max_length=512)
    tok.save_pretrained(d)
    keep_json(d)
    return AutoTokenizer.from_pretrained(d)


def deberta_tokenizer(d):
    """DeBERTa-v2/v3's SentencePiece Unigram ([CLS] a [SEP] b [SEP], token types 0 then 1)."""
    vocab = unigram_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok = DebertaV2Tokenizer(vocab=vocab, unk_id=1, model_max_length=512)
    tok.save_pretrained(d)
    keep_json(d)
    return AutoTokenizer.from_pretrained(d)


def modernbert_tokenizer(d):
    """ModernBERT's kind: byte-level BPE with a [CLS] a [SEP] (b [SEP]) template and no token types."""
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    bpe = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=True)
    bpe.train_from_iterator(CORPUS * 3, vocab_size=700, min_frequency=1, special_tokens=specials)
    t = Tokenizer.from_str(bpe.to_str())
    cls, sep = t.token_to_id("[CLS]"), t.token_to_id("[SEP]")
    t.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                     special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok = PreTrainedTokenizerFast(tokenizer_object=t, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
                                  mask_token="[MASK]", model_input_names=["input_ids", "attention_mask"], model_max_length=512)
    tok.save_pretrained(d)
    keep_json(d)
    return AutoTokenizer.from_pretrained(d)


def wordpiece_tokenizer(cls_name):
    """BERT's WordPiece vocabulary of the BERT fixtures under the family's tokenizer class
    (DistilBertTokenizer returns no token types; ElectraTokenizer does)."""
    def make(d):
        for f in os.listdir(BERT_TOKENIZER):
            shutil.copy(os.path.join(BERT_TOKENIZER, f), d)
        cfg_file = os.path.join(d, "tokenizer_config.json")
        with open(cfg_file) as f:
            cfg = json.load(f)
        cfg["tokenizer_class"] = cls_name
        with open(cfg_file, "w") as f:
            json.dump(cfg, f, indent=2)
        return AutoTokenizer.from_pretrained(d)
    return make


def tokenizer_cases(tok):
    pairs_a, pairs_b = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    return [
        tok_case(tok, "singles", TEXTS),
        tok_case(tok, "pairs", pairs_a, text_pair=pairs_b),
        tok_case(tok, "truncate-longest-first", pairs_a, text_pair=pairs_b, truncation="longest_first", max_length=12),
        # budgets where both texts are cut (odd and even) and where only the longer one is
        *[tok_case(tok, f"truncate-longest-first-{n}", pairs_a, text_pair=pairs_b, truncation="longest_first", max_length=n) for n in (7, 8, 15)],
        tok_case(tok, "pad-longest", TEXTS[:4], padding="longest"),
        tok_case(tok, "overflow-only-second", ["What jumps over the dog?", "Who reads?"], text_pair=[LONG_CONTEXT, LONG_CONTEXT],
                 truncation="only_second", max_length=32, stride=8, return_overflowing_tokens=True, padding="max_length"),
    ]


SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, initializer_range=0.1,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=64)

# family: (tokenizer maker, config maker(vocab, pad id), {head: class})
FAMILIES = {
    "roberta": (bpe_tokenizer, lambda v, tok: RobertaConfig(vocab_size=v, **SMALL, type_vocab_size=1, layer_norm_eps=1e-5,
                                                              pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                                              eos_token_id=tok.eos_token_id),
                {"base": RobertaModel, "seqcls": RobertaForSequenceClassification, "tokencls": RobertaForTokenClassification,
                 "qa": RobertaForQuestionAnswering, "mlm": RobertaForMaskedLM}),
    "xlm-roberta": (xlmr_tokenizer, lambda v, tok: XLMRobertaConfig(vocab_size=v, **SMALL, type_vocab_size=1, layer_norm_eps=1e-5,
                                                                      pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                                                      eos_token_id=tok.eos_token_id),
                    {"base": XLMRobertaModel, "seqcls": XLMRobertaForSequenceClassification, "tokencls": XLMRobertaForTokenClassification,
                     "qa": XLMRobertaForQuestionAnswering, "mlm": XLMRobertaForMaskedLM}),
    "distilbert": (wordpiece_tokenizer("DistilBertTokenizer"), lambda v, tok: DistilBertConfig(vocab_size=v, dim=32, n_layers=2, n_heads=4, hidden_dim=48,
                                                                          initializer_range=0.1, dropout=0.0, attention_dropout=0.0,
                                                                          seq_classif_dropout=0.0, qa_dropout=0.0, max_position_embeddings=64,
                                                                          pad_token_id=tok.pad_token_id),
                   {"base": DistilBertModel, "seqcls": DistilBertForSequenceClassification, "tokencls": DistilBertForTokenClassification,
                    "qa": DistilBertForQuestionAnswering, "mlm": DistilBertForMaskedLM}),
    "electra": (wordpiece_tokenizer("ElectraTokenizer"), lambda v, tok: ElectraConfig(vocab_size=v, embedding_size=24, **SMALL, pad_token_id=tok.pad_token_id),
                {"base": ElectraModel, "seqcls": ElectraForSequenceClassification, "tokencls": ElectraForTokenClassification,
                 "qa": ElectraForQuestionAnswering, "mlm": ElectraForMaskedLM}),
}

# DeBERTa-v3's settings (deberta-v3-base): relative attention with log buckets (8 here, so that
# these short inputs reach the logarithmic part), c2p and p2c with shared keys, layer-normed
# relative embeddings, no absolute positions, no token types, the legacy masked-LM head; and an
# embedding size below the hidden size (embed_proj; the legacy head's transform maps back to it)
DEBERTA_V3 = dict(relative_attention=True, pos_att_type="p2c|c2p", position_buckets=8, max_relative_positions=-1, share_att_key=True,
                  norm_rel_ebd="layer_norm", position_biased_input=False, type_vocab_size=0, layer_norm_eps=1e-7, pooler_dropout=0.0,
                  pooler_hidden_act="gelu", legacy=True, embedding_size=24)
# DeBERTa-v2's other options: separate position projections (share_att_key false), the convolution
# layer, absolute positions and token types, relative distances clamped at max_relative_positions
# without buckets, the non-legacy masked-LM head (which transformers runs only without embed_proj)
DEBERTA_V2 = dict(relative_attention=True, pos_att_type=["c2p", "p2c"], position_buckets=-1, max_relative_positions=6, share_att_key=False,
                  norm_rel_ebd="none", position_biased_input=True, type_vocab_size=2, layer_norm_eps=1e-7, conv_kernel_size=3,
                  conv_act="gelu", pooler_dropout=0.0, pooler_hidden_act="tanh", legacy=False)
DEBERTA_HEADS = {"base": DebertaV2Model, "seqcls": DebertaV2ForSequenceClassification, "tokencls": DebertaV2ForTokenClassification,
                 "qa": DebertaV2ForQuestionAnswering, "mlm": DebertaV2ForMaskedLM}
FAMILIES["deberta-v3"] = (deberta_tokenizer, lambda v, tok: DebertaV2Config(vocab_size=v, **SMALL, **DEBERTA_V3, pad_token_id=tok.pad_token_id),
                          DEBERTA_HEADS)
FAMILIES["deberta-v2"] = (deberta_tokenizer, lambda v, tok: DebertaV2Config(vocab_size=v, **SMALL, **DEBERTA_V2, pad_token_id=tok.pad_token_id),
                          DEBERTA_HEADS)

# ModernBERT: alternating global and local (sliding-window) layers, separate rotary thetas, GeGLU,
# no biases; a local window (4, so +-2 tokens) much shorter than the inputs. The second variant:
# mean pooling, biases on, and the older config fields (global_attn_every_n_layers, *_rope_theta).
MODERNBERT = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=40, initializer_range=0.1,
                  max_position_embeddings=64, local_attention=4, attention_dropout=0.0, mlp_dropout=0.0, embedding_dropout=0.0,
                  classifier_dropout=0.0)
MODERNBERT_HEADS = {"base": ModernBertModel, "seqcls": ModernBertForSequenceClassification, "tokencls": ModernBertForTokenClassification,
                    "qa": ModernBertForQuestionAnswering, "mlm": ModernBertForMaskedLM}


def modernbert_config(v, tok, **kw):
    ids = dict(pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id, sep_token_id=tok.sep_token_id,
               bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    return ModernBertConfig(vocab_size=v, **MODERNBERT, **ids, **kw)


FAMILIES["modernbert"] = (modernbert_tokenizer, lambda v, tok: modernbert_config(
    v, tok, layer_types=["full_attention", "sliding_attention", "sliding_attention"],
    rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 160000.0}, "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
    MODERNBERT_HEADS)
FAMILIES["modernbert-mean"] = (modernbert_tokenizer, lambda v, tok: modernbert_config(
    v, tok, global_attn_every_n_layers=2, global_rope_theta=80000.0, local_rope_theta=5000.0, classifier_pooling="mean",
    attention_bias=True, mlp_bias=True, norm_bias=True, classifier_bias=True), MODERNBERT_HEADS)

# a padded batch of three texts with unequal lengths, and pairs for the families with token types
MODEL_TEXTS = ["The quick brown fox jumps over the lazy dog.", "Café déjà vu!", "Fine-tuning adapts a pretrained transformer to a new task."]
MODEL_PAIRS = ["What does the fox do?", "Where?", "How?"]


def model_inputs(tok):
    enc = tok(MODEL_PAIRS, MODEL_TEXTS, padding="longest", return_tensors="pt")
    out = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    B, T = out["input_ids"].shape
    assert (out["attention_mask"] == 0).any(), "the batch has no padding"
    g = torch.Generator().manual_seed(1)
    real = out["attention_mask"].bool()
    labels = {
        "seqcls": torch.tensor([0, 2, 1]),
        "tokencls": torch.randint(0, 3, (B, T), generator=g).masked_fill(~real, -100),
        # a start/end pair per row, the last one beyond the sequence (ignored, as transformers clamps it)
        "qa": (torch.tensor([1, 2, T + 3]), torch.tensor([4, 3, T + 5])),
        # about a third of the real tokens are targets
        "mlm": out["input_ids"].masked_fill((torch.rand((B, T), generator=g) > 0.35) | ~real, -100),
    }
    return out, labels


def run_head(model, head, inputs, labels):
    kw = dict(inputs)
    if head == "qa":
        kw["start_positions"], kw["end_positions"] = labels["qa"]
    elif head != "base":
        kw["labels"] = labels[head]
    out = model(**kw)
    if head == "base":
        # a fixed, uneven weighting of the hidden states (a plain sum of squares is constant after a final LayerNorm)
        h = out.last_hidden_state
        w = torch.arange(h.shape[1] * h.shape[2], dtype=torch.float32).sin().view(h.shape[1], h.shape[2])
        return (h * w).sum() * 1e-2, {"last_hidden_state": h}
    if head == "qa":
        return out.loss, {"start_logits": out.start_logits, "end_logits": out.end_logits}
    return out.loss, {"logits": out.logits}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    expected = {"generator": "scripts/gen_encoder_fixtures.py", "transformers": transformers.__version__, "torch": torch.__version__,
                "families": {}}
    only = set(sys.argv[1:])
    for fam, (make_tok, make_cfg, heads) in FAMILIES.items():
        if only and fam not in only:
            continue
        fdir = fresh(os.path.join(OUT, fam))
        tok = make_tok(fresh(os.path.join(fdir, "tokenizer")))
        ids = tok("the quick brown fox")["input_ids"]
        assert tok.unk_token_id not in ids and len(ids) > 3, f"{fam}: tokenizer {ids}"
        inputs, labels = model_inputs(tok)
        entry = {"tokenizer": tokenizer_cases(tok), "inputs": {k: v.tolist() for k, v in inputs.items()},
                 "labels": {"seqcls": labels["seqcls"].tolist(), "tokencls": labels["tokencls"].tolist(),
                            "qa_start": labels["qa"][0].tolist(), "qa_end": labels["qa"][1].tolist(), "mlm": labels["mlm"].tolist()},
                 "heads": {}}
        for head, cls in heads.items():
            cfg = make_cfg(len(tok), tok)
            if head in ("seqcls", "tokencls"):
                cfg.num_labels = 3
            attn = "eager" if fam.startswith("deberta") else "sdpa"  # DeBERTa has no SDPA path in transformers
            cfg._attn_implementation = attn
            torch.manual_seed(0)
            model = cls(cfg).float()
            d = os.path.join(fdir, head)
            model.save_pretrained(d, safe_serialization=True)
            model = cls.from_pretrained(d, attn_implementation=attn).float()
            model.eval()
            with torch.no_grad():
                loss, outs = run_head(model, head, inputs, labels)
            h = {"outputs": {k: b64(v) for k, v in outs.items()}, "loss": loss.item()}
            model.train()  # dropout is 0: train mode differs from eval mode only where a family says so
            model.zero_grad()
            loss, _ = run_head(model, head, inputs, labels)
            loss.backward()
            h["train_loss"] = loss.item()
            if fam == "modernbert" and head == "mlm":
                # sparse_prediction: logits only at the labelled positions
                model.eval()
                model.config.sparse_prediction = True
                model.sparse_prediction = True
                with torch.no_grad():
                    loss, outs = run_head(model, head, inputs, labels)
                h["sparse"] = {"logits": b64(outs["logits"]), "loss": loss.item()}
                model.config.sparse_prediction = False
                model.sparse_prediction = False
                model.train()
            if fam in ("deberta-v3", "modernbert") and head == "base":
                # bfloat16 weights and compute (from_pretrained(dtype=bfloat16)), eval mode
                bf = cls.from_pretrained(d, attn_implementation=attn, dtype=torch.bfloat16).eval()
                with torch.no_grad():
                    h["bf16"] = {"last_hidden_state": b64(bf(**inputs).last_hidden_state.float())}
            if fam.startswith("deberta") and head == "base":
                # a short batch, whose relative distances reach only part of the relative embedding table
                with torch.no_grad():
                    short = {k: v[:, :5] for k, v in inputs.items()}
                    h["short"] = {"inputs": {k: v.tolist() for k, v in short.items()}, "last_hidden_state": b64(model.eval()(**short).last_hidden_state)}
                model.train()
            if fam.startswith("deberta") and head == "seqcls":
                # DeBERTa's own losses while problem_type is unset: soft targets, and rows with a negative label left out
                model.eval()
                with torch.no_grad():
                    soft = torch.tensor([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.1, 0.1, 0.8]])
                    h["soft_labels"] = soft.tolist()
                    h["soft_loss"] = model(**inputs, labels=soft).loss.item()
                    h["partial_labels"] = [2, -1, 0]
                    h["partial_loss"] = model(**inputs, labels=torch.tensor(h["partial_labels"])).loss.item()
                assert model.config.problem_type is None
                model.train()
            h["params"] = [k for k, _ in model.named_parameters()]
            save_file({k: p.grad.detach().contiguous() for k, p in model.named_parameters() if p.grad is not None},
                      os.path.join(fdir, f"{head}.grads.safetensors"))
            entry["heads"][head] = h
            print(fam, head, "loss", h["loss"])
        expected["families"][fam] = entry
    # DeBERTa-v3's relative positions at its real settings (256 buckets, 512 positions) over 700
    # tokens: row 0 and column 0 hold every distance of either sign
    from transformers.models.deberta_v2.modeling_deberta_v2 import build_relative_position
    q = torch.zeros(1, 700, 1)
    rel = build_relative_position(q, q, bucket_size=256, max_position=512)[0]
    expected["deberta_relative_positions"] = {"T": 700, "buckets": 256, "max_position": 512, "row0": rel[0].tolist(), "col0": rel[:, 0].tolist()}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, ensure_ascii=False)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
