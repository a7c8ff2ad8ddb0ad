// Tokenizer ids, types, masks, offsets and overflow identical to Python transformers' on a
// corpus with accents, CJK, emoji, control characters, very long words and empty strings
// (scripts/gen_bert_fixtures.py -> test/fixtures/bert/tokenizer.json).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';

const FX = path.join(__dirname, 'fixtures', 'bert');
interface Case {
  tokenizer: 'vocab' | 'json' | 'cased';
  name: string;
  inputs: string[];
  kwargs: Record<string, unknown>;
  expected: Record<string, unknown[]>;
}
const fixture = JSON.parse(fs.readFileSync(path.join(FX, 'tokenizer.json'), 'utf8')) as { cases: Case[] };
const DIRS = { vocab: 'tokenizer-vocab', json: 'tokenizer-json', cased: 'tokenizer-cased' };

describe('tokenizer against Python transformers', () => {
  const cache = new Map<string, ft.PreTrainedTokenizer>();
  const load = async (k: Case['tokenizer']) => {
    if (!cache.has(k)) cache.set(k, await ft.AutoTokenizer.fromPretrained(path.join(FX, DIRS[k])));
    return cache.get(k)!;
  };

  for (const c of fixture.cases) {
    test(`${c.tokenizer}: ${c.name}`, async () => {
      const tok = await load(c.tokenizer);
      const kw = c.kwargs;
      const pairs = kw.text_pair as string[] | undefined;
      const inputs = pairs ? c.inputs.map((t, i) => [t, pairs[i]] as [string, string]) : c.inputs;
      const enc = await tok.encode(inputs, {
        truncation: kw.truncation === true ? 'longest_first' : (kw.truncation as ft.EncodeOptions['truncation']) ?? false,
        maxLength: kw.max_length as number | undefined,
        stride: kw.stride as number | undefined,
        returnOverflowing: kw.return_overflowing_tokens as boolean | undefined,
        padding: kw.padding === 'longest' ? 'longest' : kw.padding === 'max_length' ? 'max_length' : false,
      });
      const e = c.expected;
      expect(enc.inputIds).toEqual(e.input_ids);
      expect(enc.tokenTypeIds).toEqual(e.token_type_ids);
      expect(enc.attentionMask).toEqual(e.attention_mask);
      expect(enc.specialTokensMask).toEqual(e.special_tokens_mask);
      expect(enc.offsets).toEqual(e.offset_mapping);
      if (e.overflow_to_sample_mapping) expect(enc.overflowToSample).toEqual(e.overflow_to_sample_mapping);
    });
  }

  test('the corpus exercises what it claims: unknown pieces, CJK splits, empty input, overflow', () => {
    const singles = fixture.cases.find((c) => c.name === 'singles' && c.tokenizer === 'vocab')!;
    const ids = singles.expected.input_ids as number[][];
    expect(ids[6]).toEqual([2, 3]); // "" is [CLS] [SEP]
    expect(ids[5]).toContain(1); // a 150-character word is [UNK]
    expect(ids.flat().filter((i) => i !== 1).length).toBeGreaterThan(ids.flat().length / 2); // mostly known pieces
    const ov = fixture.cases.find((c) => c.name === 'overflow-only-second')!;
    expect((ov.expected.overflow_to_sample_mapping as number[]).length).toBeGreaterThan(4);
  });

  test('save() writes a tokenizer.json that loads to the same ids', async () => {
    const tok = await load('vocab');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-tok-'));
    tok.save(tmp);
    const again = await ft.AutoTokenizer.fromPretrained(tmp);
    const texts = ['Café déjà vu 我爱北京', 'the quick brown fox'];
    expect((await again.encode(texts)).inputIds).toEqual((await tok.encode(texts)).inputIds);
    expect(again.modelMaxLength).toBe(64);
    fs.rmSync(tmp, { recursive: true });
  });

  test('bad input is a TypeError naming the row', async () => {
    const tok = await load('vocab');
    await expect(tok.encode(['ok', 42 as unknown as string])).rejects.toThrow(/input 1 is 42/);
  });

  test('toTensors gives (B, T) int64 tensors', async () => {
    const tok = await load('vocab');
    const enc = await tok.encode(['a b c', 'a'], { padding: 'longest' });
    ft.tidy(() => {
      const t = ft.PreTrainedTokenizer.toTensors(enc);
      expect(t.inputIds.dtype).toBe('int64');
      expect([...t.attentionMask.shape]).toEqual([2, enc.inputIds[0].length]);
    });
  });
});
