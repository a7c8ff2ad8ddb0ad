#!/usr/bin/env python3
"""What transformers does where instruction tuning and loading go silently wrong when done
differently (test/sft-faults.test.ts).

Run with the project's Python (torch==2.13.0, transformers 5.x, tokenizers):
    python scripts/gen_sft_fixtures.py
Writes test/fixtures/sft/:
  tok/                a byte-level BPE tokenizer (trained here on data/sentiment/train.csv and
                      some code) with ChatML tokens, whose ByteLevel post-processor trims offsets
                      (the tokenizers default), and a ChatML template
  tok-untrimmed/      the same tokenizer with trim_offsets false
  tied-llama/, tied-gpt2/
                      random-initialised causal LMs whose config says tie_word_embeddings: true
                      while model.safetensors stores an lm_head.weight of its own (transformers
                      keeps both, untied, with a warning)
  expected.json       - masks: transformers' assistant token masks (return_assistant_tokens_mask,
                        the same template with {% generation %} around each assistant turn) for
                        conversations with indentation, runs of spaces, tabs, blank lines, emoji
                      - special: checkpoint layouts (tokenizer_config.json with or without
                        added_tokens_decoder, special_tokens_map.json, string or AddedToken
                        forms, tokenizer classes) and the special tokens transformers reads
                      - tied: each tied model's logits for fixed input ids
                      - templates, reasoning_masks: a template that drops earlier turns'
                        reasoning (as Qwen3's), with and without {% generation %} blocks, and
                        transformers' masks of multi-turn conversations under it
"""
import copy
import csv
import json
import os
import shutil
import tempfile

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

torch.manual_seed(0)
torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(__file__), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'sft')

# ChatML as Qwen2.5 writes it (no trimming of the content), with and without generation markers
TURN = "'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'"
ASSISTANT_MARKED = "'<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>\\n' }}{% endgeneration %}{{- ''"


def template(marked):
    turn = ("{%- if message['role'] == 'assistant' %}{{- " + ASSISTANT_MARKED + " }}{%- else %}{{- " + TURN + " }}{%- endif %}") if marked else "{{- " + TURN + " }}"
    return ("{%- for message in messages %}" + turn + "{%- endfor %}"
            "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


# Qwen3's way with reasoning: assistant turns after the last user message render their
# reasoning in a <think> block; earlier ones render their answer alone (the text after
# </think>). Turn by turn rendering therefore does not give the whole conversation's text.
REASONING_MARKED = (
    "{%- set ns = namespace(last_user=-1) %}"
    "{%- for m in messages %}{%- if m.role == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}{%- endfor %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- set answer = m.content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- generation %}"
    "{%- if loop.index0 > ns.last_user %}{{- '<think>\\n' + (m.reasoning_content or '') + '\\n</think>\\n\\n' }}{%- endif %}"
    "{{- answer + '<|im_end|>\\n' }}"
    "{%- endgeneration %}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
REASONING = REASONING_MARKED.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")

# Alpaca-style: the generation prompt ends with a space, so the first token of an answer
# ("ĠHello") starts in the template's text
RESPONSE_MARKED = (
    "{%- for m in messages %}"
    "{%- if m.role == 'user' %}{{- '### Instruction: ' + m.content + '\\n' }}"
    "{%- else %}{{- '### Response: ' }}{%- generation %}{{- m.content + eos_token + '\\n' }}{%- endgeneration %}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '### Response: ' }}{%- endif %}"
)
RESPONSE = RESPONSE_MARKED.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")
RESPONSE_CONVERSATIONS = [
    [{'role': 'user', 'content': 'Greet.'}, {'role': 'assistant', 'content': 'Hello there.'}],
    [{'role': 'user', 'content': 'Indent.'}, {'role': 'assistant', 'content': '  two spaces first'}, {'role': 'user', 'content': 'More'}, {'role': 'assistant', 'content': 'x'}],
]

REASONING_CONVERSATIONS = [
    [{'role': 'user', 'content': 'What is 2+2?'}, {'role': 'assistant', 'content': '4.', 'reasoning_content': 'Two and two.'},
     {'role': 'user', 'content': 'And 3+3?'}, {'role': 'assistant', 'content': '6.', 'reasoning_content': 'Three and three.'}],
    [{'role': 'system', 'content': 'Think first.'}, {'role': 'user', 'content': 'Code?'},
     {'role': 'assistant', 'content': '<think>\nplan\n</think>\n\ndef f(x):\n    return x'},
     {'role': 'user', 'content': 'Again'}, {'role': 'assistant', 'content': 'def g():\n    pass', 'reasoning_content': 'same'},
     {'role': 'user', 'content': 'Last'}, {'role': 'assistant', 'content': 'Done.'}],
]

CODE = ['def f(x):\n    return x\n', 'if a:\n        b = 1\n\n    else:\n\treturn  2\n', '  indented  text  with   spaces  ',
        'for i in range(10):\n    print(i)\n\n\n', 'class A:\n    def __init__(self):\n        pass\n']


def corpus():
    with open(os.path.join(ROOT, 'data', 'sentiment', 'train.csv')) as f:
        return [r['text'] for r in csv.DictReader(f)] + CODE * 40


def bpe(trim):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=trim)
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    return tok


CONVERSATIONS = [
    [{'role': 'user', 'content': 'Write f.'}, {'role': 'assistant', 'content': 'Sure:\n\ndef f(x):\n    return x\n\n  Done.'}],
    [{'role': 'system', 'content': 'Be terse.'}, {'role': 'user', 'content': 'Indent?'},
     {'role': 'assistant', 'content': 'if a:\n        b = 1\n\n    else:\n\treturn  2'},
     {'role': 'user', 'content': 'And spaces?'}, {'role': 'assistant', 'content': 'Yes:  two,   three,    four.  '}],
    [{'role': 'user', 'content': 'emoji'}, {'role': 'assistant', 'content': 'Fine 😀🎉 café\n\n\n'}],
    [{'role': 'user', 'content': 'tabs'}, {'role': 'assistant', 'content': 'a\tb\t\tc \t d'}],
    [{'role': 'user', 'content': 'code'}, {'role': 'assistant', 'content': 'for i in range(10):\n    print(i)\n'}],
]


def masks(name, conversations=CONVERSATIONS, plain=None, marked=None):
    tok = AutoTokenizer.from_pretrained(os.path.join(OUT, name))
    plain, marked = plain or template(False), marked or template(True)
    out = []
    for conv in conversations:
        enc = tok.apply_chat_template(conv, chat_template=marked, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
        text = tok.apply_chat_template(conv, chat_template=plain, tokenize=False)
        assert text == tok.apply_chat_template(conv, chat_template=marked, tokenize=False)
        out.append({'messages': conv, 'text': text, 'input_ids': list(enc['input_ids']), 'assistant_masks': list(enc['assistant_masks'])})
    return out


SPECIALS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']


def special_layouts():
    """Checkpoint layouts: the files beside tokenizer.json, and what transformers reads from them."""
    added = {'0': {'content': '<|endoftext|>', 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': True},
             '1': {'content': '<|im_start|>', 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': True},
             '2': {'content': '<|im_end|>', 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': True}}
    obj = lambda t: {'content': t, 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False}
    base = {'tokenizer_class': 'PreTrainedTokenizerFast', 'model_max_length': 128}
    layouts = {
        'map-only string': {'tokenizer_config.json': base, 'special_tokens_map.json': {'eos_token': '<|im_end|>', 'pad_token': '<|endoftext|>'}},
        'map-only AddedToken': {'tokenizer_config.json': base, 'special_tokens_map.json': {'eos_token': obj('<|im_end|>'), 'bos_token': obj('<|im_start|>')}},
        'map overrides config': {'tokenizer_config.json': {**base, 'eos_token': '<|endoftext|>'}, 'special_tokens_map.json': {'eos_token': '<|im_end|>'}},
        'config with added_tokens_decoder ignores map': {'tokenizer_config.json': {**base, 'added_tokens_decoder': added, 'eos_token': '<|endoftext|>'}, 'special_tokens_map.json': {'eos_token': '<|im_end|>', 'pad_token': '<|im_start|>'}},
        'config AddedToken object': {'tokenizer_config.json': {**base, 'added_tokens_decoder': added, 'eos_token': {'__type': 'AddedToken', **obj('<|im_end|>')}}},
        'config only': {'tokenizer_config.json': {**base, 'bos_token': '<|im_start|>', 'eos_token': '<|im_end|>', 'pad_token': None}},
        'Qwen2 class defaults': {'tokenizer_config.json': {'tokenizer_class': 'Qwen2Tokenizer', 'model_max_length': 128, 'added_tokens_decoder': added}},
        'Qwen2 class, map gives eos': {'tokenizer_config.json': {'tokenizer_class': 'Qwen2Tokenizer', 'model_max_length': 128}, 'special_tokens_map.json': {'eos_token': '<|im_end|>'}},
        'GPT2 class, null pad': {'tokenizer_config.json': {'tokenizer_class': 'GPT2Tokenizer', 'model_max_length': 128, 'pad_token': None, 'eos_token': '<|im_end|>'}},
        'no tokenizer_config': {'special_tokens_map.json': {'eos_token': '<|im_end|>', 'unk_token': {'content': '<|endoftext|>'}}},
        'no tokenizer_class: config.json model_type qwen2': {'tokenizer_config.json': {'model_max_length': 128}, 'config.json': {'model_type': 'qwen2'}},
        'no tokenizer_config, model_type gpt2': {'config.json': {'model_type': 'gpt2'}, 'special_tokens_map.json': {'pad_token': '<|im_start|>'}},
    }
    out = {}
    for name, files in layouts.items():
        d = tempfile.mkdtemp()
        shutil.copy(os.path.join(OUT, 'tok', 'tokenizer.json'), d)
        for f, v in files.items():
            with open(os.path.join(d, f), 'w') as fh:
                json.dump(v, fh)
        tok = AutoTokenizer.from_pretrained(d)
        got = {k: (str(getattr(tok, k)) if getattr(tok, k) is not None else None) for k in SPECIALS}
        ids = {k + '_id': getattr(tok, k + '_id') for k in SPECIALS}
        assert len(tok) == 700, (name, len(tok))  # no token added: the model's embedding covers them all
        out[name] = {'files': files, 'tokens': got, 'ids': ids}
        shutil.rmtree(d)
    return out


def tied(name, make):
    """A checkpoint whose config says tied while it stores a head of its own."""
    d = os.path.join(OUT, name)
    model = make(False)
    with torch.no_grad():
        model.lm_head.weight.copy_(torch.randn_like(model.lm_head.weight) * 0.2)
    model.save_pretrained(d)
    cfg = json.load(open(os.path.join(d, 'config.json')))
    cfg['tie_word_embeddings'] = True
    json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=2)
    loaded = AutoModelForCausalLM.from_pretrained(d)
    assert not loaded.training
    ids = torch.tensor([[1, 5, 9, 40, 200, 3], [7, 7, 300, 2, 11, 90]])
    with torch.no_grad():
        logits = loaded(input_ids=ids).logits
    assert not torch.equal(loaded.lm_head.weight, loaded.get_input_embeddings().weight)
    # the first and last positions' logits (every position differs from the tied model's)
    return {'input_ids': ids.tolist(), 'logits_first_last': logits[:, [0, -1]].flatten().tolist(), 'shape': [logits.shape[0], 2, logits.shape[2]]}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name, trim in (('tok', True), ('tok-untrimmed', False)):
        t = bpe(trim)
        fast = PreTrainedTokenizerFast(tokenizer_object=t, eos_token='<|endoftext|>', model_max_length=128, chat_template=template(False))
        fast.save_pretrained(os.path.join(OUT, name))
    expected = {'masks': {name: masks(name) for name in ('tok', 'tok-untrimmed')}, 'special': special_layouts(),
                'templates': {'chatml_marked': template(True), 'reasoning': REASONING, 'reasoning_marked': REASONING_MARKED},
                'reasoning_masks': masks('tok', REASONING_CONVERSATIONS, REASONING, REASONING_MARKED)}
    expected['templates'].update({'response': RESPONSE, 'response_marked': RESPONSE_MARKED})
    expected['response_masks'] = {name: masks(name, RESPONSE_CONVERSATIONS, RESPONSE, RESPONSE_MARKED) for name in ('tok', 'tok-untrimmed')}
    vocab = 700
    expected['tied'] = {
        'tied-llama': tied('tied-llama', lambda tie: LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                                                     num_key_value_heads=1, max_position_embeddings=64, initializer_range=0.2, tie_word_embeddings=tie,
                                                                                     bos_token_id=0, eos_token_id=0))),
        'tied-gpt2': tied('tied-gpt2', lambda tie: GPT2LMHeadModel(GPT2Config(vocab_size=vocab, bos_token_id=0, eos_token_id=0, n_positions=64, n_embd=16, n_layer=1, n_head=2, initializer_range=0.2, tie_word_embeddings=tie))),
    }
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write('\n')


if __name__ == '__main__':
    main()
