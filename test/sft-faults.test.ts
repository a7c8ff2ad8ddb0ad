// Instruction tuning and loading where a wrong answer would be silent, against transformers
// (scripts/gen_sft_fixtures.py): which tokens of an assistant turn are trained whatever offsets
// the tokenizer reports, special tokens from every file transformers reads, stored heads of
// "tied" checkpoints, eval mode after loading, rows that fail when rendered or tokenised under
// --skip-bad-rows, and the end-of-turn token a chat-tuned model must stop at.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { tokensInSpans } from '../src/data/specs/sft';
import { compareNumbers } from './helpers';

const FX = path.join(__dirname, 'fixtures', 'sft');
const expected = JSON.parse(fs.readFileSync(path.join(FX, 'expected.json'), 'utf8'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-sft-faults-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cacheDir = path.join(tmp, 'cache');
const quiet = { warn: () => undefined };
type Row = Record<string, unknown>;
const sft = (tok: ft.PreTrainedTokenizer, rows: Row[], o: { skipBadRows?: boolean } = {}) =>
  ft.prepareFeatures({ data: ft.Dataset.fromRows(rows), tokenizer: tok, task: 'sft', labels: [], maxLength: 256, cacheDir, ...o });

describe('assistant turns are trained whole, whatever offsets the tokenizer reports', () => {
  for (const name of ['tok', 'tok-untrimmed']) {
    test(`${name}: the targets are transformers' assistant token masks`, async () => {
      const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, name));
      const cases = expected.masks[name] as { messages: ft.ChatMessage[]; text: string; input_ids: number[]; assistant_masks: number[] }[];
      const store = await sft(tok, cases.map((c) => ({ messages: c.messages })));
      cases.forEach((c, i) => {
        expect(tok.applyChatTemplate(c.messages)).toBe(c.text);
        const f = store.get(i);
        expect(f.ids).toEqual(c.input_ids);
        expect({ i, label: f.label }).toEqual({ i, label: c.input_ids.map((id, t) => (c.assistant_masks[t] ? id : -100)) });
      });
      store.close();
    });
  }

  /** The fixture's tokenizer with another chat template. */
  const withTemplate = async (name: string, template: string, base = 'tok') => {
    const dir = path.join(tmp, 'templates', name);
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(FX, base, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>', chat_template: template }));
    return ft.AutoTokenizer.fromPretrained(dir);
  };
  const checkMasks = async (tok: ft.PreTrainedTokenizer, cases: { messages: ft.ChatMessage[]; text: string; input_ids: number[]; assistant_masks: number[] }[]) => {
    const store = await sft(tok, cases.map((c) => ({ messages: c.messages })));
    cases.forEach((c, i) => {
      expect(tok.applyChatTemplate(c.messages)).toBe(c.text);
      expect({ i, ids: store.get(i).ids, label: store.get(i).label }).toEqual({ i, ids: c.input_ids, label: c.input_ids.map((id, t) => (c.assistant_masks[t] ? id : -100)) });
    });
    store.close();
  };

  test('a template with {% generation %} blocks marks the turns itself, as transformers reads it', async () => {
    const tok = await withTemplate('chatml-marked', expected.templates.chatml_marked);
    await checkMasks(tok, expected.masks.tok);
    const spans = tok.generationSpans(expected.masks.tok[0].messages);
    expect(spans!.text).toBe(expected.masks.tok[0].text);
    expect(spans!.spans.length).toBe(1);
  });

  test("a template that drops earlier turns' reasoning (as Qwen3's): multi-turn rows are masked from the whole rendering", async () => {
    await checkMasks(await withTemplate('reasoning', expected.templates.reasoning), expected.reasoning_masks);
    await checkMasks(await withTemplate('reasoning-marked', expected.templates.reasoning_marked), expected.reasoning_masks);
  });

  for (const name of ['tok', 'tok-untrimmed']) {
    test(`${name}: a generation prompt ending in a space (the answer's first token starts in it): transformers' masks`, async () => {
      await checkMasks(await withTemplate(`response-${name}`, expected.templates.response, name), expected.response_masks[name]);
      await checkMasks(await withTemplate(`response-marked-${name}`, expected.templates.response_marked, name), expected.response_masks[name]);
    });
  }

  test("tokens overlapping a span are in it (transformers' contiguous range); an empty token holds the characters since the one before", () => {
    expect(tokensInSpans([[0, 2], [5, 5], [5, 7]], [[2, 7]])).toEqual([false, true, true]);
    expect(tokensInSpans([[0, 2], [5, 5], [5, 7]], [[0, 2]])).toEqual([true, false, false]);
    expect(tokensInSpans([[0, 3], [3, 8], [8, 9]], [[4, 8]])).toEqual([false, true, false]);
    expect(tokensInSpans([[0, 3], [3, 8], [8, 9]], [[4, 9]])).toEqual([false, true, true]);
  });

  test('encodeWithSpans: the ids of encode, offsets untrimmed, every character in a token', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'tok'));
    const text = expected.masks.tok[0].text as string;
    const raw = await tok.encodeWithSpans(text);
    expect(raw.ids).toEqual((await tok.encode([text], { addSpecialTokens: false })).inputIds[0]);
    let covered = 0;
    for (const [a, b] of raw.offsets) {
      expect(a).toBe(covered);
      covered = b;
    }
    expect(covered).toBe([...text].length);
  });
});

describe("special tokens from every file transformers reads", () => {
  const layouts = expected.special as Record<string, { files: Record<string, unknown>; tokens: Record<string, string | null>; ids: Record<string, number | null> }>;
  for (const [name, l] of Object.entries(layouts)) {
    test(name, async () => {
      const dir = path.join(tmp, 'special', name.replace(/\W+/g, '-'));
      fs.mkdirSync(dir, { recursive: true });
      fs.copyFileSync(path.join(FX, 'tok', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
      for (const [f, v] of Object.entries(l.files)) fs.writeFileSync(path.join(dir, f), JSON.stringify(v));
      const tok = await ft.AutoTokenizer.fromPretrained(dir);
      const ours = Object.fromEntries(Object.keys(l.tokens).map((k) => [k, tok.specialToken(k)]));
      expect(ours).toEqual(l.tokens);
      expect(tok.eosTokenId).toBe(l.ids.eos_token_id);
      expect(tok.bosTokenId).toBe(l.ids.bos_token_id);
    });
  }

  test('prompt/completion rows end with the EOS that special_tokens_map.json names', async () => {
    const dir = path.join(tmp, 'special', 'map-only-string');
    const tok = await ft.AutoTokenizer.fromPretrained(dir);
    const store = await sft(tok, [{ prompt: 'Hi', completion: ' there' }]);
    expect(store.get(0).ids.at(-1)).toBe(tok.tokenToId('<|im_end|>'));
    store.close();
  });

  test('a malformed special_tokens_map.json names the file and the key', async () => {
    const dir = path.join(tmp, 'special', 'bad');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(FX, 'tok', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    fs.writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify({ eos_token: 5 }));
    await expect(ft.AutoTokenizer.fromPretrained(dir)).rejects.toThrow(/special_tokens_map\.json: eos_token must be a string or \{"content": string, \.\.\.\}, got 5/);
    fs.writeFileSync(path.join(dir, 'special_tokens_map.json'), '{');
    await expect(ft.AutoTokenizer.fromPretrained(dir)).rejects.toThrow(/special_tokens_map\.json: invalid JSON/);
  });
});

describe('a checkpoint that says "tied" but stores its own head', () => {
  for (const name of ['tied-llama', 'tied-gpt2']) {
    test(`${name}: both tensors kept, untied, with a warning; logits as transformers'; saved and reloaded the same`, async () => {
      const warnings: string[] = [];
      const model = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, name), { warn: (w) => warnings.push(w) });
      expect(warnings.join('\n')).toMatch(/ties lm_head\.weight to .*but .* stores them with different values: both are kept, untied/);
      expect(model.tiedKeys()).toEqual([]);
      const e = expected.tied[name] as { input_ids: number[][]; logits_first_last: number[] };
      const logitsOf = (m: ft.AnyPreTrainedModel) =>
        ft.tidy(() => {
          const { logits } = (m as unknown as { forward(x: { inputIds: ft.Tensor }): { logits: ft.Tensor } }).forward({ inputIds: ft.tensor(e.input_ids, { dtype: 'int64' }) });
          const T = e.input_ids[0].length;
          return ft.cat([logits.narrow(1, 0, 1), logits.narrow(1, T - 1, 1)], 1).toNumbers();
        });
      compareNumbers(logitsOf(model), Float32Array.from(e.logits_first_last), 0, 1e-5, `${name} logits`);
      const out = path.join(tmp, `${name}-saved`);
      ft.savePretrained(model, out);
      const reloadWarnings: string[] = [];
      const again = await ft.AutoModelForCausalLM.fromPretrained(out, { warn: (w) => reloadWarnings.push(w) });
      expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).tie_word_embeddings).toBe(false);
      expect(reloadWarnings).toEqual([]);
      compareNumbers(logitsOf(again), Float32Array.from(e.logits_first_last), 0, 1e-5, `${name} logits after a round trip`);
      model.dispose();
      again.dispose();
    });
  }

  test('tied keys stored with equal values stay tied, silently; different ones are untied (the kind: any tied pair)', async () => {
    const gpt2 = await ft.AutoModelForCausalLM.fromPretrained(path.join(__dirname, 'fixtures', 'lm', 'gpt2'), quiet);
    expect(gpt2.tiedKeys()).toEqual([['transformer.wte.weight', 'lm_head.weight']]);
    const wte = gpt2.stateDict().get('transformer.wte.weight')!;
    const warnings: string[] = [];
    const equal = ft.tidy(() => ft.keep(wte.clone()));
    ft.loadPretrainedWeights(gpt2, new Map([...gpt2.stateDict(), ['lm_head.weight', equal]]), 'equal copies', (w) => warnings.push(w));
    expect(warnings).toEqual([]);
    expect(gpt2.tiedKeys()).toEqual([['transformer.wte.weight', 'lm_head.weight']]);
    const other = ft.tidy(() => ft.keep(wte.mul(2)));
    ft.loadPretrainedWeights(gpt2, new Map([...gpt2.stateDict(), ['lm_head.weight', other]]), 'other copies', (w) => warnings.push(w));
    expect(warnings.join()).toMatch(/GPT2LMHeadModel ties lm_head\.weight to transformer\.wte\.weight, but other copies stores them with different values/);
    expect(gpt2.tiedKeys()).toEqual([]);
    expect(ft.tidy(() => gpt2.stateDict().get('lm_head.weight')!.sub(other).abs().max().item())).toBe(0);
    expect(ft.tidy(() => gpt2.stateDict().get('transformer.wte.weight')!.sub(equal).abs().max().item())).toBe(0);
    for (const t of [equal, other]) t.dispose();
    gpt2.dispose();
  });
});

describe('masked-LM heads tie to the word embeddings unless tie_word_embeddings is false', () => {
  test("a tied bias stored twice with different values is untied alone: the word embeddings stay tied, and the config says so", async () => {
    const dir = path.join(__dirname, 'fixtures', 'bert', 'mlm');
    const m = await ft.AutoModelForMaskedLM.fromPretrained(dir, quiet);
    const sd = m.stateDict();
    const other = ft.tidy(() => ft.keep(sd.get('cls.predictions.bias')!.add(1)));
    const warnings: string[] = [];
    ft.loadPretrainedWeights(m, new Map([...sd, ['cls.predictions.decoder.bias', other]]), 'two biases', (w) => warnings.push(w));
    expect(warnings.join()).toMatch(/ties cls\.predictions\.decoder\.bias to cls\.predictions\.bias/);
    expect(m.tiedKeys().some((g) => g.includes('cls.predictions.decoder.weight'))).toBe(true);
    expect(m.config.tie_word_embeddings).not.toBe(false);
    other.dispose();
    m.dispose();
  });

  test('BERT: tied by default; untied (its own, newly initialised decoder) with tie_word_embeddings false', async () => {
    const dir = path.join(__dirname, 'fixtures', 'bert', 'mlm');
    const tied = await ft.AutoModelForMaskedLM.fromPretrained(dir, quiet);
    expect(tied.tiedKeys().some((g) => g.includes('cls.predictions.decoder.weight'))).toBe(true);
    tied.dispose();
    const warnings: string[] = [];
    const own = await ft.AutoModelForMaskedLM.fromPretrained(dir, { warn: (w) => warnings.push(w), config: { tie_word_embeddings: false } });
    expect(own.tiedKeys().some((g) => g.includes('cls.predictions.decoder.weight'))).toBe(false);
    expect(warnings.join()).toMatch(/newly initialised: cls\.predictions\.decoder\.weight/);
    own.dispose();
  });
});

describe('every loading path returns eval mode', () => {
  test('fromPretrained: no module in train mode, two forwards equal', async () => {
    const dir = path.join(__dirname, 'fixtures', 'lm', 'gpt2');
    const model = await ft.AutoModelForCausalLM.fromPretrained(dir, { ...quiet, config: { resid_pdrop: 0.5, embd_pdrop: 0.5, attn_pdrop: 0.5 } });
    expect(model.namedModules().filter(([, m]) => m.training).map(([p]) => p || '(root)')).toEqual([]);
    const ids = ft.tensor([[1, 2, 3, 4, 5, 6]], { dtype: 'int64' });
    const a = ft.tidy(() => model.forward({ inputIds: ids }).logits.toNumbers());
    const b = ft.tidy(() => model.forward({ inputIds: ids }).logits.toNumbers());
    expect(a).toEqual(b);
    ids.dispose();
    model.dispose();
    for (const [auto, d] of [[ft.AutoModelForSequenceClassification, path.join(__dirname, 'fixtures', 'decoder', 'llama-seqcls')], [ft.AutoBaseModel, dir]] as const) {
      const m = await auto.fromPretrained(d, quiet);
      expect(m.training).toBe(false);
      m.dispose();
    }
  });
});

describe('--skip-bad-rows covers rows that fail when rendered or tokenised', () => {
  const rows: Row[] = [
    { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
    { messages: [{ role: 'system', content: 'only a system turn' }] },
    { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }], extra: 1 },
  ];
  test('sft: a conversation without an assistant turn and one the template raises on are skipped, counted and named', async () => {
    const llama = await ft.AutoTokenizer.fromPretrained(path.join(__dirname, 'fixtures', 'lm', 'llama'));
    const bad = [
      ...rows,
      { messages: [{ role: 'critic', content: 'x' }, { role: 'assistant', content: 'y' }] },
      { prompt: [{ role: 'critic', content: 'x' }], completion: [{ role: 'assistant', content: 'y' }] },
    ];
    await expect(sft(llama, bad)).rejects.toThrow(/row 2: the conversation has no assistant message/);
    await expect(sft(llama, bad.slice(3))).rejects.toThrow(/row 1: the chat template: .*unknown role: critic/);
    const store = await sft(llama, bad, { skipBadRows: true });
    expect(store.length).toBe(2);
    expect(store.meta.rows).toBe(2);
    expect(store.meta.skipped.map((s) => s.line)).toEqual([2, 4, 5]);
    expect(store.meta.skipped[0].problem).toMatch(/no assistant message/);
    expect(store.meta.skipped[1].problem).toMatch(/unknown role: critic/);
    expect(store.meta.skipped[2].problem).toMatch(/unknown role: critic/);
    // the rows kept are the rows made without the bad ones
    const clean = await sft(llama, [rows[0], rows[2]]);
    expect([store.get(0), store.get(1)]).toEqual([clean.get(0), clean.get(1)]);
    store.close();
    clean.close();
  });

  test('question answering: an answer not in its context (found when reading) is skipped the same way', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(__dirname, 'fixtures', 'bert', 'qa'));
    const qa = (answer_start: number) => ({ question: 'Who?', context: 'Ann went home.', answers: { text: ['Ann'], answer_start: [answer_start] } });
    const data = ft.Dataset.fromRows([qa(0), qa(5), qa(0)]);
    const run = (skipBadRows: boolean) => ft.prepareFeatures({ data, tokenizer: tok, task: 'question-answering', labels: [], maxLength: 64, cacheDir, skipBadRows });
    await expect(run(false)).rejects.toThrow(/row 2: answer 0 'Ann' is not at character 5/);
    const store = await run(true);
    expect(store.meta.skipped).toEqual([{ line: 2, problem: "answer 0 'Ann' is not at character 5 of the context" }]);
    expect(store.length).toBe(2);
    store.close();
  });
});

describe('a chat-tuned model stops at the end of its turns', () => {
  test("addStopTokens keeps what generate() stopped at: config.json's EOS when generation_config.json has none", () => {
    const model = { config: { eos_token_id: 3 }, generationConfig: { max_new_tokens: 5 } as ft.GenerationConfig | null };
    expect(ft.addStopTokens(model, [7, 3])).toEqual([7]);
    expect(model.generationConfig).toEqual({ max_new_tokens: 5, eos_token_id: [3, 7] });
  });

  test("ChatML turns end in <|im_end|> while EOS is <|endoftext|>: the features say so, the Trainer adds it to the saved generation_config.json", async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'tok'));
    const imEnd = tok.tokenToId('<|im_end|>')!;
    expect(tok.eosTokenId).toBe(tok.tokenToId('<|endoftext|>'));
    const store = await sft(tok, [{ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hi there' }] }]);
    expect(store.meta.endTokens).toEqual([imEnd]);
    const model = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'tied-llama'), quiet);
    const out = path.join(tmp, 'eot');
    const trainer = new ft.Trainer({ model, tokenizer: tok, train: store, labels: [], args: { outputDir: out, task: 'sft', maxSteps: 1, quiet: true, batchSize: 1 } });
    expect(trainer.addedStopTokens).toEqual([imEnd]);
    await trainer.train();
    ft.savePretrained(model, out);
    const g = JSON.parse(fs.readFileSync(path.join(out, 'generation_config.json'), 'utf8'));
    expect(g.eos_token_id).toEqual([model.config.eos_token_id, imEnd]);
    model.dispose();
    store.close();
    // prompt/completion strings end with EOS, which the model stops at: nothing to add
    const pc = await sft(tok, [{ prompt: 'hi', completion: ' there' }]);
    expect(pc.meta.endTokens).toEqual([tok.eosTokenId]);
    const again = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'tied-llama'), quiet);
    expect(new ft.Trainer({ model: again, tokenizer: tok, train: pc, labels: [], args: { outputDir: path.join(tmp, 'eot-pc'), task: 'sft', quiet: true } }).addedStopTokens).toEqual([]);
    again.dispose();
    pc.close();
  });

  test("a tokenizer whose EOS is not the model's (special_tokens_map.json says <|im_end|>): completions and documents end with it, and the model learns to stop there", async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(tmp, 'special', 'map-only-string'));
    const imEnd = tok.tokenToId('<|im_end|>')!;
    for (const [task, rows] of [['sft', [{ prompt: 'hi', completion: ' there' }]], ['causal-lm', [{ text: 'a document' }]]] as const) {
      const store = await ft.prepareFeatures({ data: ft.Dataset.fromRows([...rows]), tokenizer: tok, task, labels: [], maxLength: 64, cacheDir });
      expect(store.meta.endTokens).toEqual([imEnd]);
      const model = await ft.AutoModelForCausalLM.fromPretrained(path.join(FX, 'tied-llama'), quiet);
      expect(new ft.Trainer({ model, tokenizer: tok, train: store, labels: [], args: { outputDir: path.join(tmp, `eot-${task}`), task, quiet: true } }).addedStopTokens).toEqual([imEnd]);
      expect(model.generationConfig!.eos_token_id).toEqual([0, imEnd]);
      model.dispose();
      store.close();
    }
  });
});

describe('conversations as templates take them, and template variables', () => {
  // a ChatML template that renders tool calls, content parts and a thinking switch
  const TEMPLATE =
    "{%- for m in messages %}{{- '<|im_start|>' + m.role + '\\n' }}" +
    "{%- if m.role == 'assistant' and enable_thinking is defined and not enable_thinking %}{{- '<think></think>' }}{%- endif %}" +
    "{%- if m.content is string %}{{- m.content }}{%- elif m.content %}{%- for p in m.content %}{{- p.text }}{%- endfor %}{%- endif %}" +
    "{%- if m.tool_calls %}{%- for t in m.tool_calls %}{{- '<tool_call>' + t.function.name + '</tool_call>' }}{%- endfor %}{%- endif %}" +
    "{{- '<|im_end|>\\n' }}{%- endfor %}" +
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and not enable_thinking %}{{- '<think></think>' }}{%- endif %}{%- endif %}";
  let tok: ft.PreTrainedTokenizer;
  beforeAll(async () => {
    const dir = path.join(tmp, 'tools-tok');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(FX, 'tok', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>', chat_template: TEMPLATE }));
    tok = await ft.AutoTokenizer.fromPretrained(dir);
  });

  test('an assistant turn with content null and tool_calls, and content given as parts, are trained as rendered', async () => {
    const messages = [
      { role: 'user', content: [{ type: 'text', text: 'Weather in ' }, { type: 'text', text: 'Paris?' }] },
      { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: 'sunny' },
      { role: 'assistant', content: 'It is sunny.' },
    ];
    const store = await sft(tok, [{ messages }]);
    const f = store.get(0);
    const targets = await tok.decode((f.label as number[]).filter((l) => l !== -100), false);
    expect(targets).toBe('<tool_call>get_weather</tool_call><|im_end|>\nIt is sunny.<|im_end|>\n');
    store.close();
    await expect(sft(tok, [{ messages: [{ role: 'user', content: 5 }, { role: 'assistant', content: 'x' }] }])).rejects.toThrow(/row 1: column 'messages': message 0 content must be a string, a list of parts/);
  });

  test('chatTemplateKwargs reach the template (enable_thinking), and key the feature cache', async () => {
    const rows = [{ prompt: [{ role: 'user', content: 'hi' }], completion: [{ role: 'assistant', content: 'yo' }] }];
    const plain = await sft(tok, rows);
    const off = await ft.prepareFeatures({ data: ft.Dataset.fromRows(rows), tokenizer: tok, task: 'sft', labels: [], maxLength: 256, cacheDir, chatTemplateKwargs: { enable_thinking: false } });
    const think = (await tok.encode(['<think></think>'], { addSpecialTokens: false })).inputIds[0];
    const has = (ids: number[]) => ids.some((_, i) => think.every((t, j) => ids[i + j] === t));
    expect(has(plain.get(0).ids)).toBe(false);
    expect(has(off.get(0).ids)).toBe(true);
    plain.close();
    off.close();
    await expect(ft.prepareFeatures({ data: ft.Dataset.fromRows(rows), tokenizer: tok, task: 'sft', labels: [], maxLength: 256, cacheDir, chatTemplateKwargs: 'x' as never })).rejects.toThrow(/chatTemplateKwargs must be an object/);
  });
});

describe('encode pads on either side', () => {
  test("paddingSide 'left' puts the same padding before the tokens; tokenizer_config.json's padding_side is the default", async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'tok'));
    const texts = ['a longer text here', 'short'];
    const right = await tok.encode(texts, { padding: 'longest' });
    const left = await tok.encode(texts, { padding: 'longest', paddingSide: 'left' });
    const n = right.inputIds[0].length;
    for (const [i] of texts.entries()) {
      const k = right.attentionMask[i].filter((m) => m === 1).length;
      expect(left.inputIds[i]).toEqual([...right.inputIds[i].slice(k), ...right.inputIds[i].slice(0, k)]);
      expect(left.attentionMask[i]).toEqual([...new Array(n - k).fill(0), ...new Array(k).fill(1)]);
      expect(left.offsets[i].slice(n - k)).toEqual(right.offsets[i].slice(0, k));
    }
    const dir = path.join(tmp, 'left-tok');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(FX, 'tok', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ padding_side: 'left', eos_token: '<|endoftext|>' }));
    const byConfig = await (await ft.AutoTokenizer.fromPretrained(dir)).encode(texts, { padding: 'longest' });
    expect(byConfig.inputIds).toEqual(left.inputIds);
    await expect(tok.encode(texts, { padding: 'longest', paddingSide: 'up' as never })).rejects.toThrow(/paddingSide must be 'left' or 'right', got "up"/);
  });
});
