// config.json keeps its floats through fulltune: `2.0` read and written again is `2.0`, not `2`
// (transformers' typed configs refuse an int where a float is declared).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { parseJsonKeepingFloats, stringifyKeepingFloats } from '../src/hub/json';

test('integral floats, top level and nested, come back as floats; ints, non-integral floats and strings are untouched', () => {
  const text = '{"a": 2.0, "b": 2, "c": 1e4, "d": 0.5, "e": "3.0", "f": {"rope_theta": 160000.0, "n": 3}, "g": [1.0, 2], "h": -4.0, "i": 1e-7}';
  const v = parseJsonKeepingFloats(text) as Record<string, unknown>;
  expect(JSON.parse(JSON.stringify(v))).toEqual({ a: 2, b: 2, c: 10000, d: 0.5, e: '3.0', f: { rope_theta: 160000, n: 3 }, g: [1, 2], h: -4, i: 1e-7 });
  const out = stringifyKeepingFloats({ ...v, added: 7 });
  for (const re of [/"a": 2\.0,/, /"b": 2,/, /"c": 10000\.0,/, /"d": 0\.5,/, /"e": "3\.0",/, /"rope_theta": 160000\.0,/, /"n": 3\n/, /\[\n\s+1\.0,\n\s+2\n\s+\]/, /"h": -4\.0,/, /"i": 1e-7,/, /"added": 7\n/]) {
    expect(out).toMatch(re);
  }
  expect(JSON.parse(out)).toEqual({ ...JSON.parse(JSON.stringify(v)), added: 7 });
});

test('savePretrained writes the float fields of the config.json it loaded as floats', async () => {
  const src = path.join(__dirname, 'fixtures', 'encoders', 'modernbert', 'seqcls');
  const raw = fs.readFileSync(path.join(src, 'config.json'), 'utf8');
  expect(raw).toMatch(/"initializer_cutoff_factor": 2\.0/);
  const m = await ft.AutoModelForSequenceClassification.fromPretrained(src, { warn: () => undefined });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-floats-'));
  ft.savePretrained(m, out);
  m.dispose();
  const saved = fs.readFileSync(path.join(out, 'config.json'), 'utf8');
  expect(saved).toMatch(/"initializer_cutoff_factor": 2\.0/);
  expect(saved).toMatch(/"rope_theta": 160000\.0/);
  expect(saved).toMatch(/"vocab_size": \d+,/); // ints stay ints
  fs.rmSync(out, { recursive: true });
});
