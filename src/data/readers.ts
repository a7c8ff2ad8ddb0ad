// Row readers for CSV/TSV, JSONL and Parquet, with Hugging Face datasets-style columns.
// Every row carries the line it came from, so that errors can name file and line.
import * as fs from 'fs';
import * as path from 'path';
import { isUtf8 } from 'buffer';
import { Transform } from 'stream';
import { parse } from 'csv-parse';

export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly problem: string,
    /** what `line` counts: lines of a text file, or rows (in-memory data, a JSON array) */
    readonly unit: 'line' | 'row' = file.startsWith('<') ? 'row' : 'line',
  ) {
    super(`${file}${line === null ? '' : unit === 'row' ? ` row ${line}` : `:${line}`}: ${problem}`);
    this.name = 'DataError';
  }
}

export interface RawRow {
  /** 1-based line of the row in its file (the data row's first line for CSV; row index + 1 for Parquet) */
  line: number;
  values: Record<string, unknown>;
  /** a malformed row (wrong column count, broken JSON): what is wrong; values is then empty. Only with {badRows: 'yield'}. */
  problem?: string;
}

export interface ReadOptions {
  /** 'throw' (default): a malformed row stops the read with a DataError; 'yield': it comes as a row with `problem` (for --skip-bad-rows) */
  badRows?: 'throw' | 'yield';
}

export type Format = 'csv' | 'tsv' | 'jsonl' | 'parquet' | 'txt';

export function formatOf(file: string): Format {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext === '.parquet') return 'parquet';
  if (ext === '.txt' || ext === '.text') return 'txt';
  throw new DataError(file, null, `unknown data format '${ext}' (expected .csv, .tsv, .jsonl, .parquet or .txt)`);
}

/** Throws a DataError naming `file` unless it is a non-empty data file of a known format; returns the format. */
export function checkDataFile(file: string): ReturnType<typeof formatOf> {
  if (!fs.existsSync(file)) throw new DataError(file, null, 'no such file');
  if (fs.statSync(file).isDirectory()) throw new DataError(file, null, 'is a folder, expected a data file');
  if (fs.statSync(file).size === 0) throw new DataError(file, null, 'the file is empty');
  return formatOf(file);
}

/** Streams the rows of a data file; memory stays bounded for CSV, TSV and JSONL of any size. */
export async function* readRows(file: string, o: ReadOptions = {}): AsyncGenerator<RawRow> {
  const fmt = checkDataFile(file);
  const bad = (line: number, problem: string): RawRow => {
    if (o.badRows !== 'yield') throw new DataError(file, line, problem);
    return { line, values: {}, problem };
  };
  if (fmt === 'jsonl') yield* (await isJsonArray(file)) ? readJsonArray(file) : readJsonl(file, bad);
  else if (fmt === 'parquet') yield* readParquet(file);
  else if (fmt === 'txt') yield* readText(file);
  else yield* readDelimited(file, fmt === 'tsv' ? '\t' : ',', bad);
}

/** A .json file that holds one JSON array of row objects (as datasets reads), not JSON lines. */
async function isJsonArray(file: string): Promise<boolean> {
  if (path.extname(file).toLowerCase() !== '.json') return false;
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return /^(\uFEFF)?\s*\[/.test(head.subarray(0, n).toString('utf8'));
  } finally {
    fs.closeSync(fd);
  }
}

async function* readJsonArray(file: string): AsyncGenerator<RawRow> {
  const text = await new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    fs.createReadStream(file).pipe(new Utf8Lines(file)).on('data', (b: Buffer) => parts.push(b)).on('end', () => resolve(Buffer.concat(parts).toString('utf8'))).on('error', reject);
  });
  let v: unknown;
  try {
    v = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new DataError(file, null, `malformed JSON (${(e as Error).message})`);
  }
  const rows = v as unknown[];
  if (rows.length === 0) throw new DataError(file, null, 'the file has no rows');
  if (!Array.isArray(rows)) throw new DataError(file, null, 'expected a JSON array of row objects');
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    // in a JSON array, rows are numbered (errors say "row N") rather than lines
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new DataError(file, i + 1, 'each element of the JSON array must be an object of column values', 'row');
    yield { line: i + 1, values: r as Record<string, unknown> };
  }
}

/** Offset of the first byte that is not valid UTF-8 in `b`, or -1 (WHATWG decoder rules). */
function firstInvalidUtf8(b: Buffer): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let n = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined) return i; // cut short at the end
      if (d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return -1;
}

/**
 * The bytes of a text file, passed through unchanged, checked to be UTF-8 (a file with other
 * bytes is refused with its line, never decoded into U+FFFD), with the offset of every line
 * break recorded, so that rows can name the physical line they start on whatever the line
 * endings (LF or CRLF; a line is what ends in LF).
 */
class Utf8Lines extends Transform {
  /** byte offsets of each '\n' */
  private readonly breaks: number[] = [];
  /** 1-based lines that hold nothing (or only '\r') */
  private readonly blank = new Set<number>();
  private offset = 0;
  private lineStart = 0;
  private lastByte = -1;
  private tail = Buffer.alloc(0);
  constructor(private readonly file: string) {
    super();
  }
  _transform(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null, data?: Buffer) => void): void {
    const all = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    // hold back an incomplete character at the end for the next chunk
    let cut = all.length;
    for (let k = 1; k <= 3 && k <= all.length; k++) {
      const c = all[all.length - k];
      if (c < 0x80) break;
      if (c >= 0xc0) {
        const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (need > k) cut = all.length - k;
        break;
      }
    }
    const body = all.subarray(0, cut);
    this.tail = Buffer.from(all.subarray(cut));
    const base = this.offset;
    if (!isUtf8(body)) return done(this.invalid(body, base, firstInvalidUtf8(body)));
    if (base === 0 && body.indexOf(10) === -1 && body.indexOf(13) !== -1) {
      // lines end in CR alone (classic Mac OS): no line could be named, and csv-parse would mix them
      return done(new DataError(this.file, null, 'lines end in a carriage return alone (old Mac OS line endings): convert the file to LF or CRLF line endings'));
    }
    for (let i = body.indexOf(10); i !== -1; i = body.indexOf(10, i + 1)) {
      const at = base + i;
      const len = at - this.lineStart;
      if (len === 0 || (len === 1 && (i > 0 ? body[i - 1] : this.lastByte) === 13)) this.blank.add(this.breaks.length + 1);
      this.breaks.push(at);
      this.lineStart = at + 1;
    }
    this.offset += body.length;
    if (body.length) this.lastByte = body[body.length - 1];
    done(null, body);
  }
  _flush(done: (e?: Error | null, data?: Buffer) => void): void {
    if (this.tail.length) return done(this.invalid(this.tail, this.offset, 0));
    done();
  }
  private invalid(body: Buffer, base: number, at: number): DataError {
    const line = this.lineOf(base + at);
    let lineBreaks = 0;
    for (let i = 0; i < at; i++) if (body[i] === 10) lineBreaks++;
    const byte = body[at];
    const utf16 = base === 0 && at <= 1 && (body[0] === 0xff || body[0] === 0xfe);
    const hint = utf16
      ? 'the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8'
      : `byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')} is not UTF-8; the file is probably Latin-1 or Windows-1252: convert it to UTF-8 (e.g. iconv -f windows-1252 -t utf-8)`;
    return new DataError(this.file, line + lineBreaks, `not valid UTF-8: ${hint}`);
  }
  /** 1-based physical line of a byte offset */
  lineOf(offset: number): number {
    let lo = 0;
    let hi = this.breaks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.breaks[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }
  /** 1-based line of the first non-blank line at or after `offset` (where a record starts) */
  recordLine(offset: number): number {
    let line = this.lineOf(offset);
    while (this.blank.has(line)) line++;
    return line;
  }
}

/**
 * Plain text: one row per paragraph (lines up to a blank line, joined with '\n'; datasets'
 * text loader with sample_by="paragraph"), in a column named `text`, lines ending in LF or CRLF.
 */
async function* readText(file: string): AsyncGenerator<RawRow> {
  const src = fs.createReadStream(file).pipe(new Utf8Lines(file));
  const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
  let line = 0;
  let rest = '';
  let para: string[] = [];
  let start = 0;
  let rows = 0;
  const take = (text: string): RawRow | null => {
    line++;
    const t = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (t.trim() === '') {
      if (para.length === 0) return null;
      const row = { line: start, values: { text: para.join('\n') } };
      para = [];
      return row;
    }
    if (para.length === 0) start = line;
    para.push(t);
    return null;
  };
  for await (const chunk of src as AsyncIterable<Buffer>) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      const r = take(l);
      if (r) {
        rows++;
        yield r;
      }
    }
  }
  const last = take(rest + decoder.decode());
  if (last) {
    rows++;
    yield last;
  }
  if (para.length) {
    rows++;
    yield { line: start, values: { text: para.join('\n') } };
  }
  if (rows === 0) throw new DataError(file, null, 'the file has no text (only blank lines)');
}

async function* readJsonl(file: string, bad: (line: number, problem: string) => RawRow): AsyncGenerator<RawRow> {
  const src = fs.createReadStream(file).pipe(new Utf8Lines(file));
  const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
  let line = 0;
  let rows = 0;
  let rest = '';
  const parseLine = (text: string): RawRow | null => {
    line++;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark, as in CSV
    if (text.trim() === '') return null;
    let v: unknown;
    rows++;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return bad(line, `malformed JSON (${(e as Error).message})`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad(line, 'a JSONL row must be a JSON object');
    return { line, values: v as Record<string, unknown> };
  };
  for await (const chunk of src as AsyncIterable<Buffer>) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      const r = parseLine(l);
      if (r) yield r;
    }
  }
  const last = rest + decoder.decode();
  if (last !== '') {
    const r = parseLine(last);
    if (r) yield r;
  }
  if (rows === 0) throw new DataError(file, null, 'the file has no rows');
}

/**
 * CSV (RFC 4180: quoted fields may hold delimiters, quotes and line breaks) and TSV (the
 * tab-separated format: no quoting, a quote is a character, one row per line). Each row names
 * the physical line it starts on.
 */
async function* readDelimited(file: string, delimiter: string, bad: (line: number, problem: string) => RawRow): AsyncGenerator<RawRow> {
  const tsv = delimiter === '\t';
  const lines = new Utf8Lines(file);
  // column counts are checked here, not by csv-parse: its error would come before the rows it
  // has read ahead, and its line count is off for CRLF inside quotes
  const parser = fs.createReadStream(file).pipe(lines).pipe(
    // both line endings in one file (an LF header, CRLF rows): neither leaves a '\r' in a field
    parse({ delimiter, bom: true, info: true, relax_column_count: true, skip_empty_lines: true, quote: tsv ? false : '"', record_delimiter: ['\r\n', '\n'] }),
  );
  lines.on('error', (e) => parser.destroy(e));
  let columns: string[] | null = null;
  let rows = 0;
  let end = 0; // byte offset where the last record (or the header) ended
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { bytes: number } }>) {
      const line = lines.recordLine(end);
      end = rec.info.bytes;
      if (columns === null) {
        columns = rec.record;
        const dup = columns.find((c, i) => columns!.indexOf(c) !== i);
        if (dup !== undefined) throw new DataError(file, line, `the header names column '${dup}' twice`);
        continue;
      }
      rows++;
      if (rec.record.length !== columns.length) {
        yield bad(line, `malformed ${tsv ? 'TSV' : 'CSV'}: the header has ${columns.length} columns, this row ${rec.record.length}`);
        continue;
      }
      const values: Record<string, string> = {};
      columns.forEach((c, i) => (values[c] = rec.record[i]));
      yield { line, values };
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    // a quoting error, in the record that starts where the last whole record (err.bytes) ended
    const err = e as Error & { bytes?: number };
    const msg = err.message.replace(/ at line \d+/, '').replace(/ on line \d+/, '');
    throw new DataError(file, err.bytes !== undefined ? lines.recordLine(err.bytes) : null, `malformed ${tsv ? 'TSV' : 'CSV'} (${msg.replace(/, record delimiter, trimable character \(if activated\) or comment/, ' or end of line')})`);
  }
  if (columns === null) throw new DataError(file, null, 'the file has no header');
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
    // strings decoded strictly: invalid UTF-8 is refused, never turned into U+FFFD
    const strict = new TextDecoder('utf-8', { fatal: true });
    const stringFromBytes = (b: Uint8Array | undefined) => {
      if (!b) return b;
      try {
        return strict.decode(b);
      } catch {
        throw new DataError(file, null, 'a string value is not valid UTF-8 (Parquet strings must be UTF-8)');
      }
    };
    rows = await hp.parquetReadObjects({ file: ab, parsers: { stringFromBytes } });
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, null, `not a readable Parquet file (${(e as Error).message})`);
  }
  if (rows.length === 0) throw new DataError(file, null, 'the file has no rows');
  for (let i = 0; i < rows.length; i++) yield { line: i + 1, values: rows[i] };
}
