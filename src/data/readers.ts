// Row readers for CSV/TSV, JSONL and Parquet, with Hugging Face datasets-style columns.
// Every row carries the line it came from, so that errors can name file and line.
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { parse } from 'csv-parse';

export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly problem: string,
  ) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${problem}`);
    this.name = 'DataError';
  }
}

export interface RawRow {
  /** 1-based line of the row in its file (the data row's first line for CSV; row index + 1 for Parquet) */
  line: number;
  values: Record<string, unknown>;
}

export type Format = 'csv' | 'tsv' | 'jsonl' | 'parquet';

export function formatOf(file: string): Format {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext === '.parquet') return 'parquet';
  throw new DataError(file, null, `unknown data format '${ext}' (expected .csv, .tsv, .jsonl or .parquet)`);
}

/** Streams the rows of a data file; memory stays bounded for CSV, TSV and JSONL of any size. */
export async function* readRows(file: string): AsyncGenerator<RawRow> {
  if (!fs.existsSync(file)) throw new DataError(file, null, 'no such file');
  if (fs.statSync(file).size === 0) throw new DataError(file, null, 'the file is empty');
  const fmt = formatOf(file);
  if (fmt === 'jsonl') yield* readJsonl(file);
  else if (fmt === 'parquet') yield* readParquet(file);
  else yield* readDelimited(file, fmt === 'tsv' ? '\t' : ',');
}

async function* readJsonl(file: string): AsyncGenerator<RawRow> {
  const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  let rows = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new DataError(file, line, `malformed JSON (${(e as Error).message})`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DataError(file, line, 'a JSONL row must be a JSON object');
    rows++;
    yield { line, values: v as Record<string, unknown> };
  }
  if (rows === 0) throw new DataError(file, null, 'the file has no rows');
}

async function* readDelimited(file: string, delimiter: string): AsyncGenerator<RawRow> {
  const parser = fs.createReadStream(file).pipe(
    parse({ delimiter, columns: true, bom: true, info: true, raw: true, relax_column_count: false, skip_empty_lines: true, relax_quotes: delimiter === '\t' }),
  );
  let rows = 0;
  try {
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number }; raw: string }>) {
      rows++;
      // info.lines is where the record ends; a quoted field may span lines: report where it starts
      const inner = rec.raw.replace(/\r?\n$/, '').split('\n').length - 1;
      yield { line: rec.info.lines - inner, values: rec.record };
    }
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new DataError(file, err.lines ?? null, `malformed ${delimiter === '\t' ? 'TSV' : 'CSV'} (${err.message.replace(/^Invalid Record Length: /, '')})`);
  }
  if (rows === 0) throw new DataError(file, null, 'the file has a header but no rows');
}

async function* readParquet(file: string): AsyncGenerator<RawRow> {
  // hyparquet is an ES module; Node 20 loads it through require() (require(esm)).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hp = require('hyparquet') as typeof import('hyparquet');
  const buf = fs.readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  let rows: Record<string, unknown>[];
  try {
    rows = await hp.parquetReadObjects({ file: ab });
  } catch (e) {
    throw new DataError(file, null, `not a readable Parquet file (${(e as Error).message})`);
  }
  if (rows.length === 0) throw new DataError(file, null, 'the file has no rows');
  for (let i = 0; i < rows.length; i++) yield { line: i + 1, values: rows[i] };
}
