// Faults users hit through the command and the library, by kind: native aborts, unchecked
// numbers and names, predictions missing for some inputs, checkpoints that disagree with
// their state, resume under changed settings, the output folder, leftovers and full disks,
// and stopping on signals.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { handleSignals, main } from '../src/cli/main';
import { claimOutputDir } from '../src/train/output';
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

  test('a thread count the OpenMP runtime would abort on is refused', () => {
    const before = ft.getNumThreads();
    for (const n of [1e9, 0, -1, 2.5, NaN]) expect(() => ft.setNumThreads(n)).toThrow(/setNumThreads: expected an integer from 1 to 1024/);
    expect(ft.getNumThreads()).toBe(before);
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

  test('every data file is checked before work starts: a missing --validation or --data names the file as a missing --train does', async () => {
    const nope = path.join(tmp, 'nope.csv');
    const out = path.join(tmp, 'missing-validation-out');
    fails(await inProcess(['train', '--model', SEQCLS, '--output', out, '--train', TINY, '--validation', nope, '--quiet', '--cache-dir', cacheDir]), 1, new RegExp(`${nope.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no such file`));
    expect(fs.existsSync(out)).toBe(false);
    for (const cmd of ['eval', 'predict']) {
      fails(await inProcess([cmd, '--model', SEQCLS, '--data', nope, '--quiet', '--cache-dir', cacheDir]), 1, /nope\.csv: no such file/);
    }
    fails(await inProcess(['eval', '--model', SEQCLS, '--data', tmp, '--quiet']), 1, /is a folder, expected a data file/);
  });

  test.each([
    ['bert', SEQCLS, { hidden_dropout_prob: 1.5 }, /config\.json: hidden_dropout_prob must be/],
    ['modernbert', path.join(FX, 'encoders', 'modernbert', 'seqcls'), { initializer_cutoff_factor: 0 }, /config\.json: initializer_cutoff_factor must be > 0/],
  ])('fulltune train: a bad %s config.json field stops the run before the data is tokenised, and leaves no output folder', async (_, src, bad, message) => {
    const dir = path.join(tmp, `bad-config-${_}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(src)) if (fs.statSync(path.join(src, f)).isFile()) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, ...bad }));
    const out = path.join(tmp, `bad-config-out-${_}`);
    const r = await inProcess(['train', '--model', dir, '--output', out, '--train', TINY, '--cache-dir', path.join(tmp, `bad-config-cache-${_}`)]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/tokenising/);
    expect(fs.existsSync(path.join(tmp, `bad-config-cache-${_}`))).toBe(false);
    expect(fs.existsSync(out)).toBe(false); // claimed, refused, and the empty folder it made removed
  });
});

describe('every input gets an output', () => {
  test('token classification predict: one entry per word, aligned, null where the model saw none of it', () => {
    const data = path.join(tmp, 'zw.jsonl');
    const words = ['alan', '\u200b', 'turing', 'lives', 'in', 'a', 'small', 'house', 'in', 'london', 'with', 'his', 'old', 'cat'];
    fs.writeFileSync(data, JSON.stringify({ tokens: words, ner_tags: words.map(() => 'O') }) + '\n');
    const r = cli(['predict', '--model', path.join(FX, 'bert', 'tokencls'), '--task', 'token-classification', '--data', data, '--max-length', '12', '--cache-dir', cacheDir]);
    expect(r.status).toBe(0);
    const [p] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(p.tokens).toEqual(words);
    expect(p.labels.length).toBe(14);
    expect(p.scores.length).toBe(14);
    // the zero-width space has no tokens: null, and the words after it keep their own places
    expect(p.labels[1]).toBeNull();
    expect(p.labels[0]).not.toBeNull();
    expect(p.labels[2]).not.toBeNull();
    // 12 tokens hold [CLS], [SEP] and the first 10 word pieces; later words are null, and counted
    const seen = p.labels.filter((l: string | null) => l !== null).length;
    expect(p.unseen).toBe(14 - seen);
    expect(p.labels.slice(seen + 1).every((l: string | null) => l === null)).toBe(true);
  });
});

describe('macro averages over the labels present, as scikit-learn', () => {
  test('perfect predictions with a class absent from gold and predictions give macro F1 1', () => {
    const m = ft.computeMetrics('sequence-classification', { logits: [[5, 0, 0], [0, 5, 0], [5, 0, 0]], labels: [0, 1, 0] }, ['a', 'b', 'c']);
    expect(m.accuracy).toBe(1);
    expect(m.f1_macro).toBe(1);
    expect(m.f1_micro).toBe(1);
  });
});

const readLog = (out: string) => fs.readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('checkpoints hold what their state says', () => {
  test('with early stopping the last checkpoint keeps its own step\'s weights; the output model is the best one; checkpoints load as models', () => {
    const out = path.join(tmp, 'early');
    const r = cli(train(out, '--validation', TINY, '--epochs', '50', '--batch-size', '8', '--lr', '5e-2', '--eval-steps', '2', '--early-stopping-patience', '2'));
    expect(r.status).toBe(0);
    const last = ft.latestCheckpoint(out)!;
    const state = JSON.parse(fs.readFileSync(path.join(last, 'trainer_state.json'), 'utf8'));
    expect(last.endsWith(`checkpoint-${state.globalStep}`)).toBe(true);
    expect(state.bestCheckpoint).toMatch(/^checkpoint-\d+$/); // by name: the folder may move, or be resumed from elsewhere
    const best = path.join(out, 'checkpoints', state.bestCheckpoint as string);
    expect(best).not.toBe(last);
    const weights = (d: string) => fs.readFileSync(path.join(d, 'model.safetensors'));
    expect(weights(last).equals(weights(best))).toBe(false); // before the fix: step-N state over best weights
    expect(weights(out).equals(weights(best))).toBe(true);
    // a checkpoint is a model: the tokenizer is there and eval runs on it
    const e = cli(['eval', '--model', last, '--data', TINY, '--cache-dir', cacheDir, '--quiet']);
    expect(e.status).toBe(0);
    expect(JSON.parse(e.stdout).eval_accuracy).toBeGreaterThanOrEqual(0);
    // the final evaluation (of the best model) is in the log, and metrics.json has train_loss
    expect(readLog(out).some((x) => x.final === 1)).toBe(true);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(typeof m.train_loss).toBe('number');
    expect(typeof m.train_steps_per_second).toBe('number');
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(cfg.fulltune_version).toBeDefined();
    expect(cfg._name_or_path).toBeUndefined();
  });
});

describe('the output folder', () => {
  test('a run into a folder that holds another run is refused; --overwrite-output starts over; --resume with other settings is refused by name', () => {
    const out = path.join(tmp, 'reuse');
    expect(cli(train(out, '--max-steps', '3', '--batch-size', '2', '--save-steps', '1')).status).toBe(0);
    fails(cli(train(out, '--max-steps', '3')), 1, /the output folder is not empty .*--resume.*--overwrite-output/);
    fails(cli(train(out, '--max-steps', '3', '--batch-size', '4', '--save-steps', '1', '--resume')), 1, /cannot resume from .*checkpoint-3: batch size was 2, now 4/);
    // a killed run's leftovers (dead pid 999999) go at the next start
    fs.mkdirSync(path.join(out, 'checkpoints', '.checkpoint-9.999999.tmp'));
    fs.writeFileSync(path.join(out, '.model.safetensors.999999.tmp'), 'x');
    fs.mkdirSync(path.join(out, 'checkpoints', '.checkpoint-2.999999.tmp.old'));
    expect(cli(train(out, '--max-steps', '1', '--overwrite-output')).status).toBe(0);
    expect(fs.readdirSync(path.join(out, 'checkpoints'))).toEqual(['checkpoint-1']); // the old run's are gone
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  test('a second run on the same output folder while the first runs is refused', async () => {
    const out = path.join(tmp, 'busy');
    const first = cliAsync(train(out, '--epochs', '200', '--batch-size', '2', '--logging-steps', '1').filter((a) => a !== '--quiet'));
    await new Promise<void>((resolve) => first.stderr!.on('data', (d: Buffer) => /step 1\//.test(d.toString()) && resolve()));
    const second = cli(train(out, '--max-steps', '1', '--overwrite-output'));
    first.kill('SIGKILL');
    await new Promise((r) => first.on('close', r));
    fails(second, 1, new RegExp(`another fulltune run \\(pid ${first.pid}\\) is writing this output folder`));
    // the dead run's lock does not block the next one
    expect(cli(train(out, '--max-steps', '1', '--overwrite-output')).status).toBe(0);
  });
});

describe('stopping', () => {
  test('SIGTERM saves a checkpoint at the step boundary, exits 143 with a resume line, and --resume finishes the run', async () => {
    const out = path.join(tmp, 'term');
    const args = train(out, '--max-steps', '200', '--batch-size', '2', '--logging-steps', '1', '--seed', '3').filter((a) => a !== '--quiet');
    const child = cliAsync(args);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/step 3\//.test(stderr) && !child.killed) child.kill('SIGTERM');
    });
    const t0 = Date.now();
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code).toBe(143);
    expect(Date.now() - t0).toBeLessThan(60000);
    expect(stderr).toMatch(/stopped by SIGTERM at step \d+; checkpoint saved: .*checkpoint-\d+\n.*--resume/);
    const ck = ft.latestCheckpoint(out)!;
    const step = Number(/checkpoint-(\d+)$/.exec(ck)![1]);
    expect(step).toBeGreaterThanOrEqual(3);
    const resumed = cli([...args, '--resume']);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming from step ${step}`));
    expect(ft.latestCheckpoint(out)).toMatch(/checkpoint-200$/);
  });

  test('a second SIGINT (a second after the first) stops at once; a signal before training stops at once', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const asked: string[] = [];
    let now_: jest.SpyInstance | null = null;
    try {
      const early = handleSignals(() => undefined);
      expect(() => (process.emit as (e: string, s: string) => boolean)('SIGTERM', 'SIGTERM')).toThrow('exit 143');
      early.detach();
      const s = handleSignals(() => undefined);
      s.attach({ requestStop: (r: string) => asked.push(r) } as unknown as ft.Trainer);
      let now = 1_000_000;
      now_ = jest.spyOn(Date, 'now').mockImplementation(() => now);
      (process.emit as (e: string, s: string) => boolean)('SIGINT', 'SIGINT'); // the first: stop at the next step boundary
      expect(asked).toEqual(['SIGINT']);
      // the same Ctrl-C passed on by a launcher (or torchrun's SIGTERM after its SIGINT) within a second: the same request
      (process.emit as (e: string, s: string) => boolean)('SIGTERM', 'SIGTERM');
      expect(asked).toEqual(['SIGINT']);
      now += 1500;
      expect(() => (process.emit as (e: string, s: string) => boolean)('SIGINT', 'SIGINT')).toThrow('exit 130'); // the second: at once
      s.detach();
      expect(process.listenerCount('SIGINT')).toBe(0);
    } finally {
      now_?.mockRestore();
      exit.mockRestore();
      err.mockRestore();
    }
  });
});

describe('full and read-only disks', () => {
  // small tmpfs mounts need root and mount rights; without them the cases are skipped, saying so
  const mnt = path.join(tmp, 'mnt');
  let mounted = false;
  beforeAll(() => {
    fs.mkdirSync(path.join(mnt, 'full'), { recursive: true });
    fs.mkdirSync(path.join(mnt, 'ro'), { recursive: true });
    const a = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=600k', 'tmpfs', path.join(mnt, 'full')]);
    const b = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', path.join(mnt, 'ro')]);
    mounted = a.status === 0 && b.status === 0;
    if (!mounted) console.warn('full/read-only disk tests skipped: cannot mount a tmpfs here (needs root)');
  });
  afterAll(() => {
    spawnSync('umount', [path.join(mnt, 'full')]);
    spawnSync('umount', [path.join(mnt, 'ro')]);
  });

  test('ENOSPC names the file and leaves no half-written checkpoint; EROFS is reported as such', () => {
    if (!mounted) return;
    const full = path.join(mnt, 'full', 'out');
    fails(cli(train(full, '--max-steps', '2')), 1, /checkpoints\/checkpoint-2\/\w+\.safetensors: cannot write: no space left on the device \(ENOSPC\)/);
    expect(fs.readdirSync(path.join(full, 'checkpoints'))).toEqual([]);
    fails(cli(train(path.join(mnt, 'ro', 'out'), '--max-steps', '2')), 1, /ro\/out: cannot create the output folder: the file system is read-only \(EROFS\)/);
    fails(cli(['train', '--model', SEQCLS, '--output', path.join(tmp, 'ro-cache'), '--train', TINY, '--cache-dir', path.join(mnt, 'ro', 'cache'), '--quiet']), 1, /cannot create the feature cache folder \(--cache-dir\): the file system is read-only \(EROFS\)/);
  });
});

describe('loading', () => {
  test('a position_ids buffer in an older checkpoint is ignored without a warning, as transformers does', async () => {
    const dir = path.join(tmp, 'with-position-ids');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(SEQCLS)) fs.copyFileSync(path.join(SEQCLS, f), path.join(dir, f));
    const sd = ft.loadSafetensors(path.join(SEQCLS, 'model.safetensors'));
    const pos = ft.arange(0, 64).to('int64').view(1, 64);
    ft.saveSafetensors(path.join(dir, 'model.safetensors'), [...sd.entries(), ['bert.embeddings.position_ids', pos]], { format: 'pt' });
    const warnings: string[] = [];
    const model = await ft.AutoModelForSequenceClassification.fromPretrained(dir, { warn: (w) => warnings.push(w) });
    expect(warnings.filter((w) => /position_ids/.test(w))).toEqual([]);
    model.dispose();
    ft.dispose([...sd.values(), pos]);
  });
});

describe('review findings, by kind', () => {
  test('--overwrite-output removes nothing when the run fails its checks first', () => {
    const out = path.join(tmp, 'keep');
    expect(cli(train(out, '--max-steps', '1')).status).toBe(0);
    const before = fs.readdirSync(out).sort();
    fails(cli(['train', '--model', SEQCLS, '--output', out, '--train', path.join(tmp, 'tiny.cvs'), '--overwrite-output', '--quiet']), 1, /no such file/);
    expect(fs.readdirSync(out).sort()).toEqual(before);
  });

  test('eval and predict refuse an untrained head and a head trained for another task', async () => {
    fails(await inProcess(['predict', '--model', path.join(FX, 'bert', 'base'), '--data', TINY, '--quiet', '--cache-dir', cacheDir]), 2, /has no trained sequence-classification head/);
    fails(await inProcess(['predict', '--model', SEQCLS, '--data', path.join(FX, 'train', 'ner.jsonl'), '--task', 'token-classification', '--quiet', '--cache-dir', cacheDir]), 2, /holds a BertForSequenceClassification, trained for --task sequence-classification, not token-classification: pass --task sequence-classification/);
    fails(await inProcess(['predict', '--model', SEQCLS, '--data', TINY, '--skip-bad-rows']), 2, /unknown flag --skip-bad-rows/); // every row gets an output
    fails(await inProcess(['train', '--model', SEQCLS, '--output', path.join(tmp, 'never2'), '--train', TINY, '--device', 'cuda:0']), 2, /--device cuda:0: no CUDA device here/);
  });

  test.each([
    [{ num_labels: 1e8 }, /num_labels must be an integer from 1 to 1000000, got 100000000/],
    [{ num_labels: 2.5 }, /num_labels must be an integer/],
    [{ num_labels: -3 }, /num_labels must be an integer/],
  ])('config.json %j (without id2label) is refused', async (bad, message) => {
    const dir = path.join(tmp, `labels-${bad.num_labels}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(SEQCLS)) fs.copyFileSync(path.join(SEQCLS, f), path.join(dir, f));
    const { id2label: _a, label2id: _b, ...cfg } = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, ...bad }));
    await expect(ft.AutoModelForSequenceClassification.fromPretrained(dir, { warn: () => undefined })).rejects.toThrow(message);
    await expect(ft.AutoModelForSequenceClassification.fromPretrained(SEQCLS, { warn: () => undefined, config: { num_labels: 1e9 } })).rejects.toThrow(/num_labels must be an integer/);
  });

  test('encode refuses lengths the Rust side would wrap around', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(SEQCLS);
    await expect(tok.encode(['hello world'], { maxLength: 2 ** 32 + 3 })).rejects.toThrow(/maxLength must be at most 2147483647/);
  });

  test('--skip-bad-rows skips malformed rows too (column counts, broken JSON), each listed', () => {
    const csv = path.join(tmp, 'malformed.csv');
    fs.writeFileSync(csv, 'text,label\nfine movie,pos\nbad,row,x\nanother one,neg\n');
    const jsonl = path.join(tmp, 'malformed.jsonl');
    fs.writeFileSync(jsonl, '{"text":"fine","label":"pos"}\n{"text": oops}\n{"text":"ok","label":"neg"}\n');
    for (const [file, line] of [[csv, 3], [jsonl, 2]] as const) {
      fails(cli(['eval', '--model', SEQCLS, '--data', file, '--cache-dir', cacheDir, '--quiet']), 1, new RegExp(`${path.basename(file)}:${line}: malformed`));
      const r = cli(['eval', '--model', SEQCLS, '--data', file, '--cache-dir', cacheDir, '--skip-bad-rows']);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`skipped 1 bad row[^]*line ${line}: malformed`));
    }
  });

  test('the library seeds like transformers\' Trainer: two identical runs give identical weights, with dropout on', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(SEQCLS);
    const labels = ['neg', 'neutral', 'pos'];
    const data = await ft.prepareFeatures({ data: TINY, tokenizer: tok, task: 'sequence-classification', labels, maxLength: 32, cacheDir });
    const finals: number[][] = [];
    for (const k of [1, 2]) {
      const model = await ft.AutoModelForSequenceClassification.fromPretrained(SEQCLS, { warn: () => undefined });
      const trainer = new ft.Trainer({ model, tokenizer: tok, train: data, labels, args: { outputDir: path.join(tmp, `seeded-${k}`), task: 'sequence-classification', maxSteps: 3, batchSize: 8, lr: 1e-3, maxGradNorm: 0, loggingSteps: 1, quiet: true } });
      await trainer.train();
      expect(trainer.log.every((e) => !('grad_norm' in e))).toBe(true); // not measured without clipping
      finals.push(ft.tidy(() => ft.cat(model.parameters().map((p) => p.flatten())).toNumbers()));
      model.dispose();
    }
    expect(finals[1]).toEqual(finals[0]);
  });

  test('a stop during an evaluation is resumed by that evaluation; a stop during the final one rejects with TrainingInterrupted', async () => {
    const tok = await ft.AutoTokenizer.fromPretrained(SEQCLS);
    const labels = ['neg', 'neutral', 'pos'];
    const data = await ft.prepareFeatures({ data: TINY, tokenizer: tok, task: 'sequence-classification', labels, maxLength: 32, cacheDir });
    const run = async (out: string, o: { stopAtStep?: number; resume?: boolean; stopOnFinalSave?: boolean }) => {
      const model = await ft.AutoModelForSequenceClassification.fromPretrained(SEQCLS, { warn: () => undefined });
      let trainer: ft.Trainer;
      // with loadBestModelAtEnd a stop at step 6's save lands either before the end (step 6 improved and was saved
      // as the best) or in the final evaluation of the best model: both must reject, naming step 6
      const args = { outputDir: out, task: 'sequence-classification' as const, epochs: 2, batchSize: 8, evalBatchSize: 2, lr: 1e-3, loggingSteps: 1, quiet: true, resume: o.resume, loadBestModelAtEnd: o.stopOnFinalSave };
      // eslint-disable-next-line prefer-const
      trainer = new ft.Trainer({
        model, tokenizer: tok, train: data, eval: data, labels, args,
        callbacks: {
          // 3 steps an epoch: a stop after step 3 lands in the evaluation at the epoch's end
          onStepEnd: ({ step }) => void (step === o.stopAtStep && trainer.requestStop('test')),
          onSave: (_, step) => void (o.stopOnFinalSave && step === 6 && trainer.requestStop('test')),
        },
      });
      try {
        await trainer.train();
        return { trainer, error: null as Error | null };
      } catch (e) {
        return { trainer, error: e as Error };
      } finally {
        model.dispose();
      }
    };
    const evalSteps = (t: ft.Trainer) => t.log.filter((e) => 'eval_loss' in e && !('final' in e)).map((e) => e.step);
    const full = await run(path.join(tmp, 'ev-full'), {});
    expect(evalSteps(full.trainer)).toEqual([3, 6]);
    const stopped = await run(path.join(tmp, 'ev-stop'), { stopAtStep: 3 });
    expect(stopped.error?.name).toBe('TrainingInterrupted');
    const state = JSON.parse(fs.readFileSync(path.join(tmp, 'ev-stop', 'checkpoints', 'checkpoint-3', 'trainer_state.json'), 'utf8'));
    expect(state.pendingEvaluation).toBe(true);
    const resumed = await run(path.join(tmp, 'ev-stop'), { resume: true });
    expect(resumed.error).toBeNull();
    expect(evalSteps(resumed.trainer)).toEqual([3, 6]);
    const last = await run(path.join(tmp, 'ev-final'), { stopOnFinalSave: true });
    expect(last.error?.name).toBe('TrainingInterrupted');
    expect(last.error?.message).toMatch(/stopped by test at step 6/);
  });

  test('a lock left by an earlier process with this pid (a container\'s pid 1) is not taken for this one', () => {
    const out = path.join(tmp, 'pid1');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, '.fulltune.lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), token: 'an-earlier-run' }));
    fs.writeFileSync(path.join(out, 'log.jsonl'), '{}\n');
    expect(() => claimOutputDir(out, { resume: false, overwrite: false })).toThrow(/the output folder is not empty/);
    const release = claimOutputDir(out, { resume: true, overwrite: false });
    expect(JSON.parse(fs.readFileSync(path.join(out, '.fulltune.lock'), 'utf8')).token).not.toBe('an-earlier-run');
    release();
    expect(fs.existsSync(path.join(out, '.fulltune.lock'))).toBe(false);
  });

  test('resume refuses changed warmup, weight decay, clipping, precision and evaluation settings', () => {
    const out = path.join(tmp, 'resume-more');
    const base = ['--max-steps', '4', '--batch-size', '4', '--save-steps', '2'];
    expect(cli(train(out, ...base)).status).toBe(0);
    fails(cli(train(out, ...base, '--resume', '--warmup-ratio', '0.5', '--weight-decay', '0.3')), 1, /warmup steps .* was 1, now 2; weight decay was 0.01, now 0.3/);
  });

  test('the command exits quietly when its reader closes the pipe', () => {
    const r = spawnSync('sh', ['-c', `${process.execPath} -r ts-node/register/transpile-only ${path.join(ROOT, 'src', 'cli', 'main.ts')} train --help | head -1`], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('Usage: fulltune train [options]');
    expect(r.stderr).toBe('');
  });
});

test('a tokenizer.json that carries its own padding and truncation (all-MiniLM-L6-v2 pads to 128) counts 2 special tokens, not 128', async () => {
  const src = path.join(FX, 'bert', 'tokenizer-json');
  const dir = path.join(tmp, 'tok-padded');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  j.padding = { strategy: { Fixed: 128 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' };
  j.truncation = { max_length: 128, strategy: 'LongestFirst', stride: 0 };
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(j));
  const tok = await ft.AutoTokenizer.fromPretrained(dir);
  expect(await tok.numSpecialTokens(false)).toBe(2);
  expect(await tok.numSpecialTokens(true)).toBe(3);
  const e = await tok.encode(['a short text'], { maxLength: 64 });
  expect(e.inputIds[0].length).toBeLessThan(10);
});
