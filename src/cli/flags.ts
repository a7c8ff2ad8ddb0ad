// The command line's flags, declared once: parsing, --config files and --help come from here.
export interface FlagSpec {
  name: string; // kebab-case, without --
  type: 'string' | 'number' | 'int' | 'boolean' | 'optional-string';
  help: string;
  default?: string | number | boolean;
  choices?: readonly string[];
  commands: ('train' | 'eval' | 'predict')[];
}

const ALL = ['train', 'eval', 'predict'] as ('train' | 'eval' | 'predict')[];
const T = ['train'] as ('train' | 'eval' | 'predict')[];

export const FLAGS: FlagSpec[] = [
  { name: 'model', type: 'string', help: 'model directory or Hugging Face Hub id', commands: ALL },
  { name: 'output', type: 'string', help: 'output directory (train); JSONL file of predictions (predict; default stdout)', commands: ['train', 'predict'] },
  { name: 'task', type: 'string', help: 'what to train', choices: ['sequence-classification', 'multi-label', 'regression', 'token-classification', 'question-answering'], default: 'sequence-classification', commands: ALL },
  { name: 'train', type: 'string', help: 'training data (.csv, .tsv, .jsonl, .parquet)', commands: T },
  { name: 'validation', type: 'string', help: 'validation data, evaluated during and after training', commands: T },
  { name: 'data', type: 'string', help: 'data to evaluate or predict', commands: ['eval', 'predict'] },
  { name: 'text-column', type: 'string', help: 'text column (QA: the question; token classification: the words, default "tokens")', commands: ALL },
  { name: 'text-pair-column', type: 'string', help: 'second text of pairs (QA: the context, default "context")', commands: ALL },
  { name: 'label-column', type: 'string', help: 'label column (token classification default "ner_tags", QA default "answers")', commands: ALL },
  { name: 'epochs', type: 'number', help: 'training epochs', default: 3, commands: T },
  { name: 'batch-size', type: 'int', help: 'batch size', default: 32, commands: ALL },
  { name: 'lr', type: 'number', help: 'peak learning rate', default: 2e-5, commands: T },
  { name: 'max-length', type: 'int', help: 'longest input in tokens (default: the smaller of 128 and what model and tokenizer allow)', commands: ALL },
  { name: 'doc-stride', type: 'int', help: 'QA: tokens shared by the windows of a long context', commands: ALL },
  { name: 'warmup-ratio', type: 'number', help: 'fraction of steps for linear warmup', default: 0.1, commands: T },
  { name: 'warmup-steps', type: 'int', help: 'warmup steps (overrides --warmup-ratio)', commands: T },
  { name: 'schedule', type: 'string', help: 'learning-rate schedule', choices: ['linear', 'cosine', 'constant_with_warmup', 'constant'], default: 'linear', commands: T },
  { name: 'weight-decay', type: 'number', help: 'AdamW weight decay (not on biases and LayerNorm weights)', default: 0.01, commands: T },
  { name: 'optimizer', type: 'string', help: 'optimizer', choices: ['adamw', 'sgd'], default: 'adamw', commands: T },
  { name: 'grad-accum', type: 'int', help: 'micro-batches accumulated per optimizer step', default: 1, commands: T },
  { name: 'max-grad-norm', type: 'number', help: 'gradient-norm clipping (0: off)', default: 1.0, commands: T },
  { name: 'seed', type: 'int', help: 'seed of initialisation, dropout and data order', default: 42, commands: T },
  { name: 'device', type: 'string', help: 'cpu, cuda or cuda:N', default: 'cpu', commands: ALL },
  { name: 'bf16', type: 'boolean', help: 'bfloat16 autocast (CPU or CUDA)', commands: ALL },
  { name: 'fp16', type: 'boolean', help: 'float16 autocast with dynamic loss scaling (CUDA)', commands: ALL },
  { name: 'sampler', type: 'string', help: 'batch order', choices: ['random', 'group-by-length', 'sequential'], default: 'random', commands: T },
  { name: 'eval-steps', type: 'int', help: 'evaluate every N steps (and at each epoch end)', commands: T },
  { name: 'save-steps', type: 'int', help: 'checkpoint every N steps (and at the end)', commands: T },
  { name: 'save-total-limit', type: 'int', help: 'keep the newest K checkpoints (and the best)', commands: T },
  { name: 'logging-steps', type: 'int', help: 'log every N steps', default: 10, commands: T },
  { name: 'metric-for-best-model', type: 'string', help: 'metric that picks the best checkpoint (e.g. accuracy; default loss)', commands: T },
  { name: 'early-stopping-patience', type: 'int', help: 'stop after P evaluations without improvement (loads the best checkpoint at the end)', commands: T },
  { name: 'max-steps', type: 'int', help: 'stop after N optimizer steps (overrides --epochs)', commands: T },
  { name: 'resume', type: 'optional-string', help: 'resume from the latest checkpoint in --output, or from the one given', commands: T },
  { name: 'skip-bad-rows', type: 'boolean', help: 'count and report malformed rows instead of stopping', commands: ALL },
  { name: 'skip-nonfinite', type: 'boolean', help: 'skip steps whose loss is not finite instead of stopping', commands: T },
  { name: 'cache-dir', type: 'string', help: 'where tokenised datasets are cached (default ~/.cache/fulltune/features)', commands: ALL },
  { name: 'config', type: 'string', help: 'JSON file of flags ({"lr": 3e-5, "batch-size": 16, ...}); command-line flags win', commands: ALL },
  { name: 'quiet', type: 'boolean', help: 'no progress output', commands: ALL },
  { name: 'verbose', type: 'boolean', help: 'stack traces on errors', commands: ALL },
  { name: 'help', type: 'boolean', help: 'this help', commands: ALL },
];

export class UsageError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'UsageError';
  }
}

export type Parsed = Record<string, string | number | boolean | undefined>;

function coerce(spec: FlagSpec, raw: unknown, where: string): string | number | boolean {
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === undefined) return true;
    if (raw === 'false') return false;
    throw new UsageError(`${where}: --${spec.name} takes no value (or true/false), got '${raw}'`);
  }
  if (spec.type === 'number' || spec.type === 'int') {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (raw === undefined || raw === '' || !Number.isFinite(n)) throw new UsageError(`${where}: --${spec.name} needs a number, got '${raw ?? ''}'`);
    if (spec.type === 'int' && !Number.isInteger(n)) throw new UsageError(`${where}: --${spec.name} needs an integer, got ${n}`);
    return n;
  }
  if (typeof raw !== 'string' || raw === '') {
    if (spec.type === 'optional-string' && (raw === undefined || raw === true)) return true;
    throw new UsageError(`${where}: --${spec.name} needs a value`);
  }
  if (spec.choices && !spec.choices.includes(raw)) throw new UsageError(`${where}: --${spec.name} must be one of ${spec.choices.join(', ')}, got '${raw}'`);
  return raw;
}

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, '-');

export function parseFlags(command: 'train' | 'eval' | 'predict', argv: string[], readConfig: (file: string) => Record<string, unknown>): Parsed {
  const byName = new Map(FLAGS.map((f) => [f.name, f]));
  const cli: Parsed = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument '${a}' (flags start with --)`);
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const spec = byName.get(name);
    if (!spec || !spec.commands.includes(command)) throw new UsageError(`unknown flag --${name} for '${command}' (see fulltune ${command} --help)`);
    let raw: string | undefined = inline;
    const next = argv[i + 1];
    const takesValue = spec.type !== 'boolean' && spec.type !== 'optional-string';
    if (raw === undefined && (takesValue || (spec.type === 'optional-string' && next !== undefined && !next.startsWith('--')))) {
      raw = next;
      i++;
    }
    cli[name] = coerce(spec, raw, 'command line');
  }
  const out: Parsed = {};
  if (typeof cli.config === 'string') {
    const cfg = readConfig(cli.config);
    for (const [k, v] of Object.entries(cfg)) {
      const name = kebab(k);
      const spec = byName.get(name);
      if (!spec || !spec.commands.includes(command) || name === 'config') throw new UsageError(`${cli.config}: unknown key '${k}' for '${command}'`);
      out[name] = coerce(spec, typeof v === 'number' || typeof v === 'boolean' ? v : String(v), cli.config);
    }
  }
  Object.assign(out, cli);
  for (const f of FLAGS) if (f.commands.includes(command) && out[f.name] === undefined && f.default !== undefined) out[f.name] = f.default;
  return out;
}

export function helpText(command?: 'train' | 'eval' | 'predict'): string {
  const usage = [
    'fulltune: full-parameter fine-tuning of Hugging Face transformer models from Node.js',
    '',
    'usage:',
    '  fulltune train   --model <dir|hub-id> --output <dir> --task <task> --train <file> [--validation <file>] [flags]',
    '  fulltune eval    --model <dir> --data <file> [flags]        prints one JSON object of metrics',
    '  fulltune predict --model <dir> --data <file> [--output <file.jsonl>] [flags]   one JSON line per row',
    '',
  ];
  const list = FLAGS.filter((f) => !command || f.commands.includes(command));
  const lines = list.map((f) => {
    const v = f.type === 'boolean' ? '' : f.type === 'optional-string' ? ' [<dir>]' : f.choices ? ` <${f.choices.join('|')}>` : ' <value>';
    const d = f.default !== undefined ? ` (default ${f.default})` : '';
    const cmds = command ? '' : `  [${f.commands.join(', ')}]`;
    return `  --${f.name}${v}\n      ${f.help}${d}${cmds}`;
  });
  return [...usage, `flags${command ? ` for ${command}` : ''}:`, ...lines, ''].join('\n');
}
