// pytorch_model.bin: torch.save's zip archive, read without Python.
//
// libtorch's own unpickler (torch::jit::pickle_load) turns collections.OrderedDict into None:
// it only expects OrderedDicts as unused tensor hooks. Hugging Face's .bin files are
// OrderedDict state dicts, so this module reads them itself: the zip's central directory,
// then a small pickle machine that knows only what torch.save writes for a state dict
// (dicts, tuples, tensors rebuilt from storages). It executes nothing; any other global is
// an error naming it. Storages are copied once into tensors; views are checked by libtorch.
import * as fs from 'fs';
import { DType, dtypeCode, itemSize } from '../tensor/dtype';
import { native } from '../tensor/native';
import { Tensor } from '../tensor/tensor';
import { tidy, keep } from '../tensor/scope';

export class TorchPickleError extends Error {
  constructor(file: string, msg: string) {
    super(`${file}: ${msg}`);
    this.name = 'TorchPickleError';
  }
}

interface ZipEntry {
  name: string;
  dataOffset: number;
  size: number;
}

function readZip(buf: Buffer, bad: (m: string) => never): Map<string, ZipEntry> {
  // End of central directory: scan back over the comment (at most 64 KiB)
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad('not a zip archive (torch.save writes one since PyTorch 1.6); legacy .bin files are not supported');
  let count = buf.readUInt16LE(eocd + 10);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff || count === 0xffff) {
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) bad('zip64 end-of-directory locator missing');
    const z64 = Number(buf.readBigUInt64LE(loc + 8));
    if (z64 + 56 > buf.length || buf.readUInt32LE(z64) !== 0x06064b50) bad('zip64 end-of-directory record missing');
    count = Number(buf.readBigUInt64LE(z64 + 32));
    cdOffset = Number(buf.readBigUInt64LE(z64 + 48));
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) bad(`zip central directory entry ${i} is corrupt`);
    const method = buf.readUInt16LE(p + 10);
    let size = buf.readUInt32LE(p + 20);
    let usize = buf.readUInt32LE(p + 24);
    const nlen = buf.readUInt16LE(p + 28);
    const xlen = buf.readUInt16LE(p + 30);
    const clen = buf.readUInt16LE(p + 32);
    let lho = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nlen);
    // zip64 extended information replaces the 0xFFFFFFFF fields, in order
    let x = p + 46 + nlen;
    const xend = x + xlen;
    while (x + 4 <= xend) {
      const id = buf.readUInt16LE(x);
      const len = buf.readUInt16LE(x + 2);
      if (id === 0x0001) {
        let q = x + 4;
        if (usize === 0xffffffff) (usize = Number(buf.readBigUInt64LE(q))), (q += 8);
        if (size === 0xffffffff) (size = Number(buf.readBigUInt64LE(q))), (q += 8);
        if (lho === 0xffffffff) lho = Number(buf.readBigUInt64LE(q));
      }
      x += 4 + len;
    }
    if (method !== 0) bad(`zip entry ${name} is compressed (method ${method}); torch.save stores entries uncompressed`);
    if (usize !== size) bad(`zip entry ${name}: sizes disagree`);
    if (lho + 30 > buf.length || buf.readUInt32LE(lho) !== 0x04034b50) bad(`zip entry ${name}: local header missing`);
    const dataOffset = lho + 30 + buf.readUInt16LE(lho + 26) + buf.readUInt16LE(lho + 28);
    if (dataOffset + size > buf.length) bad(`zip entry ${name} runs past the end of the file (truncated?)`);
    entries.set(name, { name, dataOffset, size });
    p += 46 + nlen + xlen + clen;
  }
  return entries;
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  BoolStorage: 'bool',
  ByteStorage: 'uint8',
};

type Global = { global: string };
type Storage = { storage: true; dtype: DType; key: string; numel: number };
type TensorRef = { tensor: true; storage: Storage; offset: number; size: number[]; stride: number[] };
type Value = null | boolean | number | string | Value[] | Map<Value, Value> | Global | Storage | TensorRef | { mark: true };
const MARK = { mark: true } as const;

function unpickle(data: Buffer, bad: (m: string) => never): Value {
  const stack: Value[] = [];
  const marks: number[] = [];
  const memo = new Map<number, Value>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > data.length) bad('pickle ends early (truncated data.pkl)');
  };
  const u8 = () => (need(1), data[p++]);
  const u16 = () => (need(2), (p += 2), data.readUInt16LE(p - 2));
  const u32 = () => (need(4), (p += 4), data.readUInt32LE(p - 4));
  const i32 = () => (need(4), (p += 4), data.readInt32LE(p - 4));
  const str = (n: number) => (need(n), (p += n), data.toString('utf8', p - n, p));
  const line = () => {
    const e = data.indexOf(0x0a, p);
    if (e < 0) bad('pickle ends inside a GLOBAL');
    const s = data.toString('utf8', p, e);
    p = e + 1;
    return s;
  };
  const pop = (): Value => {
    if (stack.length === 0) bad('pickle stack underflow');
    return stack.pop()!;
  };
  const popMark = (): Value[] => {
    if (marks.length === 0) bad('pickle has no MARK to pop to');
    const m = marks.pop()!;
    return stack.splice(m);
  };
  const isGlobal = (v: Value): v is Global => typeof v === 'object' && v !== null && 'global' in v;
  const call = (fn: Value, args: Value): Value => {
    if (!isGlobal(fn)) bad('REDUCE on something that is not a known global');
    const a = args as Value[];
    switch (fn.global) {
      case 'collections.OrderedDict':
        return new Map();
      case 'torch._utils._rebuild_tensor_v2': {
        const [storage, offset, size, stride] = a as [Storage, number, number[], number[]];
        if (!storage || !(storage as Storage).storage) bad('_rebuild_tensor_v2 without a storage');
        return { tensor: true, storage, offset, size, stride };
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return a[0];
      default:
        return bad(`unsupported global ${fn.global} (fulltune reads state dicts of tensors only)`);
    }
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: need(8); p += 8; break; // FRAME
      case 0x2e: return pop(); // STOP
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x8a: { // LONG1
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]);
        if (n > 0 && data[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: need(8); stack.push(data.readDoubleBE(p)); p += 8; break; // BINFLOAT
      case 0x58: stack.push(str(u32())); break; // BINUNICODE
      case 0x8c: stack.push(str(u8())); break; // SHORT_BINUNICODE
      case 0x55: stack.push(str(u8())); break; // SHORT_BINSTRING
      case 0x54: stack.push(str(u32())); break; // BINSTRING
      case 0x71: memo.set(u8(), stack[stack.length - 1]); break; // BINPUT
      case 0x72: memo.set(u32(), stack[stack.length - 1]); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, stack[stack.length - 1]); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) bad(`pickle memo ${k} is undefined`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x63: { const mod = line(); const name = line(); stack.push({ global: `${mod}.${name}` }); break; } // GLOBAL
      case 0x93: { const name = pop(); const mod = pop(); stack.push({ global: `${mod}.${name}` }); break; } // STACK_GLOBAL
      case 0x51: { // BINPERSID: ('storage', storage type, key, location, numel)
        const pid = pop() as Value[];
        if (!Array.isArray(pid) || pid[0] !== 'storage' || !isGlobal(pid[1])) bad('unsupported persistent id (expected a storage)');
        const typeName = (pid[1] as Global).global.replace(/^torch\./, '');
        const dtype = STORAGE_DTYPES[typeName];
        if (!dtype) bad(`unsupported storage type ${(pid[1] as Global).global}`);
        stack.push({ storage: true, dtype, key: String(pid[2]), numel: Number(pid[4]) });
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, args)); break; } // NEWOBJ
      case 0x62: { // BUILD: only an OrderedDict's _metadata attribute, which state dicts carry
        pop();
        if (!(stack[stack.length - 1] instanceof Map)) bad('BUILD on an object that is not a dict');
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); (stack[stack.length - 1] as Map<Value, Value>).set(k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = stack[stack.length - 1];
        if (!(d instanceof Map)) bad('SETITEMS on something that is not a dict');
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }
      case 0x61: { const v = pop(); (stack[stack.length - 1] as Value[]).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); (stack[stack.length - 1] as Value[]).push(...items); break; } // APPENDS
      default:
        bad(`unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
    if (stack.length > 0 && stack[stack.length - 1] === MARK) bad('internal: mark on stack');
  }
}

/** The state dict of a torch.save'd pytorch_model.bin, as tensors by key. The caller disposes them. */
export function loadTorchBin(file: string): Map<string, Tensor> {
  const bad = (m: string): never => {
    throw new TorchPickleError(file, m);
  };
  const buf = fs.readFileSync(file);
  const zip = readZip(buf, bad);
  const pkl = [...zip.values()].find((e) => e.name.endsWith('/data.pkl') || e.name === 'data.pkl');
  if (!pkl) bad('no data.pkl in the archive: not a torch.save file');
  const prefix = pkl!.name.slice(0, pkl!.name.length - 'data.pkl'.length);
  const order = zip.get(`${prefix}byteorder`);
  if (order && buf.toString('utf8', order.dataOffset, order.dataOffset + order.size) !== 'little') bad('big-endian archives are not supported');
  const root = unpickle(buf.subarray(pkl!.dataOffset, pkl!.dataOffset + pkl!.size), bad);
  if (!(root instanceof Map)) bad('the archive does not hold a state dict (a dict of name to tensor)');
  const out = new Map<string, Tensor>();
  tidy(() => {
    const storages = new Map<string, Tensor>();
    for (const [k, v] of root as Map<Value, Value>) {
      if (typeof k !== 'string') bad('a state dict key is not a string');
      const t = v as TensorRef;
      if (!t || typeof t !== 'object' || !('tensor' in t)) bad(`state dict entry '${k}' is not a tensor`);
      let base = storages.get(t.storage.key);
      if (!base) {
        const rec = zip.get(`${prefix}data/${t.storage.key}`);
        const bytes = t.storage.numel * itemSize(t.storage.dtype);
        if (!rec) bad(`storage ${t.storage.key} of '${k}' is missing from the archive`);
        if (rec!.size !== bytes) bad(`storage ${t.storage.key} holds ${rec!.size} bytes, expected ${bytes}`);
        base = new Tensor(native.fromBytes(buf, rec!.dataOffset, bytes, [t.storage.numel], dtypeCode(t.storage.dtype)));
        storages.set(t.storage.key, base);
      }
      // an independent, compact copy of the view (tied entries get their own copies, as safetensors would)
      out.set(k as string, keep(new Tensor(native.asStrided(base.handle, t.size, t.stride, t.offset)).contiguous().clone()));
    }
  });
  return out;
}
