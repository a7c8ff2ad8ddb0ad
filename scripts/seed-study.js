#!/usr/bin/env node
'use strict';
// The dropout seed study: fine-tunes all-MiniLM-L6-v2 on a real labelled set with several seeds
// in three configurations and prints mean ± sd of validation accuracy and F1, with every seed:
//   fused        fulltune train, nn.Dropout through the fused CPU kernel (FULLTUNE_DROPOUT=fused)
//   libtorch     fulltune train, nn.Dropout through libtorch's dropout (FULLTUNE_DROPOUT=libtorch)
//   transformers a transformers Trainer, same data and hyperparameters (scripts/seed_study_hf.py)
//
//   node scripts/seed-study.js [--seeds 1,2,3,4,5] [--configs fused,libtorch,transformers]
//        [--train data/sentiment/train.csv] [--validation data/sentiment/validation.csv]
//        [--max-length 64] [--epochs 3] [--batch-size 32] [--lr 5e-5] [--threads 1] [--out seed-study]
//        [--keep-positives F]
//
// --keep-positives F keeps every row of label 0 and a fixed pseudo-random fraction F of the rows
// of label 1 (the same rows for every seed and configuration), in both files: a rare positive
// class, as in the news-classification runs of issue 7, where F1 is the noisier measure.
// Each finished run is written to <out>/results.jsonl at once, and runs already there are
// skipped, so an interrupted study continues where it stopped. Both sides use a random order
// (fulltune --sampler random; the Trainer's default sampler), warmup 0.1, weight decay 0.01.
// Every run gets --threads intra-op threads (OMP_NUM_THREADS): on a shared machine one thread per
// run wastes less time in OpenMP barriers than two.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const CONFIGS = ['fused', 'libtorch', 'transformers'];

function parseArgs(argv) {
  const o = {
    seeds: '1,2,3,4,5',
    configs: CONFIGS.join(','),
    train: path.join(root, 'data', 'sentiment', 'train.csv'),
    validation: path.join(root, 'data', 'sentiment', 'validation.csv'),
    'max-length': '64',
    epochs: '3',
    'batch-size': '32',
    lr: '5e-5',
    threads: '1',
    'keep-positives': '1',
    out: path.join(root, 'seed-study'),
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
  const configs = o.configs.split(',');
  for (const c of configs) if (!CONFIGS.includes(c)) throw new Error(`--configs: expected some of ${CONFIGS.join(', ')}, got ${JSON.stringify(c)}`);
  const keep = Number(o['keep-positives']);
  if (!(keep > 0 && keep <= 1)) throw new Error(`--keep-positives: expected a fraction in (0, 1], got ${JSON.stringify(o['keep-positives'])}`);
  if (!/^[1-9]\d*$/.test(o.threads)) throw new Error(`--threads: expected a positive integer, got ${JSON.stringify(o.threads)}`);
  for (const f of ['train', 'validation']) if (!fs.existsSync(o[f])) throw new Error(`--${f}: no file ${o[f]}`);
  return { ...o, seeds, configs };
}

function python() {
  if (process.env.FULLTUNE_PYTHON) return process.env.FULLTUNE_PYTHON;
  const venv = path.join(root, '.libtorch', 'venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

let threads = '1';
function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1', OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads, ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')} failed (${r.status ?? r.signal}):\n${(r.stderr || '').slice(-3000)}`);
  return r.stdout;
}

function runFulltune(o, config, seed) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `seed-study-${config}-`));
  try {
    const t0 = Date.now();
    run(process.execPath, [
      path.join(root, 'bin', 'fulltune.js'), 'train', '--model', require('./demo.js').MODEL, '--output', out, '--overwrite-output',
      '--task', 'sequence-classification', '--train', o.train, '--validation', o.validation,
      '--epochs', o.epochs, '--batch-size', o['batch-size'], '--lr', o.lr, '--max-length', o['max-length'],
      '--warmup-ratio', '0.1', '--weight-decay', '0.01', '--seed', String(seed), '--sampler', 'random', '--quiet',
      '--cache-dir', path.join(o.out, 'features'),
    ], { FULLTUNE_DROPOUT: config });
    const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    return { accuracy: m.eval_accuracy, f1: m.eval_f1, seconds: (Date.now() - t0) / 1000 };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

async function runTransformers(o, seed) {
  const ft = require(path.join(root, 'dist'));
  const dir = await ft.resolveModelDir(require('./demo.js').MODEL, { localFilesOnly: true });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'seed-study-hf-'));
  try {
    const t0 = Date.now();
    const stdout = run(python(), [
      path.join(__dirname, 'seed_study_hf.py'), '--model', dir, '--train', o.train, '--validation', o.validation, '--seed', String(seed),
      '--output', out, '--max-length', o['max-length'], '--epochs', o.epochs, '--batch-size', o['batch-size'], '--lr', o.lr,
      '--warmup', '0.1', '--weight-decay', '0.01',
    ]);
    const m = JSON.parse(stdout.trim().split('\n').pop());
    return { accuracy: m.accuracy, f1: m.f1, seconds: (Date.now() - t0) / 1000 };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** The rows of `file` with label 0, and those with label 1 whose fixed draw falls below `keep`. */
function subsample(file, keep, outFile) {
  const { parse } = require('csv-parse/sync');
  const rows = parse(fs.readFileSync(file), { columns: true });
  let a = 0x9e3779b9; // mulberry32 with a fixed seed: the same rows every time
  const draw = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const kept = rows.filter((r) => {
    if (r.label !== '0' && r.label !== '1') throw new Error(`${file}: label must be 0 or 1, got ${JSON.stringify(r.label)}`);
    const u = draw();
    return r.label === '0' || u < keep;
  });
  const cols = Object.keys(rows[0]);
  const q = (v) => `"${String(v).replace(/"/g, '""')}"`;
  fs.writeFileSync(outFile, [cols.map(q).join(','), ...kept.map((r) => cols.map((c) => q(r[c])).join(','))].join('\n') + '\n');
  return kept.filter((r) => r.label === '1').length + ' of ' + kept.length;
}

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const sd = (a) => (a.length < 2 ? 0 : Math.sqrt(a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / (a.length - 1)));

function table(results, o) {
  const lines = ['| configuration | accuracy (mean ± sd) | F1 (mean ± sd) | accuracy per seed | F1 per seed | s per run |', '|---|---:|---:|---|---|---:|'];
  for (const c of o.configs) {
    const rs = o.seeds.map((s) => results.find((r) => r.config === c && r.seed === s)).filter(Boolean);
    if (rs.length === 0) continue;
    const acc = rs.map((r) => r.accuracy);
    const f1 = rs.map((r) => r.f1);
    lines.push(
      `| ${c} | ${mean(acc).toFixed(4)} ± ${sd(acc).toFixed(4)} | ${mean(f1).toFixed(4)} ± ${sd(f1).toFixed(4)} | ` +
        `${acc.map((v) => v.toFixed(4)).join(', ')} | ${f1.map((v) => v.toFixed(4)).join(', ')} | ${mean(rs.map((r) => r.seconds)).toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  threads = o.threads;
  await require('./demo.js').ensureModel();
  fs.mkdirSync(o.out, { recursive: true });
  if (o['keep-positives'] !== '1') {
    const dir = path.join(o.out, 'data');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['train', 'validation']) {
      const dst = path.join(dir, `${f}.csv`);
      process.stderr.write(`[seed-study] ${f}: ${subsample(o[f], Number(o['keep-positives']), dst)} rows positive\n`);
      o[f] = dst;
    }
  }
  const file = path.join(o.out, 'results.jsonl');
  const setting = { train: path.resolve(o.train), validation: path.resolve(o.validation), maxLength: o['max-length'], epochs: o.epochs, batchSize: o['batch-size'], lr: o.lr };
  if (o['keep-positives'] !== '1') setting.keepPositives = o['keep-positives'];
  const results = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => JSON.stringify(r.setting) === JSON.stringify(setting))
    : [];
  for (const seed of o.seeds) {
    for (const config of o.configs) {
      if (results.some((r) => r.config === config && r.seed === seed)) continue;
      const m = config === 'transformers' ? await runTransformers(o, seed) : runFulltune(o, config, seed);
      const r = { config, seed, ...m, setting };
      results.push(r);
      fs.appendFileSync(file, JSON.stringify(r) + '\n');
      process.stderr.write(`[seed-study] ${config} seed ${seed}: accuracy ${m.accuracy.toFixed(4)} F1 ${m.f1.toFixed(4)} (${m.seconds.toFixed(0)} s)\n`);
    }
  }
  console.log(table(results, o));
}

main().catch((e) => {
  process.stderr.write(`seed-study: ${e.message}\n`);
  process.exit(1);
});
