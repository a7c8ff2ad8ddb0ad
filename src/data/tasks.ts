// Rows to examples, per task: the columns a task reads, label parsing and label maps.
// Every row becomes an example or an error naming file, line and problem; with skipBadRows
// bad rows are counted and reported instead. Nothing is dropped silently.
import { asSource, DataSource, Dataset, sourceName } from './dataset';
import { DataError, RawRow, readRows } from './readers';

export const TASKS = ['sequence-classification', 'multi-label', 'regression', 'token-classification', 'question-answering'] as const;
export type Task = (typeof TASKS)[number];

export interface Columns {
  /** text (sequence tasks), question (QA); default "text" ("question" for QA) */
  textColumn?: string;
  /** the second text of pairs (sequence tasks), context (QA); default none ("context" for QA) */
  textPairColumn?: string;
  /** label (sequence tasks), tags (token classification), answers (QA); default "label" ("ner_tags", "answers") */
  labelColumn?: string;
  /** words of token classification; default "tokens" */
  tokensColumn?: string;
}

export interface Example {
  line: number;
  text: string | string[];
  pair?: string;
  /** class name(s) for classification, number for regression, tag names for tokens */
  label?: string | string[] | number;
  /** QA: answers with character offsets into the context */
  answers?: { text: string[]; answerStart: number[] };
  /** QA: a stable id for postprocessing */
  id?: string;
}

export interface ReadResult {
  examples: Example[];
  skipped: { line: number; problem: string }[];
}

export function resolvedColumns(task: Task, c: Columns): Required<Omit<Columns, 'textPairColumn'>> & { textPairColumn?: string } {
  const qa = task === 'question-answering';
  return {
    textColumn: c.textColumn ?? (qa ? 'question' : 'text'),
    textPairColumn: c.textPairColumn ?? (qa ? 'context' : undefined),
    labelColumn: c.labelColumn ?? (qa ? 'answers' : task === 'token-classification' ? 'ner_tags' : 'label'),
    tokensColumn: c.tokensColumn ?? 'tokens',
  };
}

function labelName(v: unknown): string | null {
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  return null;
}

function listOf(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s.startsWith('[')) {
      try {
        const a = JSON.parse(s);
        return Array.isArray(a) ? a : null;
      } catch {
        return null;
      }
    }
    return s === '' ? [] : s.split(/[,;|]/).map((x) => x.trim()).filter((x) => x !== '');
  }
  return null;
}

/** One row to one example; throws a string describing the problem. */
function toExample(task: Task, cols: ReturnType<typeof resolvedColumns>, row: RawRow, withLabels: boolean): Example {
  const v = row.values;
  const need = (c: string) => {
    if (!(c in v)) throw `missing column '${c}' (columns: ${Object.keys(v).join(', ')})`;
    return v[c];
  };
  const str = (c: string) => {
    const x = need(c);
    if (typeof x !== 'string') throw `column '${c}' is ${x === null ? 'null' : typeof x}, expected a string`;
    return x;
  };
  if (task === 'token-classification') {
    const words = listOf(need(cols.tokensColumn));
    if (!words || !words.every((w) => typeof w === 'string')) throw `column '${cols.tokensColumn}' must be a list of strings`;
    const ex: Example = { line: row.line, text: words as string[] };
    if (withLabels) {
      const tags = listOf(need(cols.labelColumn));
      if (!tags) throw `column '${cols.labelColumn}' must be a list of tags`;
      if (tags.length !== words.length) throw `${words.length} words but ${tags.length} tags`;
      const names = tags.map(labelName);
      if (names.some((n) => n === null)) throw `column '${cols.labelColumn}' has a tag that is not a string or number`;
      ex.label = names as string[];
    }
    return ex;
  }
  if (task === 'question-answering') {
    const ex: Example = { line: row.line, text: str(cols.textColumn), pair: str(cols.textPairColumn!), id: String(v.id ?? row.line) };
    if (withLabels) {
      let a = need(cols.labelColumn) as unknown;
      if (typeof a === 'string') {
        try {
          a = JSON.parse(a);
        } catch {
          throw `column '${cols.labelColumn}' is not JSON`;
        }
      }
      const ans = a as { text?: unknown; answer_start?: unknown };
      if (!ans || !Array.isArray(ans.text) || !Array.isArray(ans.answer_start) || ans.text.length !== ans.answer_start.length) {
        throw `column '${cols.labelColumn}' must be {"text": [...], "answer_start": [...]} of equal lengths`;
      }
      const ctx = ex.pair!;
      ans.answer_start.forEach((s, i) => {
        const t = (ans.text as unknown[])[i];
        if (typeof t !== 'string' || !Number.isInteger(s)) throw `answer ${i} must be a string with an integer answer_start`;
        if (ctx.slice(s as number, (s as number) + t.length) !== t) throw `answer ${i} '${t}' is not at character ${s} of the context`;
      });
      ex.answers = { text: ans.text as string[], answerStart: ans.answer_start as number[] };
    }
    return ex;
  }
  const ex: Example = { line: row.line, text: str(cols.textColumn) };
  if (cols.textPairColumn) ex.pair = str(cols.textPairColumn);
  if (!withLabels) return ex;
  const raw = need(cols.labelColumn);
  if (task === 'regression') {
    const x = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof x !== 'number' || !Number.isFinite(x)) throw `label ${JSON.stringify(raw)} is not a number`;
    ex.label = x;
  } else if (task === 'multi-label') {
    const l = listOf(raw);
    if (!l) throw `label ${JSON.stringify(raw)} is not a list of labels`;
    const names = l.map(labelName);
    if (names.some((n) => n === null)) throw `label ${JSON.stringify(raw)} has an entry that is not a string or number`;
    ex.label = names as string[];
  } else {
    const n = labelName(raw);
    if (n === null) throw `label ${JSON.stringify(raw)} is not a string or number`;
    ex.label = n;
  }
  return ex;
}

/** Reads a whole file into examples (use for files that fit in memory; see features.ts for streaming). */
export async function readExamples(file: DataSource, task: Task, columns: Columns, o: { withLabels?: boolean; skipBadRows?: boolean } = {}): Promise<ReadResult> {
  const out: ReadResult = { examples: [], skipped: [] };
  for await (const ex of streamExamples(file, task, columns, o, out.skipped)) out.examples.push(ex);
  return out;
}

export async function* streamExamples(
  data: DataSource,
  task: Task,
  columns: Columns,
  o: { withLabels?: boolean; skipBadRows?: boolean },
  skipped: { line: number; problem: string }[],
): AsyncGenerator<Example> {
  const cols = resolvedColumns(task, columns);
  const withLabels = o.withLabels ?? true;
  const src = asSource(data);
  const file = sourceName(src);
  let first = true;
  for await (const row of src instanceof Dataset ? src.rows() : readRows(src, { badRows: o.skipBadRows ? 'yield' : 'throw' })) {
    if (row.problem !== undefined) {
      skipped.push({ line: row.line, problem: row.problem }); // malformed: only reached with skipBadRows
      continue;
    }
    if (first) {
      // a missing column is a property of the file, not of one row: always an error
      const needed = [task === 'token-classification' ? cols.tokensColumn : cols.textColumn];
      if (cols.textPairColumn && task !== 'token-classification') needed.push(cols.textPairColumn);
      if (withLabels) needed.push(cols.labelColumn);
      const missing = needed.filter((c) => !(c in row.values));
      if (missing.length) throw new DataError(file, row.line, `missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} (columns: ${Object.keys(row.values).join(', ')})`);
      first = false;
    }
    try {
      yield toExample(task, cols, row, withLabels);
    } catch (problem) {
      if (typeof problem !== 'string') throw problem;
      if (!o.skipBadRows) throw new DataError(file, row.line, problem);
      skipped.push({ line: row.line, problem });
    }
  }
}
