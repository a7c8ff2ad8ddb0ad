// Data types and devices, with the integer codes shared with native/core.cc.
import { native } from './native';

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool' | 'uint8';
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

const CODES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'bool', 'uint8'];

export function dtypeCode(d: DType): number {
  const c = CODES.indexOf(d);
  if (c < 0) throw new TypeError(`unknown dtype '${String(d)}' (expected one of ${CODES.join(', ')})`);
  return c;
}

export function dtypeOfCode(c: number): DType {
  const d = CODES[c];
  if (d === undefined) throw new Error(`internal: unknown dtype code ${c}`);
  return d;
}

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** Bytes per element, as safetensors and libtorch count them. */
export function itemSize(d: DType): number {
  switch (d) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'float16':
    case 'bfloat16':
      return 2;
    case 'bool':
    case 'uint8':
      return 1;
  }
}

const DEVICE_RE = /^(cpu|cuda)(:\d+)?$/;

let cudaCount: number | undefined;

/** Validates a device name; asking for CUDA where there is none is an Error that says so. */
export function checkDevice(d: string): Device {
  if (typeof d !== 'string' || !DEVICE_RE.test(d) || d.startsWith('cpu:')) {
    throw new TypeError(`unknown device '${String(d)}' (expected 'cpu', 'cuda' or 'cuda:N')`);
  }
  if (d !== 'cpu') {
    cudaCount ??= native.cudaDeviceCount();
    const idx = d === 'cuda' ? 0 : Number(d.slice(5));
    if (cudaCount === 0) throw new Error(`device '${d}': CUDA is not available (a CPU build of libtorch, or no GPU visible)`);
    if (idx >= cudaCount) throw new Error(`device '${d}': only ${cudaCount} CUDA device(s) visible`);
  }
  return d as Device;
}
