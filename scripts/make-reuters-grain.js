#!/usr/bin/env node
'use strict';
// Reuters-21578 "grain" (ModApte split, a one-fifth subset of the articles) as Debian's `weka`
// package ships it (usr/share/doc/weka/examples/ReutersGrain-{train,test}.arff: 1,554 and 604
// news articles, about 7% and 9% about grain). Writes OUTDIR/grain-train.csv and
// OUTDIR/grain-test.csv with columns text (the ARFF's \n escapes turned into spaces, whitespace
// collapsed) and label (0/1): the accuracy study's data (scripts/seed-study.js).
//
//   node scripts/make-reuters-grain.js OUTDIR
//
// Needs apt-get and dpkg-deb (Debian, Ubuntu); downloads the package (about 10 MB) once into a
// temporary folder, without installing it.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function sh(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.code === 'ENOENT' ? 'not found (the data comes from a Debian package: apt-get and dpkg-deb are needed)' : r.error.message}`);
  return r;
}

/** The weka package's ARFF folder, unpacked into `dir`. */
function unpackWeka(dir) {
  let r = sh('apt-get', ['download', 'weka'], dir);
  if (r.status !== 0) {
    sh('apt-get', ['update', '-qq'], dir);
    r = sh('apt-get', ['download', 'weka'], dir);
    if (r.status !== 0) throw new Error(`apt-get download weka failed:\n${r.stderr}`);
  }
  const deb = fs.readdirSync(dir).find((f) => /^weka_.*\.deb$/.test(f));
  r = sh('dpkg-deb', ['-x', deb, 'x'], dir);
  if (r.status !== 0) throw new Error(`dpkg-deb -x ${deb} failed:\n${r.stderr}`);
  return path.join(dir, 'x', 'usr', 'share', 'doc', 'weka', 'examples');
}

// Python's str.split() whitespace within Latin-1: JS's \s plus the separators \x1c-\x1f and NEL.
const SPACE = /[\s\x1c-\x1f\x85]+/;

/** The rows of one ARFF file: 'text',label lines (Latin-1). */
function readArff(file) {
  const rows = [];
  for (const line of fs.readFileSync(file).toString('latin1').split(/\r\n|\r|\n/)) {
    const m = /^'(.*)',(\d)\s*$/.exec(line);
    if (!m) continue;
    const text = m[1].split('\\n').join(' ').split("\\'").join("'");
    rows.push({ text: text.split(SPACE).filter(Boolean).join(' '), label: Number(m[2]) });
  }
  return rows;
}

function main() {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node scripts/make-reuters-grain.js OUTDIR\n');
    process.exit(2);
  }
  fs.mkdirSync(out, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reuters-grain-'));
  try {
    const src = unpackWeka(tmp);
    const q = (s) => `"${String(s).replace(/"/g, '""')}"`;
    for (const split of ['train', 'test']) {
      const rows = readArff(path.join(src, `ReutersGrain-${split}.arff`));
      fs.writeFileSync(path.join(out, `grain-${split}.csv`), ['text,label', ...rows.map((r) => `${q(r.text)},${r.label}`)].join('\n') + '\n');
      process.stderr.write(`grain-${split}.csv: ${rows.length} rows, ${rows.filter((r) => r.label === 1).length} positive\n`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`make-reuters-grain: ${e.message}\n`);
    process.exit(1);
  }
}
