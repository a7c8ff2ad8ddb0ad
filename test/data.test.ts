// Data: readers, the feature cache, samplers, and the training features that ride on them.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';

const FX = path.join(__dirname, 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-data-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('readers', () => {
  test('CSV, JSONL and Parquet give the same rows, with lines', async () => {
    const csv = await ft.readExamples(path.join(FX, 'train', 'tiny.csv'), 'sequence-classification', {});
    const pq = await ft.readExamples(path.join(FX, 'train', 'tiny.parquet'), 'sequence-classification', { textColumn: 'sentence' });
    expect(pq.examples.map((e) => [e.text, e.label])).toEqual(csv.examples.map((e) => [e.text, e.label]));
    expect(csv.examples[0].line).toBe(2);
    const jsonl = path.join(tmp, 'x.jsonl');
    fs.writeFileSync(jsonl, csv.examples.map((e) => JSON.stringify({ text: e.text, label: e.label })).join('\n\n') + '\n');
    const js = await ft.readExamples(jsonl, 'sequence-classification', {});
    expect(js.examples.map((e) => e.text)).toEqual(csv.examples.map((e) => e.text));
    expect(js.examples[1].line).toBe(3); // blank lines count
  });

  test('TSV and quoted CSV fields with commas and newlines', async () => {
    const tsv = path.join(tmp, 'x.tsv');
    fs.writeFileSync(tsv, 'text\tlabel\nhello, world\tpos\n"quoted"\tneg\n');
    const r = await ft.readExamples(tsv, 'sequence-classification', {});
    // TSV is the tab format (IANA text/tab-separated-values): no quoting, a quote is a character,
    // so a line starting with a quote can never swallow the lines after it
    expect(r.examples.map((e) => e.text)).toEqual(['hello, world', '"quoted"']);
    const csv = path.join(tmp, 'q.csv');
    fs.writeFileSync(csv, 'text,label\n"multi\nline, with comma",pos\nnext,neg\n');
    const c = await ft.readExamples(csv, 'sequence-classification', {});
    expect(c.examples.map((e) => [e.text, e.line])).toEqual([['multi\nline, with comma', 2], ['next', 4]]);
  });

  test('a Parquet file that is not one is a clear error', async () => {
    const f = path.join(tmp, 'bad.parquet');
    fs.writeFileSync(f, 'not parquet at all');
    await expect(ft.readExamples(f, 'sequence-classification', {})).rejects.toThrow(/bad\.parquet: not a readable Parquet file/);
  });
});

describe('features', () => {
  test('tokenised once per file, tokenizer and settings; the cache is reused', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'bert', 'seqcls'));
    const cacheDir = path.join(tmp, 'cache');
    const o = { columns: {}, maxLength: 16, labels: ['neg', 'neutral', 'pos'], cacheDir };
    const a = await ft.prepareFeatures(path.join(FX, 'train', 'tiny.csv'), tok, 'sequence-classification', o);
    expect(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.meta.json')).length).toBe(1);
    const mtime = fs.statSync(path.join(cacheDir, `${a.meta.key}.jsonl`)).mtimeMs;
    const b = await ft.prepareFeatures(path.join(FX, 'train', 'tiny.csv'), tok, 'sequence-classification', o);
    expect(b.meta.key).toBe(a.meta.key);
    expect(fs.statSync(path.join(cacheDir, `${a.meta.key}.jsonl`)).mtimeMs).toBe(mtime);
    await ft.prepareFeatures(path.join(FX, 'train', 'tiny.csv'), tok, 'sequence-classification', { ...o, maxLength: 20 });
    expect(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.meta.json')).length).toBe(2);
    expect(a.length).toBe(24);
    expect(Math.max(...a.lengths)).toBeLessThanOrEqual(16);
    expect(a.get(0).label).toBe(2); // "pos"
  });

  test('streams a file larger than one chunk and keeps every row', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(path.join(FX, 'bert', 'seqcls'));
    const big = path.join(tmp, 'big.csv');
    const lines = ['text,label'];
    for (let i = 0; i < 5000; i++) lines.push(`"row ${i} the quick brown fox",${i % 2 ? 'pos' : 'neg'}`);
    fs.writeFileSync(big, lines.join('\n') + '\n');
    const s = await ft.prepareFeatures(big, tok, 'sequence-classification', { columns: {}, maxLength: 16, labels: ['neg', 'pos'], cacheDir: path.join(tmp, 'cache') });
    expect(s.length).toBe(5000);
    expect(s.get(4999).label).toBe(1);
  });
});

describe('samplers', () => {
  test("random: torch.randperm seeded with seed + epoch (accelerate's SeedableRandomSampler)", () => {
    const lengths = Array.from({ length: 100 }, (_, i) => i % 17);
    const a = ft.epochOrder('random', 100, 42, 0, 8, lengths);
    expect(a).toEqual(Array.from(ft.tidy(() => ft.randperm(100, 42).toArray() as BigInt64Array), Number));
    expect(ft.epochOrder('random', 100, 42, 1, 8, lengths)).toEqual(Array.from(ft.tidy(() => ft.randperm(100, 43).toArray() as BigInt64Array), Number));
    expect(ft.epochOrder('random', 100, 43, 0, 8, lengths)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
  test('group-by-length puts similar lengths together, longest batch first', () => {
    const lengths = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 97);
    const o = ft.epochOrder('group-by-length', 1000, 1, 0, 4, lengths, 5);
    expect(ft.epochOrder('group-by-length', 1000, 1, 0, 4, lengths, 5)).toEqual(o);
    expect([...o].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(lengths[o[0]]).toBe(Math.max(...lengths));
    // within a megabatch (50 batches of 4, as 1000 / (4 x 4) > 50) lengths descend
    const mega = o.slice(0, 200).map((i) => lengths[i]);
    expect(mega.slice(1).every((v, i) => v <= mega[i] || i === 0)).toBe(true);
    // fewer rows: megabatches of 1000 / (4 x 25) = 10 batches of 25, each sorted, the first
    // megabatch's first row swapped with the longest megabatch's first
    const few = ft.epochOrder('group-by-length', 1000, 1, 0, 25, lengths, 5).map((i) => lengths[i]);
    expect(few[0]).toBe(96);
    for (let m = 0; m < 4; m++) {
      const mb = few.slice(250 * m + 1, 250 * (m + 1));
      expect(mb.every((v, i) => i === 0 || v <= mb[i - 1])).toBe(true);
      // a longer megabatch would have been sorted across this boundary
      if (m > 0) expect(few[250 * m]).toBeGreaterThan(few[250 * m - 1]);
    }
    expect(ft.epochOrder('group-by-length', 0, 1, 0, 25, [], 5)).toEqual([]);
  });
});
