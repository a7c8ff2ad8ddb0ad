// Reading a model directory's weights, whichever of Hugging Face's layouts it uses.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../tensor/tensor';
import { dispose, keep, tidy } from '../tensor/scope';
import { DType, itemSize } from '../tensor/dtype';
import { native } from '../tensor/native';
import { noGrad } from '../tensor/autograd';
import { empty } from '../tensor/create';
import { TensorEntry, readHeader } from './safetensors';
import { loadTorchBin } from './torchpickle';

export const WEIGHTS = {
  safetensors: 'model.safetensors',
  safetensorsIndex: 'model.safetensors.index.json',
  bin: 'pytorch_model.bin',
  binIndex: 'pytorch_model.bin.index.json',
} as const;

export class CheckpointError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'CheckpointError';
  }
}

interface ShardIndex {
  weight_map: Record<string, string>;
}

/** The weight files a directory holds, in Hugging Face's order of preference, and the shard index when sharded. */
export function weightFiles(dir: string): { kind: 'safetensors' | 'bin'; files: string[]; index: ShardIndex | null } {
  const has = (f: string) => fs.existsSync(path.join(dir, f));
  const sharded = (kind: 'safetensors' | 'bin', indexFile: string) => {
    const index = readIndex(path.join(dir, indexFile));
    return { kind, files: shardFiles(index), index };
  };
  if (has(WEIGHTS.safetensors)) return { kind: 'safetensors', files: [WEIGHTS.safetensors], index: null };
  if (has(WEIGHTS.safetensorsIndex)) return sharded('safetensors', WEIGHTS.safetensorsIndex);
  if (has(WEIGHTS.bin)) return { kind: 'bin', files: [WEIGHTS.bin], index: null };
  if (has(WEIGHTS.binIndex)) return sharded('bin', WEIGHTS.binIndex);
  throw new CheckpointError(
    `${dir}: no weights found (expected ${WEIGHTS.safetensors}, ${WEIGHTS.safetensorsIndex}, ${WEIGHTS.bin} or ${WEIGHTS.binIndex})`,
  );
}

function readIndex(indexFile: string): ShardIndex {
  let idx: unknown;
  try {
    idx = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${indexFile}: not valid JSON (${(e as Error).message})`);
  }
  const wm = (idx as ShardIndex | null)?.weight_map;
  if (!wm || typeof wm !== 'object') throw new CheckpointError(`${indexFile}: no weight_map object`);
  for (const [k, v] of Object.entries(wm)) {
    if (typeof v !== 'string' || v.includes('/') || v.includes('\\') || v.startsWith('.')) {
      throw new CheckpointError(`${indexFile}: weight_map['${k}'] = ${JSON.stringify(v)} is not a shard file name`);
    }
  }
  return idx as ShardIndex;
}

const shardFiles = (index: ShardIndex): string[] => [...new Set(Object.values(index.weight_map))];

/** The shard files a model.safetensors.index.json (or pytorch_model.bin.index.json) names. */
export function shardsOf(indexFile: string): string[] {
  return shardFiles(readIndex(indexFile));
}

/**
 * A checkpoint opened for loading: keys, shapes and dtypes from the headers, data read only
 * when copied into a model (safetensors straight into the parameters' memory).
 */
export interface Checkpoint {
  readonly where: string;
  keys(): string[];
  shape(key: string): number[];
  dtype(key: string): DType;
  /**
   * Copies each key's data into its target (same shape; dtype converted if it differs). A
   * checkpoint opened with `map` makes a target of the file's dtype on the CPU a view of the
   * file instead (mapped copy-on-write: native/mapped.cc), as Python's safetensors loading does.
   */
  copyInto(pairs: [string, Tensor][]): void;
  close(): void;
}

/**
 * Opens the checkpoint in `dir`: every file's header is validated now, data is read later.
 * map: safetensors weights become views of their mapped file (unless FULLTUNE_MMAP=0).
 */
export function openCheckpoint(dir: string, o: { map?: boolean } = {}): Checkpoint {
  const map = !!o.map && process.env.FULLTUNE_MMAP !== '0';
  const { kind, files, index } = weightFiles(dir);
  // Each key in exactly one file, and in the one the index (if any) names; every indexed key present.
  const seen = new Set<string>();
  const checkShard = (file: string, f: string, keys: Iterable<string>) => {
    for (const k of keys) {
      if (seen.has(k)) throw new CheckpointError(`${file}: key '${k}' appears in more than one shard`);
      if (index && index.weight_map[k] !== f) {
        throw new CheckpointError(`${file}: key '${k}' is not mapped to this shard by the index (index says ${index.weight_map[k] ?? 'nothing'})`);
      }
      seen.add(k);
    }
  };
  const checkIndexComplete = () => {
    for (const [k, f] of Object.entries(index?.weight_map ?? {})) {
      if (!seen.has(k)) throw new CheckpointError(`${path.join(dir, f)}: key '${k}' listed in the index is missing from the shard`);
    }
  };
  if (kind === 'safetensors') {
    const entries = new Map<string, { file: string; e: TensorEntry }>();
    for (const f of files) {
      const file = path.join(dir, f);
      const { entries: es } = readHeader(file);
      checkShard(file, f, es.map((e) => e.name));
      for (const e of es) entries.set(e.name, { file, e });
    }
    checkIndexComplete();
    return {
      where: dir,
      keys: () => [...entries.keys()],
      shape: (k) => entries.get(k)!.e.shape,
      dtype: (k) => entries.get(k)!.e.dtype,
      copyInto(pairs) {
        const direct = new Map<string, [number, number, number][]>();
        const unaligned = new Set<string>();
        for (const [k, target] of pairs) {
          const { file, e } = entries.get(k)!;
          if (target.dtype === e.dtype && target.device === 'cpu' && target.isContiguous()) {
            if (!direct.has(file)) direct.set(file, []);
            direct.get(file)!.push([e.offset, e.length, target.handle]);
            // a span off its element size's alignment cannot be viewed in place: all are read
            if (e.offset % itemSize(e.dtype) !== 0) unaligned.add(file);
          } else {
            // another dtype or device: read as stored, then convert into the target
            tidy(() => {
              const staged = empty(e.shape, { dtype: e.dtype });
              native.readInto(file, [[e.offset, e.length, staged.handle]]);
              noGrad(() => target.copy_(staged));
            });
          }
        }
        for (const [file, spans] of direct) {
          if (map && !unaligned.has(file)) native.mapInto(file, spans);
          else native.readInto(file, spans);
        }
      },
      close: () => undefined,
    };
  }
  const tensors = new Map<string, Tensor>();
  try {
    for (const f of files) {
      const file = path.join(dir, f);
      const part = loadTorchBin(file);
      for (const [k, t] of part) tensors.set(k, t);
      checkShard(file, f, part.keys());
    }
    checkIndexComplete();
  } catch (e) {
    dispose(tensors);
    throw e;
  }
  return {
    where: dir,
    keys: () => [...tensors.keys()],
    shape: (k) => [...tensors.get(k)!.shape],
    dtype: (k) => tensors.get(k)!.dtype,
    copyInto(pairs) {
      noGrad(() => {
        for (const [k, target] of pairs) target.copy_(tensors.get(k)!);
      });
    },
    close: () => dispose(tensors),
  };
}

/** Every tensor of the checkpoint in `dir`, by key. The caller disposes them. */
export function loadCheckpoint(dir: string): Map<string, Tensor> {
  const ck = openCheckpoint(dir);
  const out = new Map<string, Tensor>();
  try {
    for (const k of ck.keys()) {
      const t = keep(empty(ck.shape(k), { dtype: ck.dtype(k) }));
      out.set(k, t);
      ck.copyInto([[k, t]]);
    }
  } catch (e) {
    dispose(out);
    throw e;
  } finally {
    ck.close();
  }
  return out;
}
