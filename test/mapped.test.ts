// Weights mapped from their safetensors file (native/mapped.cc), as Python's loading maps them:
// the same weights and logits as reading them, the file untouched by training, the mapping gone
// with the model, and a file truncated or rewritten while mapped gives an error naming it, not
// a SIGBUS or silently different weights.
import { spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { native } from '../src/tensor/native';

const ROOT = path.resolve(__dirname, '..');
const FX = path.join(__dirname, 'fixtures', 'bert', 'seqcls');
const CHILD = path.join(__dirname, 'scripts', 'mapped-child.ts');
const quiet = { warn: () => undefined };
const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-mapped-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function copyModel(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(FX, dir, { recursive: true });
  return dir;
}

async function load(dir: string, mmap: boolean): Promise<ft.PreTrainedModel & { forward(x: unknown): { logits: ft.Tensor } }> {
  const before = process.env.FULLTUNE_MMAP;
  process.env.FULLTUNE_MMAP = mmap ? '1' : '0';
  try {
    return (await ft.AutoModelForSequenceClassification.fromPretrained(dir, quiet)) as never;
  } finally {
    if (before === undefined) delete process.env.FULLTUNE_MMAP;
    else process.env.FULLTUNE_MMAP = before;
  }
}

test('mapped weights equal read weights, give the same logits, and the mapping goes with the model', async () => {
  const dir = copyModel('same');
  const file = path.join(dir, 'model.safetensors');
  const mapped = await load(dir, true);
  expect(native.mappedFiles()).toEqual([file]);
  const read = await load(dir, false);
  expect(native.mappedFiles()).toEqual([file]);
  const a = mapped.stateDict();
  const b = read.stateDict();
  for (const [k, t] of a) expect(t.toNumbers()).toEqual(b.get(k)!.toNumbers());
  mapped.eval();
  read.eval();
  const ids = ft.tensor([[2, 10, 11, 12, 3]], { dtype: 'int64' });
  const logits = (m: typeof mapped) => ft.noGrad(() => ft.tidy(() => m.forward({ inputIds: ids }).logits.toNumbers()));
  expect(logits(mapped)).toEqual(logits(read));
  ids.dispose();
  read.dispose();
  mapped.dispose();
  expect(native.mappedFiles()).toEqual([]);
});

test('training mapped weights changes the weights, never the file (copy-on-write)', async () => {
  const dir = copyModel('train');
  const file = path.join(dir, 'model.safetensors');
  const hash = sha(file);
  const model = await load(dir, true);
  model.train();
  const params = model.parameters();
  const start = params[0].toNumbers();
  const opt = new ft.AdamW(params, { lr: 1e-2 });
  const ids = ft.tensor([[2, 10, 11, 12, 3]], { dtype: 'int64' });
  const labels = ft.tensor([1], { dtype: 'int64' });
  for (let s = 0; s < 2; s++) {
    ft.tidy(() => (model.forward({ inputIds: ids, labels }) as unknown as { loss: ft.Tensor }).loss.backward());
    opt.step();
    opt.zeroGrad();
  }
  expect(params[0].toNumbers()).not.toEqual(start);
  expect(sha(file)).toBe(hash);
  opt.dispose();
  ft.dispose([ids, labels]);
  model.dispose();
});

function child(dir: string, change: (file: string) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; result: { before: number[]; error: string | null; calls: number } }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', CHILD, dir], { cwd: ROOT, env: { ...process.env, FULLTUNE_MMAP: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready\n') && !out.includes('changed')) {
        out += 'changed\n';
        change(path.join(dir, 'model.safetensors'));
        p.stdin.write('go\n');
      }
    });
    p.on('error', reject);
    const timer = setTimeout(() => p.kill('SIGKILL'), 40000); // never a hung test
    p.on('exit', () => clearTimeout(timer));
    p.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop()!;
      try {
        resolve({ code, signal, result: JSON.parse(last) });
      } catch {
        reject(new Error(`child ended ${code ?? signal}: ${out}\n${err}`));
      }
    });
  });
}

test('a mapped file truncated under the model: the next forward fails naming the file, no SIGBUS', async () => {
  const dir = copyModel('truncated');
  const r = await child(dir, (file) => fs.truncateSync(file, 4096));
  expect(r.signal).toBeNull();
  expect(r.code).toBe(0);
  expect(r.result.error).toContain(`${path.join(dir, 'model.safetensors')} was truncated while its weights were mapped from it`);
}, 60000);

test('a mapped file rewritten in place (same size): a forward fails naming the file', async () => {
  const dir = copyModel('rewritten');
  const r = await child(dir, (file) => {
    const fd = fs.openSync(file, 'r+');
    const size = fs.fstatSync(fd).size;
    fs.writeSync(fd, Buffer.alloc(65536, 7), 0, 65536, size - 65536 - 8); // weights' bytes, not the header
    fs.closeSync(fd);
  });
  expect(r.signal).toBeNull();
  expect(r.result.error).toContain(`${path.join(dir, 'model.safetensors')} changed while its weights were mapped from it`);
}, 60000);
