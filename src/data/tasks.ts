// Rows to examples through the task's spec (specs/): the columns it reads and how a row becomes an example.
// Every row becomes an example or an error naming file, line and problem; with skipBadRows
// bad rows are counted and reported instead. Nothing is dropped silently.
import { asSource, DataSource, Dataset, sourceName } from './dataset';
import { DataError, readRows } from './readers';
import { taskSpec } from './specs';
import type { ChatMessage } from '../tokenize/tokenizer';
import type { ResolvedColumns } from './specs';

export const TASKS = ['sequence-classification', 'multi-label', 'regression', 'token-classification', 'question-answering', 'causal-lm', 'masked-lm', 'sft'] as const;
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
  /** sft: a conversation (messages), or a prompt and completion (strings, or message lists) */
  messages?: ChatMessage[];
  prompt?: string | ChatMessage[];
  completion?: string | ChatMessage[];
}

export interface ReadResult {
  examples: Example[];
  skipped: { line: number; problem: string }[];
}

export function resolvedColumns(task: Task, c: Columns): ResolvedColumns {
  return taskSpec(task).resolveColumns(c);
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
  const spec = taskSpec(task);
  const cols = spec.resolveColumns(columns);
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
      const needed = spec.requiredColumns(cols, withLabels);
      const missing = needed.filter((c) => !(c in row.values));
      if (missing.length) throw new DataError(file, row.line, `missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} (columns: ${Object.keys(row.values).join(', ')})`);
      first = false;
    }
    try {
      yield spec.toExample(cols, row, withLabels);
    } catch (problem) {
      if (typeof problem !== 'string') throw problem;
      if (!o.skipBadRows) throw new DataError(file, row.line, problem);
      skipped.push({ line: row.line, problem });
    }
  }
}
