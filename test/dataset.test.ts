// In-memory data: rows or columns in a script go through the same path as a data file.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';

const FX = path.join(__dirname, 'fixtures');
const TINY = path.join(FX, 'train', 'tiny.csv');
const SEQCLS = path.join(FX, 'bert', 'seqcls');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-dataset-'));
const cacheDir = path.join(tmp, 'cache');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function csvRows(): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = [];
  for await (const r of ft.readRows(TINY)) out.push(r.values as Record<string, string>);
  return out;
}

describe('Dataset', () => {
  test('rows, columns and arrays give the features a file gives; labels resolve from them alike', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(SEQCLS);
    const rows = await csvRows();
    const labels = await ft.resolveLabels({ task: 'sequence-classification', config: {}, data: TINY });
    expect(await ft.resolveLabels({ task: 'sequence-classification', config: {}, data: rows })).toEqual(labels);
    const fromFile = await ft.prepareFeatures({ data: TINY, tokenizer: tok, task: 'sequence-classification', labels, maxLength: 32, cacheDir });
    const cols = { text: rows.map((r) => r.text), label: rows.map((r) => r.label) };
    for (const data of [rows, ft.Dataset.fromRows(rows), ft.Dataset.fromColumns(cols)]) {
      const s = await ft.prepareFeatures({ data, tokenizer: tok, task: 'sequence-classification', labels, maxLength: 32, cacheDir });
      expect(s.length).toBe(fromFile.length);
      for (let i = 0; i < s.length; i++) expect(s.get(i)).toEqual(fromFile.get(i));
    }
    // the cache is keyed by content: changed rows are tokenised anew
    const changed = await ft.prepareFeatures({ data: rows.map((r, i) => (i === 0 ? { ...r, text: 'something else entirely' } : r)), tokenizer: tok, task: 'sequence-classification', labels, maxLength: 32, cacheDir });
    expect(changed.get(0).ids).not.toEqual(fromFile.get(0).ids);
  });

  test('bad rows and options are named', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(SEQCLS);
    const rows = [{ text: 'fine', label: 'pos' }, { text: 'also fine', label: 'neg' }, { text: 42, label: 'pos' }];
    await expect(ft.prepareFeatures({ data: rows, tokenizer: tok, task: 'sequence-classification', labels: ['neg', 'pos'], maxLength: 16, cacheDir })).rejects.toThrow("<rows> row 3: column 'text' is number, expected a string");
    expect(() => ft.Dataset.fromColumns({ text: ['a', 'b'], label: ['x'] })).toThrow("column 'label' has 1 values, 'text' has 2");
    expect(() => ft.Dataset.fromRows([{ text: 'a' }, 'b' as never])).toThrow('row 1 is "b", expected an object');
    await expect(ft.prepareFeatures({ data: rows, tokenizer: tok, task: 'sequence-classification', labels: [], maxLength: 16, max_length: 3 } as never)).rejects.toThrow(/unknown option 'max_length' \(did you mean 'maxLength'\?/);
    await expect(ft.resolveLabels({ task: 'text-classification' as never, config: {}, data: rows })).rejects.toThrow(/did you mean 'sequence-classification'/);
  });

  test('a Trainer trains on rows given in the script', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(SEQCLS);
    const rows = await csvRows();
    const labels = await ft.resolveLabels({ task: 'sequence-classification', config: {}, data: rows });
    const train = await ft.prepareFeatures({ data: rows, tokenizer: tok, task: 'sequence-classification', labels, maxLength: 32, cacheDir });
    const model = await ft.AutoModelForSequenceClassification.fromPretrained(SEQCLS, { warn: () => undefined, config: ft.headConfig('sequence-classification', labels), ignoreMismatchedHead: true });
    const trainer = new ft.Trainer({ model, tokenizer: tok, train, eval: train, labels, args: { outputDir: path.join(tmp, 'out'), task: 'sequence-classification', maxSteps: 3, batchSize: 8, quiet: true } });
    const { metrics } = await trainer.train();
    expect(metrics.eval_accuracy).toBeGreaterThanOrEqual(0);
    model.dispose();
  });
});
