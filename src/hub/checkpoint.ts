// Reading a model directory's weights, whichever of Hugging Face's layouts it uses.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../tensor/tensor';
import { dispose } from '../tensor/scope';
import { loadSafetensors } from './safetensors';
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

/** The weight files a directory holds, in Hugging Face's order of preference. */
export function weightFiles(dir: string): { kind: 'safetensors' | 'bin'; files: string[] } {
  const has = (f: string) => fs.existsSync(path.join(dir, f));
  if (has(WEIGHTS.safetensors)) return { kind: 'safetensors', files: [WEIGHTS.safetensors] };
  if (has(WEIGHTS.safetensorsIndex)) return { kind: 'safetensors', files: shardsOf(path.join(dir, WEIGHTS.safetensorsIndex)) };
  if (has(WEIGHTS.bin)) return { kind: 'bin', files: [WEIGHTS.bin] };
  if (has(WEIGHTS.binIndex)) return { kind: 'bin', files: shardsOf(path.join(dir, WEIGHTS.binIndex)) };
  throw new CheckpointError(
    `${dir}: no weights found (expected ${WEIGHTS.safetensors}, ${WEIGHTS.safetensorsIndex}, ${WEIGHTS.bin} or ${WEIGHTS.binIndex})`,
  );
}

interface ShardIndex {
  weight_map: Record<string, string>;
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

export function shardsOf(indexFile: string): string[] {
  return [...new Set(Object.values(readIndex(indexFile).weight_map))];
}

/** Every tensor of the checkpoint in `dir`, by key. The caller disposes them. */
export function loadCheckpoint(dir: string): Map<string, Tensor> {
  const { kind, files } = weightFiles(dir);
  const out = new Map<string, Tensor>();
  const index = files.length > 1 || !Object.values(WEIGHTS).includes(files[0] as never)
    ? readIndex(path.join(dir, kind === 'safetensors' ? WEIGHTS.safetensorsIndex : WEIGHTS.binIndex))
    : null;
  try {
    for (const f of files) {
      const file = path.join(dir, f);
      const part = kind === 'safetensors' ? loadSafetensors(file) : loadBin(file);
      for (const [k, t] of part) {
        if (out.has(k)) throw new CheckpointError(`${file}: key '${k}' appears in more than one shard`);
        if (index && index.weight_map[k] !== f) {
          throw new CheckpointError(`${file}: key '${k}' is not mapped to this shard by the index (index says ${index.weight_map[k] ?? 'nothing'})`);
        }
        out.set(k, t);
      }
    }
    if (index) {
      for (const [k, f] of Object.entries(index.weight_map)) {
        if (!out.has(k)) throw new CheckpointError(`${path.join(dir, f)}: key '${k}' listed in the index is missing from the shard`);
      }
    }
  } catch (e) {
    dispose(out);
    throw e;
  }
  return out;
}

/** pytorch_model.bin (torch.save's format); see torchpickle.ts for why not libtorch's unpickler. */
export function loadBin(file: string): Map<string, Tensor> {
  return loadTorchBin(file);
}
