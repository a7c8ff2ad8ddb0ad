#!/usr/bin/env node
'use strict';
// The accuracy study: fine-tunes all-MiniLM-L6-v2 (the demo's model, with a new 2-label head) on
// a real labelled set with several seeds, with fulltune and with transformers' Trainer
// (scripts/seed_study_hf.py) on the same data and hyperparameters, then prints, per
// configuration, mean ± sd of test accuracy and of F1 of label 1 with every seed's values, and
// Welch's t-test of each fulltune configuration's F1 against transformers'.
//
//   node scripts/seed-study.js [--seeds 1,2,...,10] [--configs fulltune,transformers] [--jobs 2]
//        [--threads 1] [--out accuracy-study] [--train CSV --validation CSV] [--max-length 128]
//        [--epochs 3] [--batch-size 16] [--lr 5e-5]
//
// Configurations: fulltune (`fulltune train` as it is by default), fused (the same with
// FULLTUNE_DROPOUT=fused: fulltune's own dropout kernel), transformers (a Trainer with the same
// hyperparameters: warmup ratio 0.1, weight decay 0.01, clipping at 1.0, the default sampler).
// Data: without --train and --validation, Reuters-21578 grain (scripts/make-reuters-grain.js,
// made into <out>/data): 1,554 training and 604 test news articles, 103 and 57 about grain.
// Both sides train without evaluating (an evaluation draws from the generator, as a data loader
// does), then evaluate the final model. Runs go --jobs at a time, each with --threads intra-op
// threads (one thread per run wastes less time in OpenMP barriers than two on a small machine).
// Each finished run is appended to <out>/results.jsonl at once, and a run already there with the
// same data, hyperparameters and code (a hash of fulltune's built dist/ and addon; transformers'
// version and seed_study_hf.py) is not run again, so an interrupted study continues where it
// stopped.
const { spawn, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const CONFIGS = ['fulltune', 'fused', 'transformers'];
const DROPOUT = { fulltune: undefined, fused: 'fused' };

function parseArgs(argv) {
  const o = {
    seeds: '1,2,3,4,5,6,7,8,9,10',
    configs: 'fulltune,transformers',
    jobs: '2',
    threads: '1',
    out: path.join(root, 'accuracy-study'),
    train: '',
    validation: '',
    'max-length': '128',
    epochs: '3',
    'batch-size': '16',
    lr: '5e-5',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o) || !argv[i].startsWith('--')) throw new Error(`unknown argument ${argv[i]}; expected one of ${Object.keys(o).map((x) => '--' + x).join(' ')}`);
    if (argv[i + 1] === undefined) throw new Error(`${argv[i]} needs a value`);
    o[k] = argv[i + 1];
  }
  const seeds = o.seeds.split(',').map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`--seeds: expected non-negative integers separated by commas, got ${JSON.stringify(s)}`);
    return Number(s);
  });
  const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twice !== undefined) throw new Error(`--seeds: seed ${twice} is given twice`);
  const configs = o.configs.split(',');
  for (const c of configs) if (!CONFIGS.includes(c)) throw new Error(`--configs: expected some of ${CONFIGS.join(', ')}, got ${JSON.stringify(c)}`);
  for (const k of ['jobs', 'threads', 'max-length', 'epochs', 'batch-size']) if (!/^[1-9]\d*$/.test(o[k])) throw new Error(`--${k}: expected a positive integer, got ${JSON.stringify(o[k])}`);
  if (!(Number(o.lr) > 0)) throw new Error(`--lr: expected a positive number, got ${JSON.stringify(o.lr)}`);
  if (!o.train !== !o.validation) throw new Error('--train and --validation go together (neither: the Reuters grain set)');
  for (const f of ['train', 'validation']) if (o[f] && !fs.existsSync(o[f])) throw new Error(`--${f}: no file ${o[f]}`);
  return { ...o, seeds, configs, out: path.resolve(o.out) };
}

function python() {
  if (process.env.FULLTUNE_PYTHON) return process.env.FULLTUNE_PYTHON;
  try {
    const info = require('./locate-libtorch.js').locate();
    if (info.python) return info.python;
  } catch {
    /* fall through */
  }
  return 'python3';
}

const sha1 = (...parts) => {
  const h = crypto.createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 12);
};

/** What a fulltune run executes: its built JavaScript (dist/) and native addon, hashed. */
function fulltuneCode() {
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else files.push(f);
    }
  };
  walk(path.join(root, 'dist'));
  files.push(path.join(root, 'build', 'Release', 'fulltune.node'));
  return 'fulltune ' + sha1(...files.flatMap((f) => [path.relative(root, f), fs.readFileSync(f)]));
}

/** transformers' version and this study's script for it. */
function transformersCode() {
  const v = execFileSync(python(), ['-c', 'import transformers; print(transformers.__version__)'], { encoding: 'utf8', env: { ...process.env, PYTHONWARNINGS: 'ignore' } }).trim();
  return `transformers ${v}, seed_study_hf.py ${sha1(fs.readFileSync(path.join(__dirname, 'seed_study_hf.py')))}`;
}

/** The children of runs under way: killed when the study fails or is interrupted. */
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

/** Runs a command; resolves with its stdout, rejects with the end of its stderr. */
function run(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, HF_HUB_OFFLINE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      children.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')} failed (${code ?? signal}):\n${err}`));
    });
  });
}

async function runFulltune(o, config, seed, threads) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `seed-study-${config}-`));
  try {
    const t0 = Date.now();
    const env = { OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads };
    if (DROPOUT[config]) env.FULLTUNE_DROPOUT = DROPOUT[config];
    const cli = path.join(root, 'bin', 'fulltune.js');
    const common = ['--max-length', o['max-length'], '--quiet', '--cache-dir', path.join(o.out, 'features')];
    await run(process.execPath, [
      cli, 'train', '--model', require('./demo.js').MODEL, '--output', out, '--overwrite-output', '--task', 'sequence-classification', '--train', o.train,
      '--epochs', o.epochs, '--batch-size', o['batch-size'], '--lr', o.lr, '--warmup-ratio', '0.1', '--weight-decay', '0.01', '--max-grad-norm', '1',
      '--seed', String(seed), ...common,
    ], env);
    const seconds = (Date.now() - t0) / 1000;
    const m = JSON.parse((await run(process.execPath, [cli, 'eval', '--model', out, '--data', o.validation, '--batch-size', '64', ...common], env)).trim().split('\n').pop());
    return { accuracy: m.eval_accuracy, f1: m.eval_f1, seconds };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

async function runTransformers(o, seed, threads, model) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'seed-study-hf-'));
  try {
    const stdout = await run(python(), [
      path.join(__dirname, 'seed_study_hf.py'), '--model', model, '--train', o.train, '--validation', o.validation, '--seed', String(seed),
      '--output', out, '--max-length', o['max-length'], '--epochs', o.epochs, '--batch-size', o['batch-size'], '--lr', o.lr,
      '--warmup', '0.1', '--weight-decay', '0.01',
    ], { OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads, PYTHONWARNINGS: 'ignore' });
    const m = JSON.parse(stdout.trim().split('\n').pop());
    return { accuracy: m.accuracy, f1: m.f1, seconds: m.train_seconds };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const sd = (a) => (a.length < 2 ? 0 : Math.sqrt(a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / (a.length - 1)));

/**
 * Welch's t-test of x against y, two-sided (scipy.stats.ttest_ind(x, y, equal_var=False)): t,
 * the Welch-Satterthwaite degrees of freedom, p. Null with fewer than 2 values on a side, or
 * none varying.
 */
function welch(x, y) {
  if (x.length < 2 || y.length < 2) return null;
  const [vx, vy] = [sd(x) ** 2 / x.length, sd(y) ** 2 / y.length];
  if (vx + vy === 0) return null;
  const t = (mean(x) - mean(y)) / Math.sqrt(vx + vy);
  const df = (vx + vy) ** 2 / (vx ** 2 / (x.length - 1) + vy ** 2 / (y.length - 1));
  return { t, df, p: Math.min(1, 2 * (1 - require('jstat').jStat.studentt.cdf(Math.abs(t), df))) };
}

/** Per configuration: its runs over the seeds asked, in seed order. */
function byConfig(results, o) {
  const m = {};
  for (const c of o.configs) m[c] = o.seeds.map((s) => results.find((r) => r.config === c && r.seed === s)).filter(Boolean);
  return m;
}

/** The summary the table and the bench print: per configuration, and each fulltune one against transformers. */
function summarize(results, o) {
  const runs = byConfig(results, o);
  const configs = o.configs.filter((c) => runs[c].length > 0).map((c) => {
    const acc = runs[c].map((r) => r.accuracy);
    const f1 = runs[c].map((r) => r.f1);
    return { config: c, runs: runs[c], accuracy: { mean: mean(acc), sd: sd(acc) }, f1: { mean: mean(f1), sd: sd(f1) }, seconds: mean(runs[c].map((r) => r.seconds)) };
  });
  const ref = runs.transformers ?? [];
  const comparisons = configs
    .filter((c) => c.config !== 'transformers' && ref.length > 0)
    .map((c) => {
      const paired = c.runs.map((r) => [r, ref.find((q) => q.seed === r.seed)]).filter(([, q]) => q);
      return {
        config: c.config,
        f1Difference: c.f1.mean - mean(ref.map((r) => r.f1)),
        welch: welch(c.runs.map((r) => r.f1), ref.map((r) => r.f1)),
        seeds: paired.length,
        sameF1: paired.filter(([r, q]) => Math.abs(r.f1 - q.f1) < 1e-12 && Math.abs(r.accuracy - q.accuracy) < 1e-12).length,
      };
    });
  return { configs, comparisons };
}

function table(summary) {
  const f = (x) => x.toFixed(4);
  const lines = ['| configuration | runs | accuracy (mean ± sd) | F1 (mean ± sd) | F1 per seed | s per run |', '|---|---:|---:|---:|---|---:|'];
  for (const c of summary.configs) {
    lines.push(`| ${c.config} | ${c.runs.length} | ${f(c.accuracy.mean)} ± ${f(c.accuracy.sd)} | ${f(c.f1.mean)} ± ${f(c.f1.sd)} | ${c.runs.map((r) => `${r.seed}: ${r.f1.toFixed(3)}`).join(', ')} | ${c.seconds.toFixed(0)} |`);
  }
  if (summary.comparisons.length) {
    lines.push('', '| against transformers | F1 difference of the means | Welch t | df | p (two-sided) | seeds with the same accuracy and F1 |', '|---|---:|---:|---:|---:|---:|');
    for (const c of summary.comparisons) {
      const w = c.welch;
      lines.push(`| ${c.config} | ${(c.f1Difference >= 0 ? '+' : '') + c.f1Difference.toFixed(4)} | ${w ? w.t.toFixed(2) : '-'} | ${w ? w.df.toFixed(1) : '-'} | ${w ? w.p.toFixed(3) : '-'} | ${c.sameF1} of ${c.seeds} |`);
    }
  }
  return lines.join('\n');
}

/**
 * Runs the study (the runs not already in <out>/results.jsonl) and returns its summary.
 * `log` is told of each finished run.
 */
async function runStudy(o, log = (s) => process.stderr.write(s + '\n')) {
  await require('./demo.js').ensureModel();
  const ft = require(path.join(root, 'dist'));
  const model = await ft.resolveModelDir(require('./demo.js').MODEL, { localFilesOnly: true });
  fs.mkdirSync(o.out, { recursive: true });
  if (!o.train) {
    const dir = path.join(o.out, 'data');
    o = { ...o, train: path.join(dir, 'grain-train.csv'), validation: path.join(dir, 'grain-test.csv') };
    if (!fs.existsSync(o.train) || !fs.existsSync(o.validation)) execFileSync(process.execPath, [path.join(__dirname, 'make-reuters-grain.js'), dir], { stdio: 'inherit' });
  }
  const file = path.join(o.out, 'results.jsonl');
  const setting = { train: sha1(fs.readFileSync(o.train)), validation: sha1(fs.readFileSync(o.validation)), maxLength: o['max-length'], epochs: o.epochs, batchSize: o['batch-size'], lr: o.lr };
  const code = { transformers: o.configs.includes('transformers') ? transformersCode() : null, fulltune: fulltuneCode() };
  const codeOf = (config) => (config === 'transformers' ? code.transformers : code.fulltune);
  const results = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
        .filter((r) => JSON.stringify(r.setting) === JSON.stringify(setting) && r.code === codeOf(r.config))
    : [];
  const todo = [];
  for (const seed of o.seeds) for (const config of o.configs) if (!results.some((r) => r.config === config && r.seed === seed)) todo.push({ config, seed });
  let failed = false;
  const worker = async () => {
    for (let job = todo.shift(); job && !failed; job = todo.shift()) {
      const { config, seed } = job;
      try {
        const m = config === 'transformers' ? await runTransformers(o, seed, o.threads, model) : await runFulltune(o, config, seed, o.threads);
        const r = { config, seed, ...m, setting, code: codeOf(config) };
        results.push(r);
        fs.appendFileSync(file, JSON.stringify(r) + '\n');
        log(`[seed-study] ${config} seed ${seed}: accuracy ${m.accuracy.toFixed(4)} F1 ${m.f1.toFixed(4)} (${m.seconds.toFixed(0)} s)`);
      } catch (e) {
        // the other runs under way stop too: the study fails as a whole
        failed = true;
        for (const c of children) c.kill('SIGTERM');
        throw e;
      }
    }
  };
  // every worker settles (its run's folder removed) before a failure is reported
  const failure = (await Promise.allSettled(Array.from({ length: Number(o.jobs) }, worker))).find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
  return summarize(results, o);
}

module.exports = { parseArgs, runStudy, summarize, table, welch };

if (require.main === module) {
  (async () => {
    const o = parseArgs(process.argv.slice(2));
    console.log(table(await runStudy(o)));
  })().catch((e) => {
    process.stderr.write(`seed-study: ${e.message}\n`);
    process.exit(1);
  });
}
