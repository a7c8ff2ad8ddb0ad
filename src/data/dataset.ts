// In-memory data for library users: rows or columns in a script, read exactly as a data file is
// (the same columns, checks and feature cache), so that no temporary CSV is needed.
import * as crypto from 'crypto';
import { DataError, RawRow } from './readers';

export class Dataset {
  private constructor(
    private readonly data: Record<string, unknown>[],
    /** how errors name this data ("<rows>" unless given) */
    readonly name: string,
  ) {}

  /** Rows as objects of column values, e.g. [{text: 'great', label: 'pos'}, ...]. Throws TypeError naming a row that is not an object. */
  static fromRows(rows: readonly Record<string, unknown>[], name = '<rows>'): Dataset {
    if (!Array.isArray(rows)) throw new TypeError(`Dataset.fromRows: expected an array of row objects, got ${typeof rows}`);
    rows.forEach((r, i) => {
      if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new TypeError(`Dataset.fromRows: row ${i} is ${JSON.stringify(r)?.slice(0, 60)}, expected an object of column values`);
    });
    if (rows.length === 0) throw new TypeError('Dataset.fromRows: no rows');
    return new Dataset(rows.map((r) => ({ ...r })), name);
  }

  /** Columns of equal length, e.g. {text: ['great', 'bad'], label: ['pos', 'neg']}. Throws TypeError naming a column of another length. */
  static fromColumns(columns: Record<string, readonly unknown[]>, name = '<columns>'): Dataset {
    const entries = Object.entries(columns ?? {});
    if (entries.length === 0) throw new TypeError('Dataset.fromColumns: no columns');
    for (const [k, v] of entries) if (!Array.isArray(v)) throw new TypeError(`Dataset.fromColumns: column '${k}' is not an array`);
    const n = entries[0][1].length;
    for (const [k, v] of entries) if (v.length !== n) throw new TypeError(`Dataset.fromColumns: column '${k}' has ${v.length} values, '${entries[0][0]}' has ${n}`);
    if (n === 0) throw new TypeError('Dataset.fromColumns: no rows');
    return new Dataset(Array.from({ length: n }, (_, i) => Object.fromEntries(entries.map(([k, v]) => [k, v[i]]))), name);
  }

  get length(): number {
    return this.data.length;
  }

  /** The rows, numbered from 1 (errors name "<rows> row N"). */
  async *rows(): AsyncGenerator<RawRow> {
    for (let i = 0; i < this.data.length; i++) yield { line: i + 1, values: this.data[i] };
  }

  /** A content hash: keys the feature cache as a file's hash does. */
  fingerprint(): string {
    const h = crypto.createHash('sha256');
    for (const r of this.data) {
      try {
        h.update(JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
      } catch (e) {
        throw new DataError(this.name, null, `a row cannot be serialised (${(e as Error).message})`);
      }
      h.update('\n');
    }
    return h.digest('hex');
  }
}

/** A data file's path, an in-memory Dataset, or an array of row objects. */
export type DataSource = string | Dataset | readonly Record<string, unknown>[];

export function asSource(d: DataSource): string | Dataset {
  if (typeof d === 'string' || d instanceof Dataset) return d;
  if (Array.isArray(d)) return Dataset.fromRows(d);
  throw new TypeError(`expected a data file path, a Dataset or an array of rows, got ${d === null ? 'null' : typeof d}`);
}

export const sourceName = (d: string | Dataset): string => (typeof d === 'string' ? d : d.name);
