// Tokenised datasets: examples become model features once per (file, tokenizer, settings)
// and are cached on disk. The store is a JSONL file plus a byte-offset index, read a row at a
// time, so a dataset larger than memory streams from the data file to the cache and back.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PreTrainedTokenizer } from '../tokenize/tokenizer';
import { fsError, mkdirp, removeDeadTemps, withFile } from '../util/fs';
import { DataError } from './readers';
import { asSource, DataSource, Dataset, sourceName } from './dataset';
import { Columns, Example, Task, streamExamples } from './tasks';
import { taskSpec } from './specs';
import type { FeaturizeContext } from './specs';

export interface Feature {
  /** token ids */
  ids: number[];
  /** token type ids, when any is non-zero */
  tt?: number[];
  /** class id; multi-hot list; regression target; per-token label ids (-100: none) */
  label?: number | number[];
  /** QA training: answer token span (0, 0 when the window does not hold the answer) */
  start?: number;
  end?: number;
  /** token classification: the word each token came from (null for special tokens) */
  words?: (number | null)[];
  /** token classification: the input's words, so that every word gets a prediction (cut or not) */
  tokens?: string[];
  /** masked-lm: 1 for the tokenizer's special tokens (never drawn as targets) */
  special?: number[];
  /** causal-lm packing: each token's position in its document (restarting at every document) */
  pos?: number[];
  /** QA: the example this window came from, and each token's character span in the context (null outside it) */
  ex?: number;
  offsets?: ([number, number] | null)[];
}

export interface FeatureSettings {
  task: Task;
  columns: Columns;
  maxLength: number;
  /** QA: tokens shared between windows of a long context */
  docStride?: number;
  /** label names in id order (empty for regression and QA) */
  labels: string[];
  skipBadRows?: boolean;
  withLabels?: boolean;
  /** causal-lm: tokens per block (default maxLength) */
  blockSize?: number;
  /** causal-lm: pack documents into blocks (default true) or keep one per example */
  packing?: boolean;
  /** sft: variables chat templates see besides the messages (Qwen3's enable_thinking) */
  chatTemplateKwargs?: Record<string, unknown>;
}

export interface QAExample {
  id: string;
  context: string;
  answers?: { text: string[]; answerStart: number[] };
}

/** Random access to cached features: the index is in memory, the rows are read on demand. */
export class FeatureStore {
  private readonly fd: number;
  private constructor(
    readonly file: string,
    private readonly offsets: Float64Array,
    /** token count of each feature (for length grouping) */
    readonly lengths: Int32Array,
    readonly meta: StoreMeta,
  ) {
    this.fd = fs.openSync(file, 'r');
  }
  get length(): number {
    return this.lengths.length;
  }
  get(i: number): Feature {
    const start = this.offsets[i];
    const len = this.offsets[i + 1] - start;
    const buf = Buffer.alloc(len);
    fs.readSync(this.fd, buf, 0, len, start);
    return JSON.parse(buf.toString('utf8')) as Feature;
  }
  close(): void {
    fs.closeSync(this.fd);
  }
  static open(base: string): FeatureStore {
    const meta = JSON.parse(fs.readFileSync(`${base}.meta.json`, 'utf8')) as StoreMeta;
    const idx = fs.readFileSync(`${base}.idx`);
    const offsets = new Float64Array(idx.buffer.slice(idx.byteOffset, idx.byteOffset + idx.byteLength));
    const lengths = Int32Array.from(meta.lengths);
    return new FeatureStore(`${base}.jsonl`, offsets, lengths, meta);
  }
}

export interface StoreMeta {
  key: string;
  source: string;
  rows: number;
  skipped: { line: number; problem: string }[];
  lengths: number[];
  /** QA examples for postprocessing predictions into answers */
  qa?: QAExample[];
  /** what the task reports about the conversion (documents split, rows truncated, ...) */
  notes?: Record<string, number>;
  /** the task the features were made for */
  task?: string;
  /** tokens that are loss targets, for tasks whose labels are per token (causal-lm, sft) */
  targets?: number;
  /** the largest token id in the features (checked against the model's vocabulary once) */
  maxTokenId?: number;
  /**
   * the special tokens the targets end with (EOS after a document or completion, a chat
   * template's <|im_end|>): a model trained on them must stop generating there too
   */
  endTokens?: number[];
}

export function defaultCacheDir(): string {
  return process.env.FULLTUNE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'fulltune', 'features');
}

async function fileHash(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * The features of `file` for this tokenizer and these settings: from the cache when present,
 * else tokenised now (streaming, a chunk of rows at a time) and cached atomically.
 */
export async function buildFeatures(
  data: DataSource,
  tokenizer: PreTrainedTokenizer,
  s: FeatureSettings,
  o: { cacheDir?: string; onProgress?: (rows: number) => void } = {},
): Promise<FeatureStore> {
  const src = asSource(data);
  const file = sourceName(src);
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify({ v: 7, file: src instanceof Dataset ? src.fingerprint() : await fileHash(src), tok: tokenizer.fingerprint(), s: { ...s, skipBadRows: !!s.skipBadRows, withLabels: s.withLabels ?? true } }))
    .digest('hex')
    .slice(0, 32);
  const dir = o.cacheDir ?? defaultCacheDir();
  const base = path.join(dir, key);
  if (fs.existsSync(`${base}.meta.json`)) return FeatureStore.open(base);
  mkdirp(dir, 'create the feature cache folder (--cache-dir)');
  removeDeadTemps(dir, /^[0-9a-f]{32}\.(\d+)\.tmp/); // what a killed run left half-written
  const tmp = `${base}.${process.pid}.tmp`;
  const out = withFile(`${tmp}.jsonl`, 'write the feature cache', () => fs.openSync(`${tmp}.jsonl`, 'w'));
  const offsets: number[] = [0];
  const lengths: number[] = [];
  const skipped: { line: number; problem: string }[] = [];
  const qa: QAExample[] = [];
  let pos = 0;
  let rows = 0;
  const labelIds = new Map(s.labels.map((l, i) => [l, i]));
  const spec = taskSpec(s.task);
  const ctx: FeaturizeContext = { tokenizer, settings: s, labelIds, file, qa, state: {}, notes: {} };
  let targets = 0;
  let maxTokenId = -1;
  const write = (f: Feature) => {
    if (spec.targets) targets += spec.targets(f);
    for (const id of f.ids) if (id > maxTokenId) maxTokenId = id;
    const line = Buffer.from(JSON.stringify(f) + '\n');
    fs.writeSync(out, line); // a failure is named once, below
    pos += line.length;
    offsets.push(pos);
    lengths.push(f.ids.length);
  };
  // what featurize may change, put back when a row fails (rendering, tokenising)
  const snapshot = () => ({ notes: { ...ctx.notes }, qa: ctx.qa.length, state: structuredClone(ctx.state) });
  const restore = (b: ReturnType<typeof snapshot>) => {
    ctx.notes = b.notes;
    ctx.qa.length = b.qa;
    ctx.state = b.state;
  };
  const problemOf = (e: unknown) => (e instanceof DataError ? e.problem : (e as Error).message.replace(/^encode: /, ''));
  // a row's own failure: a DataError, or a plain Error from the template (raise_exception) or the
  // tokenizer; TypeError, RangeError and the like are faults of the program, never skipped
  const isRowFailure = (e: unknown) => e instanceof DataError || (e instanceof Error && e.constructor === Error);
  const flush = async (chunk: Example[]) => {
    const before = snapshot();
    const skippedBefore = skipped.length;
    let feats: Feature[];
    try {
      feats = await spec.featurize(chunk, ctx);
    } catch (e) {
      if (e instanceof DataError && !s.skipBadRows) throw e;
      restore(before);
      // row by row: name the row that failed, or skip it (--skip-bad-rows) and keep the others
      feats = [];
      for (const ex of chunk) {
        const b = snapshot();
        try {
          feats.push(...(await spec.featurize([ex], ctx)));
        } catch (e2) {
          if (!s.skipBadRows || !isRowFailure(e2)) throw new DataError(file, ex.line, problemOf(e2));
          restore(b);
          skipped.push({ line: ex.line, problem: problemOf(e2) });
        }
      }
    }
    for (const f of feats) write(f);
    rows += chunk.length - (skipped.length - skippedBefore);
    o.onProgress?.(rows);
  };
  try {
    let chunk: Example[] = [];
    for await (const ex of streamExamples(src, s.task, s.columns, { withLabels: s.withLabels, skipBadRows: s.skipBadRows }, skipped)) {
      chunk.push(ex);
      if (chunk.length >= 512) {
        await flush(chunk);
        chunk = [];
      }
    }
    if (chunk.length) await flush(chunk);
    for (const f of spec.finish?.(ctx) ?? []) write(f);
    if (rows === 0) throw new DataError(file, null, `no usable rows (${skipped.length} skipped as bad)`);
  } catch (e) {
    fs.closeSync(out);
    fs.rmSync(`${tmp}.jsonl`, { force: true });
    throw fsError(e, dir, 'write the feature cache'); // file-system errors get the folder's name; others pass as they are
  }
  fs.closeSync(out);
  try {
    const notes = Object.keys(ctx.notes).length ? ctx.notes : undefined;
    skipped.sort((a, b) => a.line - b.line); // rows skipped when read and when featurized, in file order
    finishStore(base, tmp, offsets, { key, source: typeof src === 'string' ? path.resolve(src) : file, rows, skipped, lengths, qa: qa.length ? qa : undefined, notes, task: s.task, targets: spec.targets && (s.withLabels ?? true) ? targets : undefined, maxTokenId, endTokens: endTokens(ctx) });
  } catch (e) {
    for (const ext of ['jsonl', 'idx', 'meta.json.tmp']) fs.rmSync(`${tmp}.${ext}`, { force: true });
    throw fsError(e, dir, 'write the feature cache');
  }
  return FeatureStore.open(base);
}

function endTokens(ctx: FeaturizeContext): number[] | undefined {
  const e = ctx.state.endTokens as number[] | undefined;
  return e?.length ? e : undefined;
}

/** Writes the index and metadata and renames the entry into place, the metadata last (its presence means the entry is whole). */
function finishStore(base: string, tmp: string, offsets: number[], meta: StoreMeta): void {
  fs.writeFileSync(`${tmp}.idx`, Buffer.from(new Float64Array(offsets).buffer));
  fs.writeFileSync(`${tmp}.meta.json.tmp`, JSON.stringify(meta));
  fs.renameSync(`${tmp}.jsonl`, `${base}.jsonl`);
  fs.renameSync(`${tmp}.idx`, `${base}.idx`);
  fs.renameSync(`${tmp}.meta.json.tmp`, `${base}.meta.json`);
}

/** The label names of a training file, streaming (one pass over its label column). */
export async function collectLabels(file: DataSource, task: Task, columns: Columns, skipBadRows: boolean): Promise<string[]> {
  if (!taskSpec(task).hasClassLabels) return [];
  const seen = new Set<string>();
  for await (const e of streamExamples(file, task, columns, { skipBadRows }, [])) {
    for (const l of Array.isArray(e.label) ? e.label : [e.label as string]) seen.add(l);
  }
  const all = [...seen];
  if (all.every((l) => /^-?\d+$/.test(l))) return all.map(Number).sort((a, b) => a - b).map(String);
  return all.sort();
}
