// The command line's flags, declared once: parsing (through commander), --config files, --help
// and the validation of every value come from here. Values that feed the Trainer are checked
// by the Trainer's own rules (train/args.ts), named by their flag.
import { Command, CommanderError, Option } from 'commander';
import { TASKS } from '../data/tasks';
import { ARG_RULES, checkArg, TRANSFORMERS_NAMES } from '../train/args';
import type { TrainingArgs } from '../train/trainer';
import { closest } from '../util/names';

export type CommandName = 'train' | 'eval' | 'predict' | 'generate';

export interface FlagSpec {
  name: string; // kebab-case, without --
  type: 'string' | 'number' | 'int' | 'boolean' | 'optional-string';
  help: string;
  default?: string | number | boolean;
  choices?: readonly string[];
  commands: CommandName[];
  /** the TrainingArgs option this flag sets: its value is checked by that option's rule */
  arg?: keyof TrainingArgs;
  /** range of a numeric flag that is not a TrainingArgs option */
  min?: number;
  /** what the flag means for a command where it means something else than `help` says */
  helpFor?: Partial<Record<CommandName, string>>;
}

const ALL: CommandName[] = ['train', 'eval', 'predict'];
const T: CommandName[] = ['train'];
const G: CommandName[] = ['generate'];

export const FLAGS: FlagSpec[] = [
  { name: 'model', type: 'string', help: 'model directory or Hugging Face Hub id', commands: [...ALL, ...G] },
  { name: 'output', type: 'string', help: 'output directory (train); JSONL file of predictions (predict; default stdout)', commands: ['train', 'predict', 'generate'], helpFor: { generate: 'JSONL file of the completions of --data (default stdout)' } },
  { name: 'task', type: 'string', help: 'what to train', choices: TASKS, default: 'sequence-classification', commands: ALL, arg: 'task', helpFor: { eval: 'the task the model was trained for', predict: 'the task the model was trained for' } },
  { name: 'train', type: 'string', help: 'training data (.csv, .tsv, .jsonl, .json, .parquet, .txt)', commands: T },
  { name: 'validation', type: 'string', help: 'validation data, evaluated during and after training', commands: T },
  { name: 'data', type: 'string', help: 'data to evaluate or predict; generate: prompts, one per row', commands: ['eval', 'predict', 'generate'] },
  { name: 'text-column', type: 'string', help: 'text column (QA: the question; token classification: the words, default "tokens"; sft: the conversation, default "messages")', commands: [...ALL, ...G], helpFor: { generate: 'the prompt column of --data (default "prompt", else a "messages" conversation)' } },
  { name: 'text-pair-column', type: 'string', help: 'second text of pairs (QA: the context, default "context")', commands: ALL },
  { name: 'label-column', type: 'string', help: 'label column (token classification default "ner_tags", QA default "answers")', commands: ALL },
  { name: 'epochs', type: 'number', help: 'training epochs (transformers: num_train_epochs)', default: 3, commands: T, arg: 'epochs' },
  { name: 'batch-size', type: 'int', help: "batch size per device (transformers' per_device_train_batch_size, whose default is 8)", default: 32, commands: [...ALL, ...G], arg: 'batchSize', helpFor: { generate: 'prompts of --data generated together (left-padded)' } },
  { name: 'eval-batch-size', type: 'int', help: 'evaluation batch size (default: --batch-size)', commands: ALL, arg: 'evalBatchSize' },
  { name: 'lr', type: 'number', help: "peak learning rate (transformers' learning_rate, whose default is 5e-5)", default: 2e-5, commands: T, arg: 'lr' },
  { name: 'max-length', type: 'int', help: 'longest input in tokens (default: the smaller of 128 and what model and tokenizer allow)', commands: ALL, min: 1 },
  { name: 'block-size', type: 'int', help: 'causal-lm and masked-lm: tokens per block (default: --max-length)', commands: ALL, min: 2 },
  { name: 'packing', type: 'boolean', help: 'causal-lm and masked-lm: pack documents into blocks (causal-lm: positions restart per document, no attention across documents); --no-packing: one padded example per document', default: true, commands: ALL },
  { name: 'dtype', type: 'string', help: 'weights dtype: float32, or bfloat16 (pure bf16 training, as many LLM recipes; --bf16 keeps float32 weights under bf16 autocast)', choices: ['float32', 'bfloat16'], default: 'float32', commands: [...ALL, ...G], helpFor: { generate: 'the dtype the weights are loaded in' } },
  { name: 'mlm-probability', type: 'number', help: "masked-lm: the share of tokens masked in each batch (transformers' mlm_probability; default 0.15)", commands: ['train', 'eval'], arg: 'mlmProbability' },
  { name: 'doc-stride', type: 'int', help: 'QA: tokens shared by the windows of a long context (default: max length / 4, at most 128)', commands: ALL, min: 0 },
  { name: 'warmup-ratio', type: 'number', help: "fraction of steps for linear warmup (transformers' default is 0)", default: 0.1, commands: T, arg: 'warmupRatio' },
  { name: 'warmup-steps', type: 'int', help: 'warmup steps (overrides --warmup-ratio)', commands: T, arg: 'warmupSteps' },
  { name: 'schedule', type: 'string', help: 'learning-rate schedule (transformers: lr_scheduler_type)', choices: ARG_RULES.schedule.kind === 'choice' ? ARG_RULES.schedule.choices : [], default: 'linear', commands: T, arg: 'schedule' },
  { name: 'weight-decay', type: 'number', help: "AdamW weight decay, not on biases and normalisation weights (transformers' default is 0)", default: 0.01, commands: T, arg: 'weightDecay' },
  { name: 'optimizer', type: 'string', help: 'optimizer', choices: ['adamw', 'sgd'], default: 'adamw', commands: T, arg: 'optimizer' },
  { name: 'grad-accum', type: 'int', help: 'micro-batches accumulated per optimizer step (transformers: gradient_accumulation_steps)', default: 1, commands: T, arg: 'gradAccum' },
  { name: 'max-grad-norm', type: 'number', help: 'gradient-norm clipping (0: off)', default: 1.0, commands: T, arg: 'maxGradNorm' },
  { name: 'seed', type: 'int', help: 'seed of initialisation, dropout and data order', default: 42, commands: [...T, ...G], arg: 'seed', helpFor: { generate: 'seed of sampling (--do-sample)' } },
  { name: 'device', type: 'string', help: 'cpu, cuda or cuda:N', default: 'cpu', commands: [...ALL, ...G], arg: 'device' },
  { name: 'bf16', type: 'boolean', help: 'bfloat16 autocast (CPU or CUDA)', commands: ALL, arg: 'bf16' },
  { name: 'fp16', type: 'boolean', help: 'float16 autocast with dynamic loss scaling (CUDA)', commands: ALL, arg: 'fp16' },
  { name: 'sampler', type: 'string', help: 'batch order', choices: ['random', 'group-by-length', 'sequential'], default: 'random', commands: T, arg: 'sampler' },
  { name: 'eval-steps', type: 'int', help: 'evaluate every N steps (and at each epoch end); needs --validation', commands: T, arg: 'evalSteps' },
  { name: 'save-steps', type: 'int', help: 'checkpoint every N steps (and at the end)', commands: T, arg: 'saveSteps' },
  { name: 'save-total-limit', type: 'int', help: 'keep the newest K checkpoints (and the best)', commands: T, arg: 'saveTotalLimit' },
  { name: 'logging-steps', type: 'int', help: 'log every N steps', default: 10, commands: T, arg: 'loggingSteps' },
  { name: 'metric-for-best-model', type: 'string', help: "metric that picks the best checkpoint (one the task reports, e.g. accuracy; default loss); needs --validation", commands: T, arg: 'metricForBestModel' },
  { name: 'early-stopping-patience', type: 'int', help: 'stop after P evaluations without improvement (loads the best checkpoint at the end); needs --validation', commands: T, arg: 'earlyStoppingPatience' },
  { name: 'max-steps', type: 'int', help: 'stop after N optimizer steps (overrides --epochs)', commands: T, arg: 'maxSteps' },
  { name: 'resume', type: 'optional-string', help: 'resume from the latest checkpoint in --output, or from the one given', commands: T, arg: 'resume' },
  { name: 'overwrite-output', type: 'boolean', help: "start over in an --output folder that holds an earlier run (transformers: overwrite_output_dir)", commands: T, arg: 'overwriteOutputDir' },
  // not for predict: every input row gets an output line
  { name: 'skip-bad-rows', type: 'boolean', help: 'count and report malformed rows instead of stopping', commands: ['train', 'eval'] },
  { name: 'skip-nonfinite', type: 'boolean', help: 'skip steps whose loss is not finite instead of stopping', commands: T, arg: 'skipNonfinite' },
  { name: 'prompt', type: 'string', help: 'the text to continue (with --chat: the user message)', commands: G },
  { name: 'chat', type: 'boolean', help: "render prompts with the tokenizer's chat template as a user turn, with the generation prompt", commands: G },
  { name: 'chat-template-kwargs', type: 'string', help: 'JSON object of variables the chat template sees besides the messages, as apply_chat_template(**kwargs) (e.g. \'{"enable_thinking": false}\'); --task sft, or generate with chat prompts', commands: ['train', 'eval', ...G] },
  // generation settings without a default here: absent, the model's generation_config.json decides (else transformers' defaults)
  { name: 'max-new-tokens', type: 'int', help: "tokens to generate at most per prompt (default: generation_config.json's max_new_tokens, else 20)", commands: G, min: 1 },
  { name: 'do-sample', type: 'boolean', help: "sample instead of greedy decoding (default: generation_config.json's do_sample)", commands: G },
  { name: 'temperature', type: 'number', help: 'sampling temperature (> 0; default: generation_config.json, else 1)', commands: G },
  { name: 'top-k', type: 'int', help: 'sample among the k most likely tokens (0: all; default: generation_config.json, else 50)', commands: G, min: 0 },
  { name: 'top-p', type: 'number', help: 'sample among the most likely tokens whose probabilities sum to p, in (0, 1] (default: generation_config.json, else 1)', commands: G },
  { name: 'repetition-penalty', type: 'number', help: 'penalty on tokens already present (1: none; default: generation_config.json, else 1)', commands: G },
  { name: 'gradient-checkpointing', type: 'boolean', help: "recompute each layer's activations in the backward pass instead of keeping them: less memory, about one more forward pass per step (transformers: gradient_checkpointing)", commands: T, arg: 'gradientCheckpointing' },
  { name: 'shard-optimizer', type: 'boolean', help: 'ZeRO stage 1: each of several processes keeps the optimizer state of 1/N of the parameters (the same weights as without it)', commands: T, arg: 'shardOptimizer' },
  { name: 'nproc-per-node', type: 'int', help: "data-parallel workers to start on this machine (as torchrun's --nproc-per-node; torchrun --no-python also works)", commands: T, min: 1 },
  { name: 'nnodes', type: 'int', help: 'machines taking part, each running the same command with its --node-rank (MASTER_ADDR and MASTER_PORT: node 0)', default: 1, commands: T, min: 1 },
  { name: 'node-rank', type: 'int', help: 'this machine among --nnodes (0 serves the rendezvous)', default: 0, commands: T, min: 0 },
  { name: 'ddp-timeout', type: 'number', help: 'seconds a worker waits for the others in a collective before it fails (transformers: ddp_timeout, whose default is 1800)', default: 60, commands: T, min: 1 },
  { name: 'cache-dir', type: 'string', help: 'where tokenised datasets are cached (default ~/.cache/fulltune/features)', commands: ALL },
  { name: 'config', type: 'string', help: 'JSON file of flags ({"lr": 3e-5, "batch-size": 16, ...}); command-line flags win', commands: [...ALL, ...G] },
  { name: 'quiet', type: 'boolean', help: 'no progress output', commands: [...ALL, ...G] },
  { name: 'verbose', type: 'boolean', help: 'stack traces on errors', commands: [...ALL, ...G] },
];

/** --chat-template-kwargs as an object (undefined when absent). */
export function chatTemplateKwargs(f: Parsed): Record<string, unknown> | undefined {
  const raw = f['chat-template-kwargs'];
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(String(raw));
  } catch {
    throw new UsageError(`--chat-template-kwargs: expected a JSON object like '{"enable_thinking": false}', got ${String(raw)}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`--chat-template-kwargs: expected a JSON object like '{"enable_thinking": false}', got ${String(raw)}`);
  return v as Record<string, unknown>;
}

export class UsageError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'UsageError';
  }
}

export type Parsed = Record<string, string | number | boolean | undefined>;

/** transformers' argument names (--learning_rate, ...) and the fulltune flag for each. */
export const TRANSFORMERS_FLAGS: Record<string, string> = Object.fromEntries(
  Object.entries(TRANSFORMERS_NAMES)
    .map(([hf, key]) => [hf, FLAGS.find((f) => f.arg === key)?.name ?? (key === 'outputDir' ? 'output' : undefined)])
    .filter((e): e is [string, string] => e[1] !== undefined),
);

/** Converts and checks one value; `where` names its source (the command line or a --config file). */
function coerce(spec: FlagSpec, raw: unknown, where: string): string | number | boolean {
  const name = `--${spec.name}`;
  const at = where === 'command line' ? name : `${where}: ${name}`;
  let v: string | number | boolean;
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') v = raw;
    else if (raw === 'true') v = true;
    else if (raw === 'false') v = false;
    else throw new UsageError(`${at} takes true or false, got ${JSON.stringify(raw)}`);
  } else if (spec.type === 'number' || spec.type === 'int') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(n)) throw new UsageError(`${at} needs a number, got ${JSON.stringify(raw ?? '')}`);
    if (spec.type === 'int' && !Number.isInteger(n)) throw new UsageError(`${at} needs an integer, got ${n}`);
    if (spec.min !== undefined && n < spec.min) throw new UsageError(`${at} must be >= ${spec.min}, got ${n}`);
    v = n;
  } else if (spec.type === 'optional-string' && (raw === true || raw === undefined)) v = true;
  else {
    if (typeof raw !== 'string' || raw === '') throw new UsageError(`${at} needs ${raw === '' ? 'a non-empty value' : 'a value'}`);
    v = raw;
  }
  if (spec.arg) {
    try {
      checkArg(spec.arg, v, at);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  return v;
}

/** transformers arguments with no fulltune flag of their own, and what to do instead. */
const TRANSFORMERS_HINTS: Record<string, string> = {
  evaluation_strategy: 'fulltune evaluates at each epoch end with --validation, and every N steps with --eval-steps N',
  eval_strategy: 'fulltune evaluates at each epoch end with --validation, and every N steps with --eval-steps N',
  save_strategy: 'fulltune saves at the end, and every N steps with --save-steps N',
  logging_strategy: 'fulltune logs every --logging-steps N steps',
  do_train: "'fulltune train' trains; there is no --do_train",
  do_eval: "'fulltune train --validation <file>' evaluates, as does 'fulltune eval'",
  do_predict: "use 'fulltune predict'",
  load_best_model_at_end: '--early-stopping-patience loads the best checkpoint at the end',
  greater_is_better: 'fulltune derives it from --metric-for-best-model (loss and mse: lower is better)',
  model_name_or_path: 'use --model',
  train_file: 'use --train',
  validation_file: 'use --validation',
  max_seq_length: 'use --max-length',
};

function suggestFlag(name: string, command: CommandName): string {
  const snake = name.replace(/-/g, '_');
  const hf = TRANSFORMERS_FLAGS[snake];
  if (hf) return ` (did you mean --${hf}? fulltune's name for transformers' --${snake})`;
  if (TRANSFORMERS_HINTS[snake]) return ` (transformers' --${snake}: ${TRANSFORMERS_HINTS[snake]})`;
  const known = FLAGS.filter((f) => f.commands.includes(command)).map((f) => f.name);
  const c = closest(name, known);
  if (c) return ` (did you mean --${c}?)`;
  const elsewhere = FLAGS.find((f) => f.name === name);
  return elsewhere ? ` (it is a flag of ${elsewhere.commands.join(', ')})` : '';
}

/** The commander program of one command: its flags, --help and --no-<flag> negations. */
export function commandOf(command: CommandName): Command {
  const cmd = new Command(`fulltune ${command}`);
  cmd.exitOverride().allowExcessArguments(false).showSuggestionAfterError(false).helpOption('-h, --help', 'this help');
  cmd.configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  for (const f of FLAGS.filter((x) => x.commands.includes(command))) {
    const value = f.type === 'boolean' ? '' : f.type === 'optional-string' ? ' [dir]' : f.choices ? ' <choice>' : f.type === 'string' ? ' <value>' : ' <n>';
    // choices are checked by coerce (with "did you mean" and transformers' names), shown here
    const help = f.helpFor?.[command] ?? f.help;
    const o = new Option(`--${f.name}${value}`, f.choices ? `${help}: ${f.choices.join(', ')}` : help);
    if (f.default !== undefined) o.default(f.default);
    cmd.addOption(o);
    if (f.type === 'boolean') cmd.addOption(new Option(`--no-${f.name}`, `turn --${f.name} off (when a --config file sets it)`));
  }
  if (command === 'train') cmd.addHelpText(
    'after',
    '\nDefaults that differ from transformers\' TrainingArguments (chosen for fine-tuning encoders):\n' +
      '  --lr 2e-5 (5e-5), --batch-size 32 (8), --weight-decay 0.01 (0), --warmup-ratio 0.1 (0).\n',
  );
  return cmd;
}

const camel = (k: string) => k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, '-');

/** Parses a command's arguments; returns null when --help was printed. Throws UsageError. */
export function parseFlags(command: CommandName, argv: string[], readConfig: (file: string) => Record<string, unknown>, out: (s: string) => void = (s) => process.stdout.write(s)): Parsed | null {
  const cmd = commandOf(command);
  cmd.configureOutput({ writeOut: out, writeErr: () => undefined, outputError: () => undefined });
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return null;
    const unknown = /unknown option '--?([^']+)'/.exec(e.message);
    if (unknown) throw new UsageError(`unknown flag --${unknown[1]}${suggestFlag(unknown[1], command)} (see fulltune ${command} --help)`);
    const excess = /too many arguments.*Expected 0 arguments but got \d+\./.test(e.message);
    if (excess) throw new UsageError(`unexpected argument '${cmd.args[0] ?? ''}' (flags start with --; see fulltune ${command} --help)`);
    throw new UsageError(e.message.replace(/^error: /, '').replace(/option '([^' ]+)[^']*'/, '$1'));
  }
  if (cmd.args.length) throw new UsageError(`unexpected argument '${cmd.args[0]}' (flags start with --; see fulltune ${command} --help)`);
  const opts = cmd.opts();
  const specs = FLAGS.filter((f) => f.commands.includes(command));
  const fromCli: Parsed = {};
  for (const f of specs) {
    const key = camel(f.name);
    if (cmd.getOptionValueSource(key) === 'cli') fromCli[f.name] = coerce(f, opts[key], 'command line');
  }
  const parsed: Parsed = {};
  if (typeof fromCli.config === 'string') {
    const file = fromCli.config;
    for (const [k, v] of Object.entries(readConfig(file))) {
      if (v === null) continue; // null: not set, as an absent key
      if (v === false && specs.find((f) => f.name === kebab(k))?.type === 'optional-string') continue; // "resume": false
      const name = TRANSFORMERS_FLAGS[k] && !FLAGS.some((f) => f.name === k) ? null : kebab(k);
      const spec = specs.find((f) => f.name === name);
      if (!spec || name === 'config') throw new UsageError(`${file}: unknown key '${k}' for '${command}'${suggestFlag(TRANSFORMERS_FLAGS[k] ? k : kebab(k), command)}`);
      parsed[spec.name] = coerce(spec, typeof v === 'number' || typeof v === 'boolean' ? v : String(v), file);
    }
  }
  Object.assign(parsed, fromCli);
  for (const f of specs) if (parsed[f.name] === undefined && f.default !== undefined) parsed[f.name] = f.default;
  return parsed;
}

export function helpText(command?: CommandName): string {
  if (command) return commandOf(command).helpInformation();
  return [
    'fulltune: full-parameter fine-tuning of Hugging Face transformer models from Node.js',
    '',
    'usage:',
    '  fulltune train   --model <dir|hub-id> --output <dir> --task <task> --train <file> [--validation <file>] [flags]',
    '  fulltune eval    --model <dir> --data <file> [flags]        prints one JSON object of metrics',
    '  fulltune predict --model <dir> --data <file> [--output <file.jsonl>] [flags]   one JSON line per row',
    '  fulltune generate --model <dir|hub-id> (--prompt <text> | --data <file>) [--max-new-tokens N] [--chat] [sampling flags]',
    '  fulltune --version',
    '',
    'fulltune <command> --help lists the flags of a command.',
    '',
  ].join('\n');
}
