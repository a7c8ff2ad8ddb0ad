// The safetensors reader validates before it reads: truncated, lying or hostile files get a
// clear SafetensorsError, never an out-of-bounds read or a crash. Fuzzed here.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-st-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, bytes: Buffer) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, bytes);
  return f;
};

function build(header: Record<string, unknown>, data: Buffer, pad = true): Buffer {
  let json = JSON.stringify(header);
  if (pad) json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), data]);
}

const good = () =>
  build(
    {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
      b: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
    },
    Buffer.concat([Buffer.from(new Float32Array([1, 2, 3, 4]).buffer), Buffer.from(new BigInt64Array([7n]).buffer)]),
  );

// a deterministic PRNG so failures reproduce
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('safetensors', () => {
  test('reads a valid file and writes one that reads back bit-exactly', () => {
    const sd = ft.loadSafetensors(file('good.safetensors', good()));
    expect(sd.get('a')!.toNumbers()).toEqual([1, 2, 3, 4]);
    expect(sd.get('b')!.toArray()).toEqual(new BigInt64Array([7n]));
    const out = path.join(tmp, 'out.safetensors');
    const bf = ft.tensor([1.5, -2], { dtype: 'bfloat16' });
    ft.saveSafetensors(out, [...sd, ['c', bf]]);
    const back = ft.loadSafetensors(out);
    expect(back.get('c')!.dtype).toBe('bfloat16');
    expect(back.get('c')!.toNumbers()).toEqual([1.5, -2]);
    expect(back.get('a')!.toNumbers()).toEqual([1, 2, 3, 4]);
    const n = Number(fs.readFileSync(out).readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0); // data starts 8-byte aligned
    ft.dispose([...sd.values(), ...back.values(), bf]);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  const cases: [string, Buffer, RegExp][] = [
    ['empty file', Buffer.alloc(0), /too short/],
    ['header longer than the file', (() => { const b = good(); b.writeBigUInt64LE(10_000n, 0); return b; })(), /exceeds the file/],
    ['huge header length', (() => { const b = good(); b.writeBigUInt64LE(2n ** 63n, 0); return b; })(), /exceeds the file/],
    ['not JSON', build({}, Buffer.alloc(0)).fill(0x7b, 8), /not valid JSON/],
    ['unknown dtype', build({ a: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(4)), /unknown dtype 'F33'/],
    ['unsupported dtype', build({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /F8_E4M3 is not supported/],
    ['negative shape', build({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, Buffer.alloc(4)), /non-negative integers/],
    ['absurd shape', build({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, Buffer.alloc(4)), /needs \d+ bytes but data_offsets span 4/],
    ['shape lies about size', build({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, Buffer.alloc(8)), /needs 12 bytes/],
    ['span past the end', build({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, Buffer.alloc(8)), /run past the data section/],
    ['huge offsets', build({ a: { dtype: 'U8', shape: [1], data_offsets: [2 ** 52, 2 ** 52 + 1] } }, Buffer.alloc(1)), /run past/],
    ['reversed offsets', build({ a: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, Buffer.alloc(4)), /before begin/],
    ['overlap', build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, Buffer.alloc(12)), /overlaps/],
    ['hole', build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, Buffer.alloc(8)), /belong to no tensor/],
    ['trailing bytes', build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(9)), /trailing bytes/],
    ['metadata not strings', build({ __metadata__: { x: 1 } }, Buffer.alloc(0)), /__metadata__\.x is not a string/],
    ['header is an array', build([] as unknown as Record<string, unknown>, Buffer.alloc(0)), /not a JSON object/],
  ];
  for (const [name, bytes, msg] of cases) {
    test(`rejects: ${name}`, () => {
      const f = file(`${name.replace(/\W/g, '_')}.safetensors`, bytes);
      expect(() => ft.loadSafetensors(f)).toThrow(msg);
      try {
        ft.loadSafetensors(f);
      } catch (e) {
        expect((e as Error).name).toBe('SafetensorsError');
        expect((e as Error).message.startsWith(f)).toBe(true); // names the file
      }
    });
  }

  test('fuzz: every truncation of a valid file is rejected cleanly', () => {
    const g = good();
    for (let n = 0; n < g.length; n++) {
      const f = file('trunc.safetensors', g.subarray(0, n));
      expect(() => ft.loadSafetensors(f)).toThrow(ft.SafetensorsError);
    }
  });

  test('fuzz: 2,000 random mutations of header and length never crash or read out of bounds', () => {
    const r = rng(1234);
    const g = good();
    const base = ft.memory().tensors;
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(g);
      const k = 1 + Math.floor(r() * 4);
      for (let j = 0; j < k; j++) {
        const where = r() < 0.2 ? Math.floor(r() * 8) : 8 + Math.floor(r() * (b.length - 8));
        b[where] = Math.floor(r() * 256);
      }
      const f = file('mut.safetensors', b);
      try {
        const sd = ft.loadSafetensors(f);
        accepted++;
        // what is accepted must be internally consistent
        for (const t of sd.values()) expect(t.numel()).toBeGreaterThanOrEqual(0);
        ft.dispose([...sd.values()]);
      } catch (e) {
        expect((e as Error).name).toBe('SafetensorsError');
      }
    }
    expect(ft.memory().tensors).toBe(base);
    expect(accepted).toBeLessThan(2000);
  });
});
