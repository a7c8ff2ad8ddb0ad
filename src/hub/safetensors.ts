// safetensors: a validated reader and an atomic writer.
// The header is checked against the file before any data is touched: header length within
// the file, known dtypes, shape x dtype size equal to each byte span, spans inside the data
// section, not overlapping and leaving no holes (as the reference implementation requires).
import * as fs from 'fs';
import * as path from 'path';
import { fsError } from '../util/fs';
import { DType, itemSize } from '../tensor/dtype';
import { empty } from '../tensor/create';
import { native } from '../tensor/native';
import { Tensor } from '../tensor/tensor';

const TO_DTYPE: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  BOOL: 'bool',
  U8: 'uint8',
};
const FROM_DTYPE: Record<DType, string> = Object.fromEntries(Object.entries(TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, string>;
// Valid in the format, not supported here: a clear error rather than "unknown".
const KNOWN_UNSUPPORTED = new Set(['I8', 'I16', 'U16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);
/** As the reference implementation: a header over 100 MB is refused before it is read. */
const MAX_HEADER = 100 * 1000 * 1000;

export class SafetensorsError extends Error {
  constructor(file: string, msg: string) {
    super(`${file}: ${msg}`);
    this.name = 'SafetensorsError';
  }
}

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** absolute byte offset in the file, and length */
  offset: number;
  length: number;
}

export interface SafetensorsHeader {
  entries: TensorEntry[];
  metadata: Record<string, string>;
}

/** Reads and validates the header of a safetensors file (the data is not read). */
export function readHeader(file: string): SafetensorsHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const bad = (msg: string): never => {
      throw new SafetensorsError(file, msg);
    };
    if (size < 8) bad(`file is ${size} bytes, too short for a safetensors header (8-byte length prefix)`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(size - 8)) bad(`header length ${n} exceeds the file (${size} bytes): truncated or not safetensors`);
    if (n > BigInt(MAX_HEADER)) bad(`header length ${n} is over the ${MAX_HEADER}-byte limit`);
    if (n < 2n) bad(`header length ${n} is too small for a JSON object`);
    const headerLen = Number(n);
    const hbuf = Buffer.alloc(headerLen);
    fs.readSync(fd, hbuf, 0, headerLen, 8);
    let json: unknown;
    try {
      json = JSON.parse(hbuf.toString('utf8'));
    } catch (e) {
      bad(`header is not valid JSON (${(e as Error).message})`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('header is not a JSON object');
    const dataStart = 8 + headerLen;
    const dataSize = size - dataStart;
    const entries: TensorEntry[] = [];
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad('__metadata__ is not an object');
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
          if (typeof v !== 'string') bad(`__metadata__.${k} is not a string`);
        }
        metadata = raw as Record<string, string>;
        continue;
      }
      if (raw === null || typeof raw !== 'object') bad(`tensor '${name}': entry is not an object`);
      const { dtype, shape, data_offsets: offs } = raw as { dtype: unknown; shape: unknown; data_offsets: unknown };
      if (typeof dtype !== 'string') bad(`tensor '${name}': dtype is missing`);
      const dt = TO_DTYPE[dtype as string];
      if (!dt) {
        bad(KNOWN_UNSUPPORTED.has(dtype as string) ? `tensor '${name}': dtype ${dtype} is not supported by fulltune` : `tensor '${name}': unknown dtype '${dtype}'`);
      }
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        bad(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
      }
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
        bad(`tensor '${name}': data_offsets ${JSON.stringify(offs)} is not a pair of non-negative integers`);
      }
      const [begin, end] = offs as [number, number];
      if (end < begin) bad(`tensor '${name}': data_offsets end ${end} is before begin ${begin}`);
      if (end > dataSize) bad(`tensor '${name}': data_offsets [${begin}, ${end}] run past the data section (${dataSize} bytes): truncated file?`);
      // BigInt: an absurd shape must not overflow into a plausible byte count
      const want = (shape as number[]).reduce((acc, d) => acc * BigInt(d), 1n) * BigInt(itemSize(dt!));
      if (want !== BigInt(end - begin)) {
        bad(`tensor '${name}': shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${want} bytes but data_offsets span ${end - begin}`);
      }
      entries.push({ name, dtype: dt!, shape: shape as number[], offset: dataStart + begin, length: end - begin });
    }
    const sorted = [...entries].sort((a, b) => a.offset - b.offset || a.length - b.length);
    let cursor = dataStart;
    for (const e of sorted) {
      if (e.offset < cursor) bad(`tensor '${e.name}' overlaps the tensor before it`);
      if (e.offset > cursor) bad(`bytes ${cursor - dataStart} to ${e.offset - dataStart} of the data section belong to no tensor`);
      cursor = e.offset + e.length;
    }
    if (cursor !== size) bad(`the data section has ${size - cursor} trailing bytes that belong to no tensor`);
    return { entries, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

/** Loads every tensor of a safetensors file: the header is validated, then each span is read once into its tensor. */
export function loadSafetensors(file: string): Map<string, Tensor> {
  const { entries } = readHeader(file);
  const tensors = entries.map((e) => empty(e.shape, { dtype: e.dtype }));
  try {
    native.readInto(file, entries.map((e, i) => [e.offset, e.length, tensors[i].handle]));
  } catch (e) {
    for (const t of tensors) t.dispose();
    throw e;
  }
  return new Map(entries.map((e, i) => [e.name, tensors[i]]));
}

/** Writes tensors to a temp file beside `file`, then renames it into place: a crash leaves the old file whole. */
export function saveSafetensors(file: string, tensors: Map<string, Tensor> | [string, Tensor][], metadata: Record<string, string> = { format: 'pt' }): void {
  const list = [...tensors];
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of list) {
    const dtype = FROM_DTYPE[t.dtype];
    const length = t.numel() * itemSize(t.dtype);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + length] };
    offset += length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // 8-byte aligned data, as the reference writer
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'w');
  } catch (e) {
    throw fsError(e, file, 'write');
  }
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    for (const [, t] of list) {
      const bytes = native.toBytes(t.handle);
      fs.writeSync(fd, bytes);
    }
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw fsError(e, file, 'write');
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fsError(e, file, 'write');
  }
}
