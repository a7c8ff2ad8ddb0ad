// Readers: text encodings, byte-order marks, physical line numbers in every format and line
// ending, and TSV as the tab format (no row ever merged into another).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-readers-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, data: string | Buffer): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, data);
  return f;
}

async function rows(file: string): Promise<ft.RawRow[]> {
  const out: ft.RawRow[] = [];
  for await (const r of ft.readRows(file)) out.push(r);
  return out;
}

async function failure(file: string): Promise<{ line: number | null; problem: string }> {
  try {
    await rows(file);
  } catch (e) {
    expect((e as Error).name).toBe('DataError');
    const d = e as ft.DataError;
    return { line: d.line, problem: d.problem };
  }
  throw new Error(`${file}: read without an error`);
}

const latin1 = (s: string) => Buffer.from(s, 'latin1');

describe('text encodings', () => {
  test.each([
    ['csv', 'text,label\nok,pos\ncafé au lait,neg\n', 3],
    ['tsv', 'text\tlabel\nok\tpos\nok\tpos\ncrème brûlée\tneg\n', 4],
    ['jsonl', '{"text":"ok","label":"pos"}\n{"text":"naïve","label":"neg"}\n', 2],
  ])('a Latin-1 %s is refused at the line of its first non-UTF-8 byte', async (ext, text, line) => {
    const f = write(`latin1.${ext}`, latin1(text));
    const e = await failure(f);
    expect(e.line).toBe(line);
    expect(e.problem).toMatch(/not valid UTF-8.*Latin-1/);
  });

  test('a non-UTF-8 byte far into a file, across read chunks, names its line', async () => {
    const good = 'a fine line of text,pos\n'.repeat(10000); // about 240 kB: several stream chunks
    const f = write('late.csv', Buffer.concat([Buffer.from('text,label\n' + good), Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from(',neg\n')]));
    expect((await failure(f)).line).toBe(10002);
    // a valid multi-byte character cut by a chunk boundary is not an error
    const ok = write('ok.csv', 'text,label\n' + 'é€😀 mixed multibyte text,pos\n'.repeat(20000));
    expect((await rows(ok)).length).toBe(20000);
  });

  test('a truncated multi-byte character at the end of the file is refused', async () => {
    const f = write('cut.jsonl', Buffer.concat([Buffer.from('{"text":"ok"}\n{"text":"x'), Buffer.from([0xe2, 0x82])]));
    expect((await failure(f)).line).toBe(2);
  });

  test('UTF-16 is named as such', async () => {
    const f = write('utf16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('text,label\nx,y\n', 'utf16le')]));
    expect((await failure(f)).problem).toMatch(/UTF-16/);
  });

  test.each([
    ['csv', 'text,label\ncafé,1\n'],
    ['tsv', 'text\tlabel\ncafé\t1\n'],
    ['jsonl', '{"text":"café","label":"1"}\n'],
  ])('a byte-order mark is dropped in %s, and the first column keeps its name', async (ext, text) => {
    const f = write(`bom.${ext}`, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    const r = await rows(f);
    expect(r).toEqual([{ line: ext === 'jsonl' ? 1 : 2, values: { text: 'café', label: '1' } }]);
  });
});

describe('line numbers are physical lines, whatever the line endings', () => {
  // a CSV with a quoted field over two lines, a blank line, then a row with a column too many on line 6
  const csv = ['text,label', 'hello,pos', '"multi', 'line",neg', '', 'bad row,pos,extra', 'ok,pos', ''];
  test.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('CSV with %s', async (_, eol) => {
    const f = write(`lines-${eol.length}.csv`, csv.join(eol));
    expect(await failure(f)).toEqual({ line: 6, problem: 'malformed CSV: the header has 2 columns, this row 3' });
    const good = write(`good-${eol.length}.csv`, [...csv.slice(0, 5), 'fine,pos', ''].join(eol));
    expect((await rows(good)).map((r) => r.line)).toEqual([2, 3, 6]);
    expect((await rows(good))[1].values.text).toBe(`multi${eol}line`); // the field as written
  });

  test.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('a quoting error in CSV with %s names the line its row starts on', async (_, eol) => {
    const f = write(`quote-${eol.length}.csv`, ['text,label', '"a', 'b', 'c",x', '"bad "q,y', ''].join(eol));
    expect((await failure(f)).line).toBe(5);
  });

  test.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('TSV and JSONL with %s', async (_, eol) => {
    const tsv = write(`l-${eol.length}.tsv`, ['text\tlabel', 'a\tpos', '', 'b\tneg\textra', ''].join(eol));
    expect((await failure(tsv)).line).toBe(4);
    const jsonl = write(`l-${eol.length}.jsonl`, ['{"text":"a"}', '', '{"text":"b"}', '{"text": oops}', ''].join(eol));
    expect((await failure(jsonl)).line).toBe(4);
  });
});

describe('TSV', () => {
  test('quotes are characters: a line starting with a quote is its own row', async () => {
    const f = write('quotes.tsv', 'text\tlabel\n"quoted start\tpos\nsecond\tneg\nthird "x"\tpos\n"fourth"\tneg\nfifth\tpos\n');
    const r = await rows(f);
    expect(r.map((x) => x.values.text)).toEqual(['"quoted start', 'second', 'third "x"', '"fourth"', 'fifth']);
    expect(r.map((x) => x.line)).toEqual([2, 3, 4, 5, 6]);
  });
});

describe('Parquet', () => {
  test('a string that is not UTF-8 is refused, not decoded into U+FFFD', async () => {
    const d = fs.readFileSync(path.join(__dirname, 'fixtures', 'train', 'tiny.parquet'));
    const at = d.indexOf('wonderful'); // stored uncompressed in this fixture: one byte can be changed in place
    expect(at).toBeGreaterThan(0);
    const bad = Buffer.from(d);
    bad[at + 1] = 0xe9;
    const f = write('bad.parquet', bad);
    expect((await failure(f)).problem).toMatch(/not valid UTF-8/);
    expect((await rows(path.join(__dirname, 'fixtures', 'train', 'tiny.parquet'))).length).toBe(24);
  });
});

describe('more line-ending and format cases', () => {
  test('an LF header with CRLF rows leaves no carriage return in any field', async () => {
    const f = write('mixed.csv', 'text,label\nhello,pos\r\nworld,neg\r\n');
    expect((await rows(f)).map((r) => r.values)).toEqual([{ text: 'hello', label: 'pos' }, { text: 'world', label: 'neg' }]);
    const t = write('mixed.tsv', 'text\tlabel\na\tpos\r\n\r\nb\tneg\tx\r\n');
    expect((await failure(t)).line).toBe(4);
  });

  test('a blank CRLF line whose CR ends a read chunk is still blank', async () => {
    // stream chunks are 64 KiB: put the blank line's '\r' at byte 65535, its '\n' in the next chunk
    let body = 'text,label\n';
    while (body.length < 65535 - 200) body += 'x,pos\r\n';
    body += 'y'.repeat(65535 - body.length - ',pos\r\n'.length) + ',pos\r\n';
    expect(body.length).toBe(65535);
    const lines = body.split('\n').length - 1;
    const f = write('boundary.csv', body + '\r\n' + 'bad,row,extra\r\n');
    const e = await failure(f);
    expect(e.line).toBe(lines + 2); // the blank line is lines + 1
  });

  test('a .json file holding an array of row objects is read as rows', async () => {
    const f = write('rows.json', JSON.stringify([{ text: 'a', label: 'pos' }, { text: 'b', label: 'neg' }]));
    expect((await rows(f)).map((r) => [r.line, r.values.text])).toEqual([[1, 'a'], [2, 'b']]);
    const bad = write('bad-rows.json', JSON.stringify([{ text: 'a' }, 'b']));
    expect(await failure(bad)).toEqual({ line: 2, problem: 'each element of the JSON array must be an object of column values' });
  });
});

test('a file whose lines end in CR alone is refused, saying so', async () => {
  const f = write('cr.csv', 'text,label\rfine,pos\rbad,row,x\r');
  expect((await failure(f)).problem).toMatch(/carriage return alone/);
});
