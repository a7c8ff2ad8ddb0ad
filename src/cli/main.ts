// The `fulltune` command: train, eval, predict. A contract other tools depend on: keep it stable.
import * as fs from 'fs';
import * as path from 'path';
import { FeatureStore } from '../data/features';
import { checkDataFile, DataError } from '../data/readers';
import { Columns, Task } from '../data/tasks';
import { TASK_SPECS, taskSpec } from '../data/specs';
import { checkConfig, checkHead, headOfArchitecture } from '../models/registry';
import { savePretrained } from '../hub/pretrained';
import { manualSeed } from '../tensor/create';
import { Device } from '../tensor/dtype';
import { PreTrainedTokenizer } from '../tokenize/tokenizer';
import { defaultMaxLength, features, headConfig, loadTaskModel, maxPositions, modelConfig, resolveLabels } from '../train/prepare';
import { phase } from '../train/progress';
import { effectiveArguments, renderReport, runInfo } from '../train/report';
import { Trainer, TrainingArgs, TrainingInterrupted } from '../train/trainer';
import { readLaunchEnv } from '../distributed/env';
import { launchWorkers, watchLauncher, withoutFlags } from '../distributed/launch';
import { ProcessGroup } from '../distributed/process-group';
import { validateTrainingArgs } from '../train/args';
import { metricNames } from '../train/evaluate';
import { claimOutputDir } from '../train/output';
import { writeFileAtomic } from '../hub/pretrained';
import { didYouMean } from '../util/names';
import { withFile } from '../util/fs';
import { cudaAvailable } from '../tensor/create';
import { FULLTUNE_VERSION } from '../version';
import { chatTemplateKwargs, CommandName, FLAGS, Parsed, UsageError, helpText, parseFlags } from './flags';
import { generateCommand } from './generate';

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

function need(f: Parsed, ...keys: string[]): void {
  const missing = keys.filter((k) => f[k] === undefined);
  if (missing.length) throw new UsageError(`missing ${missing.map((m) => `--${m}`).join(', ')}`);
}

function columns(f: Parsed, task: Task): Columns {
  const c: Columns = { labelColumn: str(f, 'label-column'), textPairColumn: str(f, 'text-pair-column') };
  if (taskSpec(task).wordLists) c.tokensColumn = str(f, 'text-column');
  else c.textColumn = str(f, 'text-column');
  return c;
}

/** How many rows a file gave (always shown: merged or lost rows would show here), and the skipped ones. */
function reportRows(name: string, store: FeatureStore, log: (s: string) => void): void {
  const sk = store.meta.skipped;
  log(`${name}: ${store.meta.rows} row${store.meta.rows === 1 ? '' : 's'}${store.length !== store.meta.rows ? ` (${store.length} features)` : ''}`);
  for (const [what, n] of Object.entries(store.meta.notes ?? {})) log(`${name}: ${what}: ${n}`);
  if (sk.length === 0) return;
  log(`${name}: skipped ${sk.length} bad row${sk.length > 1 ? 's' : ''} (--skip-bad-rows):`);
  for (const s of sk.slice(0, 10)) log(`  line ${s.line}: ${s.problem}`);
  if (sk.length > 10) log(`  ... and ${sk.length - 10} more`);
}

/** Flags that set TrainingArgs, under their option names. */
function trainingArgs(f: Parsed, command: CommandName): Partial<TrainingArgs> {
  const a: Record<string, unknown> = {};
  for (const spec of FLAGS) if (spec.arg && spec.commands.includes(command) && f[spec.name] !== undefined) a[spec.arg] = f[spec.name];
  return a as Partial<TrainingArgs>;
}

/** What one flag cannot check alone, before any work starts: the Trainer's own rules, naming flags. */
function checkCombinations(f: Parsed, task: Task, command: CommandName): void {
  const flagOf = (k: keyof TrainingArgs) => `--${FLAGS.find((s) => s.arg === k)?.name ?? k}`;
  try {
    validateTrainingArgs(
      { ...trainingArgs(f, command), outputDir: '', task },
      { metricNames: metricNames(task), hasEval: command !== 'train' || f.validation !== undefined, name: flagOf, evalName: '--validation data to evaluate on' },
    );
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** --max-length and --doc-stride against what the model and tokenizer can take. */
async function checkLengths(f: Parsed, task: Task, tok: PreTrainedTokenizer, config: Record<string, unknown>, modelDir: string): Promise<number> {
  const maxLength = num(f, 'max-length') ?? defaultMaxLength(tok, config);
  const positions = maxPositions(config);
  if (positions !== null && maxLength > positions.value) {
    throw new UsageError(`--max-length ${maxLength} exceeds the model's ${positions.field} ${positions.value} (${path.join(modelDir, 'config.json')})`);
  }
  const spec = taskSpec(task);
  const block = num(f, 'block-size');
  if (f['mlm-probability'] !== undefined && !spec.masksTokens) throw new UsageError(`--mlm-probability applies to --task ${TASK_SPECS.filter((t) => t.masksTokens).map((t) => t.name).join(', ')} only`);
  if (f['chat-template-kwargs'] !== undefined && task !== 'sft') throw new UsageError('--chat-template-kwargs applies to --task sft only (the chat template renders its conversations)');
  if ((block !== undefined || f.packing === false) && !spec.packs) throw new UsageError(`${block !== undefined ? '--block-size' : '--no-packing'} applies to --task ${TASK_SPECS.filter((t) => t.packs).map((t) => t.name).join(', ')} only`);
  if (block !== undefined && positions !== null && block > positions.value) throw new UsageError(`--block-size ${block} exceeds the model's ${positions.field} ${positions.value} (${path.join(modelDir, 'config.json')})`);
  const pair = spec.alwaysPairs || (f['text-pair-column'] !== undefined && !spec.wordLists);
  const special = await tok.numSpecialTokens(!!pair);
  if (maxLength <= special) throw new UsageError(`--max-length ${maxLength} leaves no room for text after the model's ${special} special tokens`);
  const stride = num(f, 'doc-stride');
  if (stride !== undefined) {
    if (!spec.windows) throw new UsageError(`--doc-stride applies to --task ${TASK_SPECS.filter((t) => t.windows).map((t) => t.name).join(', ')} only`);
    if (stride >= maxLength - special) throw new UsageError(`--doc-stride ${stride} must be smaller than --max-length ${maxLength} minus the ${special} special tokens (${maxLength - special})`);
  }
  return maxLength;
}

/**
 * A decoder without a pad token pads with the tokenizer's (its EOS): as transformers users do,
 * model.config.pad_token_id is set after loading (the embedding is unchanged), so that sequence
 * classification finds each row's last real token.
 */
function setPadToken(model: { config: Record<string, unknown> }, tok: PreTrainedTokenizer): void {
  if (model.config.pad_token_id === undefined || model.config.pad_token_id === null) model.config.pad_token_id = tok.padTokenId;
}

/** --block-size and --packing, for the tasks that pack documents. */
function packingOptions(f: Parsed, task: Task): { blockSize?: number; packing?: boolean } {
  return taskSpec(task).packs ? { blockSize: num(f, 'block-size'), packing: f.packing !== false } : {};
}

/** SIGINT/SIGTERM: before training, stop at once; during it, save at the next step boundary. */
export function handleSignals(log: (s: string) => void): { attach(t: Trainer): void; finishing(): void; detach(): void } {
  let trainer: Trainer | null = null;
  let asked = false;
  let askedAt = 0;
  let finishing = false;
  const on = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGINT' ? 130 : 143;
    // one stop can arrive twice (a terminal's Ctrl-C and a launcher passing it on; torchrun's
    // SIGINT then SIGTERM): within a second, a repeat is the same request
    if (asked && Date.now() - askedAt < 1000) return;
    if (finishing && !asked) {
      asked = true;
      askedAt = Date.now();
      log(`${sig}: training is done; finishing writing the model and report (send SIGINT again to stop at once)`);
      return;
    }
    if (!trainer || asked) {
      process.stderr.write(`fulltune train: ${sig}: stopped ${trainer ? 'at once (the checkpoint of this step was not written)' : 'before training started; nothing was saved'}\n`);
      process.exit(code);
    }
    asked = true;
    askedAt = Date.now();
    trainer.requestStop(sig);
    log(`${sig}: saving a checkpoint at the end of this step, then stopping (send SIGINT again to stop at once)`);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    attach: (t) => (trainer = t),
    finishing: () => (finishing = true),
    detach: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

const COMMANDS: CommandName[] = ['train', 'eval', 'predict', 'generate'];

function checkDevice(f: Parsed): void {
  const d = String(f.device ?? 'cpu');
  if (d.startsWith('cuda') && !cudaAvailable()) throw new UsageError(`--device ${d}: no CUDA device here (a CPU build of libtorch, or no GPU)`);
}

const LAUNCH_FLAGS = ['nproc-per-node', 'nnodes', 'node-rank'];

async function train(f: Parsed, argv: string[]): Promise<number> {
  need(f, 'model', 'output', 'train');
  const task = f.task as Task;
  checkCombinations(f, task, 'train');
  checkDevice(f);
  const out = str(f, 'output')!;
  // every data file exists and has a known format before the output folder is taken
  for (const file of [str(f, 'train')!, str(f, 'validation')]) if (file !== undefined) checkDataFile(file);
  const launching = process.env.FULLTUNE_WORKER !== '1' && (num(f, 'nproc-per-node') !== undefined || num(f, 'nnodes')! > 1);
  if (launching) {
    if (!ProcessGroup.available()) throw new UsageError(`--nproc-per-node: ${noGlooMessage}`);
    if (readLaunchEnv()) throw new UsageError('--nproc-per-node starts workers itself: this process is already a worker of a launch (WORLD_SIZE is set, by torchrun?): drop --nproc-per-node, or start fulltune without torchrun');
    // a busy or non-empty output folder is refused here, before any worker starts (rank 0 claims it for the run)
    if (num(f, 'node-rank') === 0) claimOutputDir(out, { resume: !!f.resume, overwrite: !!f['overwrite-output'] })();
    return launchWorkers({ nprocPerNode: num(f, 'nproc-per-node') ?? 1, nnodes: num(f, 'nnodes')!, nodeRank: num(f, 'node-rank')!, args: ['train', ...withoutFlags(argv, LAUNCH_FLAGS)] });
  }
  const launchEnv = readLaunchEnv();
  if (f['shard-optimizer'] && !launching && !launchEnv) throw new UsageError('--shard-optimizer shards the optimizer state over several processes: add --nproc-per-node N (N >= 2), or launch with torchrun');
  if (launchEnv && !ProcessGroup.available()) throw new UsageError(`WORLD_SIZE=${launchEnv.worldSize}: ${noGlooMessage}`);
  const rank = launchEnv?.rank ?? 0;
  const main = rank === 0;
  // each process of a group on CUDA takes the device of its local rank, as torchrun users do
  if (launchEnv && String(f.device) === 'cuda') f.device = `cuda:${launchEnv.localRank}`;
  const log = (s: string) => {
    if (!f.quiet && main) process.stderr.write(s + '\n');
  };
  const signals = handleSignals(log);
  const unwatch = watchLauncher((s) => process.stderr.write(s + '\n'));
  // the output folder first: a second run on it, or an earlier run's files, stop us before any work
  const release = main ? claimOutputDir(out, { resume: !!f.resume, overwrite: !!f['overwrite-output'] }) : () => undefined;
  let pg: ProcessGroup | null = null;
  try {
    pg = launchEnv ? ProcessGroup.init({ ...launchEnv, attempt: launchEnv.restartCount, timeoutSeconds: num(f, 'ddp-timeout') }) : null;
    if (pg) log(`data parallel: ${pg.worldSize} processes (${pg.localWorldSize} on this machine), batch size ${num(f, 'batch-size')} each`);
    const seed = num(f, 'seed')!;
    manualSeed(seed);
    const { dir: modelDir, config } = await modelConfig(str(f, 'model')!);
    // what the model and tokenizer must offer the task, before any data is read
    checkConfig(config, path.join(modelDir, 'config.json'));
    checkHead(config, taskSpec(task).head, path.join(modelDir, 'config.json'));
    const tok = await PreTrainedTokenizer.fromPretrained(modelDir);
    if (taskSpec(task).masksTokens && tok.maskTokenId === null) throw new UsageError(`--task ${task} needs a tokenizer with a mask token, and ${modelDir}'s has none (tokenizer_config.json's mask_token)`);
    const maxLength = await checkLengths(f, task, tok, config, modelDir);
    const cols = columns(f, task);
    const skipBadRows = !!f['skip-bad-rows'];
    const labels = await resolveLabels(task, config, str(f, 'train')!, cols, skipBadRows);
    const common = { columns: cols, maxLength, labels, docStride: num(f, 'doc-stride'), skipBadRows, cacheDir: str(f, 'cache-dir'), ...packingOptions(f, task), chatTemplateKwargs: chatTemplateKwargs(f) };
    log(`tokenising ${str(f, 'train')} (max length ${maxLength})`);
    const tokenise = (file: string) => phase(`tokenising ${path.basename(file)}`, 'rows', { quiet: !!f.quiet || !main }, (onProgress) => features(file, tok, task, { ...common, onProgress }));
    const tokeniseAll = async () => {
      const t = await tokenise(str(f, 'train')!);
      return { trainSet: t, evalSet: str(f, 'validation') ? await tokenise(str(f, 'validation')!) : undefined };
    };
    // a group builds the feature cache once per machine (local rank 0); the others then read it
    let sets = pg && pg.localRank !== 0 ? null : await tokeniseAll();
    pg?.barrier({ timeoutSeconds: 24 * 3600 });
    sets = sets ?? (await tokeniseAll());
    const { trainSet, evalSet } = sets;
    reportRows(str(f, 'train')!, trainSet, log);
    if (evalSet) reportRows(str(f, 'validation')!, evalSet, log);
    const device = f.device as Device;
    const model = await loadTaskModel(task, modelDir, { config: headConfig(task, labels), warn: (w) => log(`warning: ${w}`), ignoreMismatchedHead: true, device, dtype: f.dtype as 'float32' | 'bfloat16' });
    if (taskSpec(task).head === 'sequence-classification') setPadToken(model, tok);
    const args: TrainingArgs = { ...trainingArgs(f, 'train'), outputDir: out, task, quiet: !!f.quiet || !main, ...(pg ? { processGroup: pg } : {}) };
    const trainer = new Trainer({ model, tokenizer: tok, train: trainSet, eval: evalSet, labels, args });
    if (trainer.addedStopTokens.length) {
      const names = trainer.addedStopTokens.map((id) => `${tok.idToToken(id)} (${id})`).join(', ');
      log(`the training targets end with ${names}, which the model did not stop at: generation will stop there too (eos_token_id in generation_config.json)`);
    }
    signals.attach(trainer);
    let metrics: Record<string, number>;
    let steps: number;
    try {
      ({ metrics, state: { globalStep: steps } } = await trainer.train());
      signals.finishing();
    } catch (e) {
      if (!(e instanceof TrainingInterrupted)) throw e;
      if (main) process.stderr.write(`fulltune train: ${e.message}\n  resume with the same command and --resume\n`);
      return e.reason === 'SIGINT' ? 130 : 143;
    }
    // rank 0 writes the outputs; the weights are the same on every rank
    if (!main) return 0;
    savePretrained(model, out);
    tok.save(out);
    const skipped = trainSet.meta.skipped.length + (evalSet?.meta.skipped.length ?? 0);
    const allMetrics = { ...metrics, train_rows: trainSet.meta.rows, skipped_rows: skipped, peak_rss_mb: peakRssMb() };
    writeFileAtomic(path.join(out, 'metrics.json'), JSON.stringify(allMetrics, null, 2) + '\n');
    writeFileAtomic(path.join(out, 'report.html'), await renderReport(`fulltune: ${path.basename(out)}`, trainer.log, allMetrics, runInfo(effectiveArguments(f, { maxLength, steps }))));
    const shown = Object.entries(metrics).filter(([k]) => k.startsWith('eval_') && !/runtime|per_second/.test(k));
    log(`done: ${shown.map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ') || 'no validation data'}  -> ${out}`);
    return 0;
  } finally {
    unwatch();
    signals.detach();
    release();
    pg?.destroy();
  }
}

const noGlooMessage = 'this fulltune addon was built without Gloo, so it cannot train on several processes: install Gloo\'s headers (Debian/Ubuntu: apt-get install libgloo-dev) and rebuild (npm run build:native)';

/** Whether the head saved in config.json (its architectures and problem_type) serves the task. */
function checkHeadFitsTask(config: Record<string, unknown>, task: Task, dir: string): void {
  const arch = Array.isArray(config.architectures) ? String(config.architectures[0]) : null;
  const pt = config.problem_type as string | undefined;
  const head = arch ? headOfArchitecture(arch) : null;
  if (head === null || head === 'base') return; // a base model: the missing head is reported when loading
  if (taskSpec(task).servedBy(head, pt)) return;
  const served = TASK_SPECS.find((t) => t.servedBy(head, pt))?.name ?? head;
  const article = /^[AEIOU]/i.test(arch!) ? 'an' : 'a';
  throw new UsageError(`${dir} holds ${article} ${arch}${pt ? ` (problem_type ${pt})` : ''}, trained for --task ${served}, not ${task}: pass --task ${served}`);
}

/** Model, tokenizer, the --data features and a Trainer to run them, for eval and predict. */
async function loadForInference(f: Parsed, command: 'eval' | 'predict') {
  need(f, 'model', 'data');
  const task = f.task as Task;
  const hint = taskSpec(task).predictHint;
  if (command === 'predict' && hint) throw new UsageError(hint);
  checkCombinations(f, task, command);
  checkDevice(f);
  checkDataFile(str(f, 'data')!);
  const { dir, config } = await modelConfig(str(f, 'model')!);
  checkHeadFitsTask(config, task, dir);
  const tok = await PreTrainedTokenizer.fromPretrained(dir);
  const fresh: string[] = [];
  const device = f.device as Device;
  const model = await loadTaskModel(task, dir, { warn: (w) => /newly initialised/.test(w) && fresh.push(w), device, dtype: f.dtype as 'float32' | 'bfloat16' });
  if (fresh.length) {
    model.dispose();
    throw new UsageError(`${dir} has no trained ${task} head: ${fresh[0].replace(/\. Train the model before using it for predictions\.$/, '')}; train it first (fulltune train), or give the --task it was trained for`);
  }
  // the parsed config always names its labels (LABEL_i when config.json has none, as transformers)
  const labels = await resolveLabels(task, model.config, null, {}, false);
  if (taskSpec(task).head === 'sequence-classification') setPadToken(model, tok);
  const maxLength = await checkLengths(f, task, tok, config, dir);
  const withLabels = command === 'eval';
  const file = str(f, 'data')!;
  const data = await phase(`tokenising ${path.basename(file)}`, 'rows', { quiet: !!f.quiet }, (onProgress) =>
    features(file, tok, task, {
      columns: columns(f, task), maxLength, labels, docStride: num(f, 'doc-stride'), ...packingOptions(f, task), chatTemplateKwargs: chatTemplateKwargs(f),
      skipBadRows: withLabels && !!f['skip-bad-rows'], withLabels, cacheDir: str(f, 'cache-dir'), onProgress,
    }),
  );
  const a = trainingArgs(f, command);
  const trainer = new Trainer({ model, tokenizer: tok, eval: data, labels, args: { outputDir: '', task, batchSize: a.batchSize, evalBatchSize: a.evalBatchSize, device, bf16: a.bf16, fp16: a.fp16, mlmProbability: a.mlmProbability, seed: a.seed, quiet: true } });
  return { task, labels, data, trainer };
}

/** Runs an evaluation pass with a live count of its batches on a terminal. */
function batches<T>(label: string, f: Parsed, trainer: Trainer, run: () => Promise<T>): Promise<T> {
  return phase(label, 'batches', { quiet: !!f.quiet }, (advance) => {
    trainer.onEvalBatch = (done) => advance(done);
    return run();
  });
}

/**
 * This process's peak resident memory in MB: Linux's VmHWM, its own memory's high-water mark
 * (getrusage's maxRSS keeps the parent's across fork and exec: a process started by a large one
 * reports at least the parent's size), else maxRSS.
 */
function peakRssMb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* no procfs: maxRSS below */
  }
  return process.resourceUsage().maxRSS / 1024;
}

async function evaluate(f: Parsed): Promise<void> {
  const { data, trainer } = await loadForInference(f, 'eval');
  if (!f.quiet) reportRows(str(f, 'data')!, data, (s) => process.stderr.write(s + '\n'));
  const m = await batches('evaluating', f, trainer, () => trainer.evaluate());
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, v]) => [`eval_${k}`, v]))) + '\n');
}

async function predict(f: Parsed): Promise<void> {
  const { task, labels, data, trainer } = await loadForInference(f, 'predict');
  const p = await batches('predicting', f, trainer, () => trainer.predictRaw(data));
  const outFile = str(f, 'output');
  // stdout through its stream (a pipe may be non-blocking: writeSync(1) fails with EAGAIN)
  const sink = outFile ? withFile(outFile, 'write', () => fs.openSync(outFile, 'w')) : null;
  const write = (o: unknown) => (sink === null ? process.stdout.write(JSON.stringify(o) + '\n') : withFile(outFile!, 'write', () => fs.writeSync(sink, JSON.stringify(o) + '\n')));
  for (const row of taskSpec(task).predictionRows(p, data, labels)) write(row);
  if (sink !== null) fs.closeSync(sink);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const verbose = rest.includes('--verbose');
  const prefix = COMMANDS.includes(command as CommandName) ? `fulltune ${command}` : 'fulltune';
  try {
    if (!command || command === '--help' || command === 'help' || command === '-h') {
      process.stdout.write(helpText());
      return command ? 0 : 2;
    }
    if (command === '--version' || command === '-V' || command === 'version') {
      process.stdout.write(`${FULLTUNE_VERSION}\n`);
      return 0;
    }
    if (!COMMANDS.includes(command as CommandName)) {
      throw new UsageError(`unknown command '${command}'${didYouMean(command, COMMANDS)} (expected ${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS[COMMANDS.length - 1]})`);
    }
    const f = parseFlags(command as CommandName, rest, readConfigFile);
    if (f === null) return 0; // --help
    if (command === 'train') return await train(f, rest);
    if (command === 'generate') {
      checkDevice(f);
      return await generateCommand(f);
    }
    if (command === 'eval') await evaluate(f);
    else await predict(f);
    return 0;
  } catch (e) {
    const err = e as Error;
    if (verbose) process.stderr.write(`${err.stack ?? err}\n`);
    else {
      const name = err instanceof DataError || err instanceof UsageError || err.name === 'Error' || err.name === 'TypeError' || err.name === 'RangeError' ? '' : `${err.name}: `;
      process.stderr.write(`${prefix}: ${name}${err.message.split('\n')[0]}\n`);
    }
    return err instanceof UsageError ? 2 : 1;
  }
}

/** The command as a process: runs main() and exits with its code once stdout is flushed. */
export function run(argv: string[]): void {
  // a reader that closes the pipe early (`fulltune predict ... | head -1`) is not an error
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  // exit once what was written to stdout has gone out (a pipe takes it asynchronously)
  void main(argv).then((code) => process.stdout.write('', () => process.exit(code)));
}

if (require.main === module) run(process.argv.slice(2));
