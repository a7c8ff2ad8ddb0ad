// The `fulltune` command: train, eval, predict. A contract other tools depend on: keep it stable.
import * as fs from 'fs';
import * as path from 'path';
import { FeatureStore } from '../data/features';
import { DataError } from '../data/readers';
import { Columns, Task } from '../data/tasks';
import { savePretrained } from '../hub/pretrained';
import { manualSeed } from '../tensor/create';
import { Device } from '../tensor/dtype';
import { PreTrainedTokenizer } from '../tokenize/tokenizer';
import { qaAnswers } from '../train/evaluate';
import { defaultMaxLength, features, headConfig, loadTaskModel, modelConfig, resolveLabels } from '../train/prepare';
import { renderReport } from '../train/report';
import { Trainer, TrainingArgs } from '../train/trainer';
import { Parsed, UsageError, helpText, parseFlags } from './flags';

function readConfigFile(file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--config ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `invalid JSON (${(e as Error).message})`}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`--config ${file}: expected a JSON object of flags`);
  return v as Record<string, unknown>;
}

const str = (f: Parsed, k: string) => f[k] as string | undefined;
const num = (f: Parsed, k: string) => f[k] as number | undefined;

function need(f: Parsed, command: string, ...keys: string[]): void {
  const missing = keys.filter((k) => f[k] === undefined);
  if (missing.length) throw new UsageError(`fulltune ${command}: missing ${missing.map((m) => `--${m}`).join(', ')}`);
}

function columns(f: Parsed, task: Task): Columns {
  const c: Columns = { labelColumn: str(f, 'label-column'), textPairColumn: str(f, 'text-pair-column') };
  if (task === 'token-classification') c.tokensColumn = str(f, 'text-column');
  else c.textColumn = str(f, 'text-column');
  return c;
}

function reportSkipped(name: string, store: FeatureStore, log: (s: string) => void): void {
  const sk = store.meta.skipped;
  if (sk.length === 0) return;
  log(`${name}: skipped ${sk.length} bad row${sk.length > 1 ? 's' : ''} (--skip-bad-rows):`);
  for (const s of sk.slice(0, 10)) log(`  line ${s.line}: ${s.problem}`);
  if (sk.length > 10) log(`  ... and ${sk.length - 10} more`);
}

async function train(f: Parsed): Promise<void> {
  need(f, 'train', 'model', 'output', 'train');
  const task = f.task as Task;
  const out = str(f, 'output')!;
  const log = (s: string) => {
    if (!f.quiet) process.stderr.write(s + '\n');
  };
  const seed = num(f, 'seed')!;
  manualSeed(seed);
  const { dir: modelDir, config } = await modelConfig(str(f, 'model')!);
  const tok = await PreTrainedTokenizer.fromPretrained(modelDir);
  const cols = columns(f, task);
  const maxLength = num(f, 'max-length') ?? defaultMaxLength(tok, config);
  const skipBadRows = !!f['skip-bad-rows'];
  const labels = await resolveLabels(task, config, str(f, 'train')!, cols, skipBadRows);
  const common = { columns: cols, maxLength, labels, docStride: num(f, 'doc-stride'), skipBadRows, cacheDir: str(f, 'cache-dir') };
  log(`tokenising ${str(f, 'train')} (max length ${maxLength})`);
  const trainSet = await features(str(f, 'train')!, tok, task, common);
  reportSkipped(str(f, 'train')!, trainSet, log);
  const evalSet = str(f, 'validation') ? await features(str(f, 'validation')!, tok, task, common) : undefined;
  if (evalSet) reportSkipped(str(f, 'validation')!, evalSet, log);
  const model = await loadTaskModel(task, modelDir, { config: headConfig(task, labels), warn: (w) => log(`warning: ${w}`), ignoreMismatchedHead: true });
  const device = f.device as Device;
  if (device !== 'cpu') model.to(device);
  const args: TrainingArgs = {
    outputDir: out,
    task,
    epochs: num(f, 'epochs'),
    maxSteps: num(f, 'max-steps'),
    batchSize: num(f, 'batch-size'),
    lr: num(f, 'lr'),
    weightDecay: num(f, 'weight-decay'),
    schedule: f.schedule as TrainingArgs['schedule'],
    warmupRatio: num(f, 'warmup-ratio'),
    warmupSteps: num(f, 'warmup-steps'),
    gradAccum: num(f, 'grad-accum'),
    maxGradNorm: num(f, 'max-grad-norm'),
    optimizer: f.optimizer as TrainingArgs['optimizer'],
    seed,
    device,
    bf16: !!f.bf16,
    fp16: !!f.fp16,
    sampler: f.sampler as TrainingArgs['sampler'],
    evalSteps: num(f, 'eval-steps'),
    saveSteps: num(f, 'save-steps'),
    saveTotalLimit: num(f, 'save-total-limit'),
    loggingSteps: num(f, 'logging-steps'),
    metricForBestModel: str(f, 'metric-for-best-model'),
    earlyStoppingPatience: num(f, 'early-stopping-patience'),
    skipNonfinite: !!f['skip-nonfinite'],
    resume: f.resume as boolean | string | undefined,
    quiet: !!f.quiet,
  };
  fs.mkdirSync(out, { recursive: true });
  const trainer = new Trainer({ model, tokenizer: tok, train: trainSet, eval: evalSet, labels, args });
  const { metrics } = await trainer.train();
  savePretrained(model, out);
  tok.save(out);
  const skipped = trainSet.meta.skipped.length + (evalSet?.meta.skipped.length ?? 0);
  const allMetrics = { ...metrics, train_rows: trainSet.meta.rows, skipped_rows: skipped, peak_rss_mb: process.resourceUsage().maxRSS / 1024 };
  fs.writeFileSync(path.join(out, 'metrics.json'), JSON.stringify(allMetrics, null, 2) + '\n');
  fs.writeFileSync(path.join(out, 'report.html'), renderReport(`fulltune: ${path.basename(out)}`, trainer.log, allMetrics, { ...f }));
  const shown = Object.entries(metrics).filter(([k]) => k.startsWith('eval_') && !/runtime|per_second/.test(k));
  log(`done: ${shown.map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ') || 'no validation data'}  -> ${out}`);
}

/** Model, tokenizer, the --data features and a Trainer to run them, for eval and predict. */
async function loadForInference(f: Parsed, command: 'eval' | 'predict') {
  need(f, command, 'model', 'data');
  const task = f.task as Task;
  const { dir, config } = await modelConfig(str(f, 'model')!);
  const tok = await PreTrainedTokenizer.fromPretrained(dir);
  const model = await loadTaskModel(task, dir, { warn: () => undefined });
  // the parsed config always names its labels (LABEL_i when config.json has none, as transformers)
  const labels = await resolveLabels(task, model.config, null, {}, false);
  const device = f.device as Device;
  if (device !== 'cpu') model.to(device);
  const maxLength = num(f, 'max-length') ?? defaultMaxLength(tok, config);
  const withLabels = command === 'eval';
  const data = await features(str(f, 'data')!, tok, task, {
    columns: columns(f, task), maxLength, labels, docStride: num(f, 'doc-stride'),
    skipBadRows: withLabels && !!f['skip-bad-rows'], withLabels, cacheDir: str(f, 'cache-dir'),
  });
  const trainer = new Trainer({ model, tokenizer: tok, eval: data, labels, args: { outputDir: '', task, batchSize: num(f, 'batch-size'), device, bf16: !!f.bf16, fp16: !!f.fp16, quiet: true } });
  return { task, labels, data, trainer };
}

async function evaluate(f: Parsed): Promise<void> {
  const { data, trainer } = await loadForInference(f, 'eval');
  reportSkipped(str(f, 'data')!, data, (s) => process.stderr.write(s + '\n'));
  const m = await trainer.evaluate();
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, v]) => [`eval_${k}`, v]))) + '\n');
}

async function predict(f: Parsed): Promise<void> {
  const { task, labels, data, trainer } = await loadForInference(f, 'predict');
  const p = await trainer.predictRaw(data);
  const outFile = str(f, 'output');
  const sink = outFile ? fs.openSync(outFile, 'w') : 1;
  const write = (o: unknown) => fs.writeSync(sink, JSON.stringify(o) + '\n');
  const softmax = (v: number[]) => {
    const m = Math.max(...v);
    const e = v.map((x) => Math.exp(x - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  };
  if (task === 'question-answering') {
    for (const a of qaAnswers(p, data)) write({ id: a.id, answer: a.text, score: a.score });
  } else if (task === 'token-classification') {
    // one tag per input word: the prediction of its first sub-token (words cut by --max-length get none)
    (p.logits as number[][][]).forEach((tokens, i) => {
      const words = data.get(i).words ?? [];
      const out: { labels: string[]; scores: number[] } = { labels: [], scores: [] };
      let prev: number | null = null;
      tokens.forEach((v, t) => {
        const w = words[t] ?? null;
        if (w !== null && w !== prev) {
          const pr = softmax(v);
          const b = pr.indexOf(Math.max(...pr));
          out.labels.push(labels[b]);
          out.scores.push(pr[b]);
        }
        prev = w;
      });
      write(out);
    });
  } else {
    (p.logits as number[][]).forEach((logits) => {
      if (task === 'regression') return write({ label: logits[0], score: logits[0], logits });
      if (task === 'multi-label') {
        const probs = logits.map((x) => 1 / (1 + Math.exp(-x)));
        return write({ label: labels.filter((_, i) => probs[i] > 0.5), score: probs, logits });
      }
      const probs = softmax(logits);
      const b = probs.indexOf(Math.max(...probs));
      write({ label: labels[b] ?? b, score: probs[b], logits });
    });
  }
  if (outFile) fs.closeSync(sink);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const verbose = rest.includes('--verbose');
  try {
    if (!command || command === '--help' || command === 'help' || command === '-h') {
      process.stdout.write(helpText());
      return command ? 0 : 2;
    }
    if (command !== 'train' && command !== 'eval' && command !== 'predict') throw new UsageError(`unknown command '${command}' (expected train, eval or predict)`);
    const f = parseFlags(command, rest, readConfigFile);
    if (f.help) {
      process.stdout.write(helpText(command));
      return 0;
    }
    if (command === 'train') await train(f);
    else if (command === 'eval') await evaluate(f);
    else await predict(f);
    return 0;
  } catch (e) {
    const err = e as Error;
    if (verbose) process.stderr.write(`${err.stack ?? err}\n`);
    else process.stderr.write(`fulltune: ${err instanceof DataError || err instanceof UsageError ? '' : `${err.name === 'Error' ? '' : `${err.name}: `}`}${err.message.split('\n')[0]}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
