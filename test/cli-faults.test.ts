// Faults users hit through the command and the library, by kind: native aborts, unchecked
// numbers and names, predictions missing for some inputs, checkpoints that disagree with
// their state, resume under changed settings, the output folder, leftovers and full disks,
// and stopping on signals.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { main } from '../src/cli/main';
import { cli, cliAsync, ROOT } from './cli';

const FX = path.join(__dirname, 'fixtures');
const TINY = path.join(FX, 'train', 'tiny.csv');
const SEQCLS = path.join(FX, 'bert', 'seqcls');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-faults-'));
const cacheDir = path.join(tmp, 'cache');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A run's failure: non-zero exit, one stderr line. */
function fails(r: ReturnType<typeof cli>, code: number, message: RegExp): void {
  expect(r.signal).toBeNull();
  expect(r.stderr.trim()).toMatch(message);
  expect(r.stderr.trim().split('\n').length).toBe(1);
  expect(r.stderr).not.toMatch(/fulltune: fulltune/);
  expect(r.status).toBe(code);
}

/** The command's main() in this process (a child process per case would cost seconds each). */
async function inProcess(args: string[]): Promise<ReturnType<typeof cli>> {
  let stderr = '';
  let stdout = '';
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  try {
    const status = await main(args);
    return { status, stderr, stdout, signal: null, pid: 0, output: [] };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

const train = (out: string, ...more: string[]) => ['train', '--model', SEQCLS, '--output', out, '--train', TINY, '--cache-dir', cacheDir, '--quiet', ...more];

describe('native code never aborts the process', () => {
  test('question answering with a stride beyond the max length is refused, not aborted, and leaves no temporary file', () => {
    const r = cli(['train', '--model', path.join(FX, 'bert', 'qa'), '--output', path.join(tmp, 'qa-stride'), '--task', 'question-answering', '--train', path.join(FX, 'train', 'qa.jsonl'), '--doc-stride', '40', '--max-length', '32', '--cache-dir', cacheDir]);
    fails(r, 2, /--doc-stride 40 must be smaller than --max-length 32 minus the 3 special tokens/);
    if (fs.existsSync(cacheDir)) expect(fs.readdirSync(cacheDir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  test('encode with a stride beyond the max length throws a catchable RangeError', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(SEQCLS);
    await expect(tok.encode(['a fairly long sentence of words for the tokenizer'], { stride: 40, maxLength: 32, returnOverflowing: true })).rejects.toThrow(/stride 40 must be smaller/);
    await expect(tok.encode([['a question', 'a context']], { stride: 40, maxLength: 32 })).rejects.toThrow(RangeError);
  });

  test('every combination of numeric encode options encodes or throws, none aborts', () => {
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'scripts', 'encode-grid.ts'), SEQCLS], { cwd: ROOT, encoding: 'utf8' });
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { ok, caught } = JSON.parse(r.stdout);
    expect(ok).toBeGreaterThan(1000);
    expect(caught).toBeGreaterThan(1000);
  });
});

describe('numbers and names a user gives are checked before work starts', () => {
  test.each([
    [['--batch-size', '0'], /--batch-size must be >= 1, got 0/],
    [['--batch-size', '-1'], /--batch-size must be >= 1, got -1/],
    [['--epochs', '0'], /--epochs must be > 0, got 0/],
    [['--epochs', '-2'], /--epochs must be > 0, got -2/],
    [['--max-length', '0'], /--max-length must be >= 1, got 0/],
    [['--max-length', '100000'], /--max-length 100000 exceeds the model's max_position_embeddings 64/],
    [['--lr', '-1e-5'], /--lr must be > 0/],
    [['--grad-accum', '0'], /--grad-accum must be >= 1/],
    [['--warmup-ratio', '1.5'], /--warmup-ratio must be >= 0 and <= 1/],
    [['--batch-size', '2.5'], /--batch-size needs an integer, got 2.5/],
    [['--lr', 'fast'], /--lr needs a number, got "fast"/],
    [['--metric-for-best-model', 'acc', '--validation', TINY], /no metric 'acc' \(did you mean 'accuracy'\?\)/],
    [['--early-stopping-patience', '2'], /--early-stopping-patience needs --validation/],
    [['--task', 'text-classification'], /unknown task "text-classification" \(did you mean 'sequence-classification'\?/],
    [['--schedule', 'cosin'], /--schedule must be one of .* \(did you mean 'cosine'\?\)/],
    [['--learning_rate', '1e-4'], /unknown flag --learning_rate \(did you mean --lr\?/],
    [['--num_train_epochs', '1'], /did you mean --epochs\?/],
    [['--per_device_train_batch_size', '8'], /did you mean --batch-size\?/],
    [['--batch-sz', '8'], /unknown flag --batch-sz \(did you mean --batch-size\?\)/],
  ])('train %j', async (extra, message) => {
    fails(await inProcess(train(path.join(tmp, 'never'), ...(extra as string[]))), 2, message as RegExp);
    expect(fs.existsSync(path.join(tmp, 'never', 'model.safetensors'))).toBe(false);
  });

  test('eval --batch-size 0 and a --config file with a bad value', async () => {
    fails(await inProcess(['eval', '--model', SEQCLS, '--data', TINY, '--batch-size', '0']), 2, /--batch-size must be >= 1, got 0/);
    const cfg = path.join(tmp, 'flags.json');
    fs.writeFileSync(cfg, JSON.stringify({ per_device_eval_batch_size: 4 }));
    fails(await inProcess(['eval', '--model', SEQCLS, '--data', TINY, '--config', cfg]), 2, /flags.json: unknown key 'per_device_eval_batch_size' for 'eval' \(did you mean --eval-batch-size\?/);
    fs.writeFileSync(cfg, JSON.stringify({ 'batch-size': 0 }));
    fails(await inProcess(['eval', '--model', SEQCLS, '--data', TINY, '--config', cfg]), 2, /flags.json: --batch-size must be >= 1, got 0/);
  });

  test('--help, --version and --no-<flag>', async () => {
    const h = await inProcess(['train', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/--batch-size <n>/);
    expect(h.stdout).toMatch(/differ from transformers/);
    const v = await inProcess(['--version']);
    expect(v.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
    const cfg = path.join(tmp, 'quiet.json');
    fs.writeFileSync(cfg, JSON.stringify({ quiet: true }));
    const r = await inProcess(['eval', '--model', SEQCLS, '--data', TINY, '--config', cfg, '--no-quiet', '--cache-dir', cacheDir]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/tiny.csv: 24 rows/); // --no-quiet won over the file
  });

  test('library options: unknown keys, transformers names, tasks and ranges are refused with the name', async () => {
    const model = await ft.AutoModelForSequenceClassification.fromPretrained(SEQCLS, { warn: () => undefined });
    const base = { outputDir: path.join(tmp, 'lib'), task: 'sequence-classification' as const };
    const make = (args: Record<string, unknown>) => () => new ft.Trainer({ model, labels: ['a', 'b'], args: args as unknown as ft.TrainingArgs });
    expect(make({ ...base, learning_rate: 1 })).toThrow(/unknown option 'learning_rate' \(did you mean 'lr'\?/);
    expect(make({ ...base, num_train_epochs: 1 })).toThrow(/did you mean 'epochs'\?/);
    expect(make({ ...base, batchsize: 4 })).toThrow(/did you mean 'batchSize'\?/);
    expect(make({ ...base, task: 'text-classification' })).toThrow(/did you mean 'sequence-classification'/);
    expect(make({ ...base, batchSize: 0 })).toThrow(/batchSize must be >= 1, got 0/);
    expect(make({ ...base, epochs: -2 })).toThrow(/epochs must be > 0/);
    expect(make({ ...base, metricForBestModel: 'acc' })).toThrow(/no metric 'acc' \(did you mean 'accuracy'\?\)/);
    expect(make({ ...base, earlyStoppingPatience: 2 })).toThrow(/needs evaluation data/);
    model.dispose();
    await expect(ft.AutoModelForSequenceClassification.fromPretrained(SEQCLS, { num_labels: 5 } as never)).rejects.toThrow(/unknown option 'num_labels'.*config: \{ num_labels \}/);
  });

  test.each([
    [{ num_hidden_layers: 1e9 }, /num_hidden_layers/],
    [{ num_hidden_layers: -1 }, /num_hidden_layers must be >= 1, got -1/],
    [{ vocab_size: 0 }, /vocab_size must be >= 1, got 0/],
    [{ hidden_size: 1e7 }, /GB/],
    [{ hidden_dropout_prob: 1.5 }, /hidden_dropout_prob must be >= 0 and < 1/],
  ])('config.json %j is refused by name, before anything is allocated', async (bad, message) => {
    const dir = path.join(tmp, `cfg-${Object.keys(bad)[0]}-${Object.values(bad)[0]}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(SEQCLS)) fs.copyFileSync(path.join(SEQCLS, f), path.join(dir, f));
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, ...bad }));
    const err = await ft.AutoModelForSequenceClassification.fromPretrained(dir, { warn: () => undefined }).then(() => null, (e: Error) => e);
    expect(err).not.toBeNull();
    expect(err!.message).toMatch(message);
    expect(err!.message.length).toBeLessThan(400);
  });
});
