// Initialisation against PyTorch: torch.nn.init.trunc_normal_ drawn bit for bit for the same seed
// (scripts/gen_init_fixtures.py), and ModernBERT's weights drawn truncated as transformers draws
// them (its _init_weights: trunc_normal_ at +-initializer_cutoff_factor * std).
import * as fs from 'fs';
import * as path from 'path';
import * as ft from '../src';

const FX = path.join(__dirname, 'fixtures');

describe('truncNormal_ (torch.nn.init.trunc_normal_)', () => {
  const fx = JSON.parse(fs.readFileSync(path.join(FX, 'init', 'trunc_normal.json'), 'utf8')) as {
    cases: { seed: number; n: number; mean: number; std: number; a: number; b: number; values: number[] }[];
  };

  test.each(fx.cases.map((c) => [`seed ${c.seed}, n ${c.n}, mean ${c.mean}, std ${c.std.toPrecision(3)}, [${c.a.toPrecision(3)}, ${c.b.toPrecision(3)}]`, c]))(
    '%s: the values PyTorch draws after manual_seed',
    (_, c) => {
      ft.tidy(() => {
        ft.manualSeed(c.seed);
        const t = ft.empty([c.n]).truncNormal_(c.mean, c.std, c.a, c.b);
        expect(t.toNumbers()).toEqual(c.values);
      });
    },
  );

  test('std must be positive and a below b', () => {
    ft.tidy(() => {
      expect(() => ft.empty([3]).truncNormal_(0, 0, -1, 1)).toThrow(/^truncNormal_: expected std > 0 and a < b$/);
      let err: unknown;
      try {
        ft.empty([3]).truncNormal_(0, 1, 1, 1);
      } catch (e) {
        err = e;
      }
      expect((err as Error).name).toBe('TypeError'); // a bad argument, not a libtorch failure
    });
  });
});

describe("ModernBERT's weights are truncated normals", () => {
  test('Linear and Embedding with a cutoff: every value within +-cutoff * std, the truncated spread, the padding row drawn too', () => {
    ft.tidy(() => {
      ft.manualSeed(1);
      const w = new ft.nn.Linear(256, 256, { std: 0.1, cutoff: 2 }).weight.toNumbers();
      expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.2 + 1e-7);
      const sd = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
      // a normal truncated at +-2 sd keeps 0.8796 of its sd
      expect(Math.abs(sd / (0.1 * 0.8796) - 1)).toBeLessThan(0.02);
      const plain = new ft.nn.Linear(256, 256, { std: 0.1 }).weight.toNumbers();
      expect(Math.max(...plain.map(Math.abs))).toBeGreaterThan(0.3); // without the cutoff, the normal's tails
      const e = new ft.nn.Embedding(64, 32, 3, 0.1, 2);
      const pad = e.weight.select(0, 3).toNumbers();
      expect(pad.some((x) => x !== 0)).toBe(true); // as transformers' trunc_normal_ overwrites it
      expect(Math.max(...e.weight.toNumbers().map(Math.abs))).toBeLessThanOrEqual(0.2 + 1e-7);
      expect(new ft.nn.Embedding(64, 32, 3, 0.1).weight.select(0, 3).toNumbers().every((x) => x === 0)).toBe(true);
    });
  });

  test('newly initialised heads of a ModernBERT checkpoint: classifier at hidden_size^-0.5 and the prediction head at the output std, both cut at the config factor', async () => {
    const dir = path.join(FX, 'encoders', 'modernbert', 'base');
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg.initializer_cutoff_factor).toBe(2);
    const warned: string[] = [];
    ft.manualSeed(5);
    const model = await ft.AutoModelForSequenceClassification.fromPretrained(dir, { config: { num_labels: 3 }, warn: (m: string) => warned.push(m) });
    try {
      expect(warned.join('\n')).toMatch(/classifier\.weight/);
      expect(warned.join('\n')).toMatch(/head\.dense\.weight/);
      const bound = (std: number) => 2 * std + 1e-7;
      const cls = model.classifier.weight.toNumbers() as number[];
      expect(Math.max(...cls.map(Math.abs))).toBeLessThanOrEqual(bound(cfg.hidden_size ** -0.5));
      const dense = model.head.dense.weight.toNumbers() as number[];
      const outStd = cfg.initializer_range / Math.sqrt(2 * cfg.num_hidden_layers);
      expect(Math.max(...dense.map(Math.abs))).toBeLessThanOrEqual(bound(outStd));
      expect(Math.max(...dense.map(Math.abs))).toBeGreaterThan(outStd); // drawn, not zero or tiny
    } finally {
      model.dispose();
    }
  });

  test('initializer_cutoff_factor null means 3, as in transformers; a non-positive factor is refused', () => {
    const base = JSON.parse(fs.readFileSync(path.join(FX, 'encoders', 'modernbert', 'base', 'config.json'), 'utf8'));
    const { modernBertConfig: parseConfig } = require('../src/models/modernbert/config');
    const { cutoff } = require('../src/models/modernbert/model');
    expect(cutoff(parseConfig({ ...base, initializer_cutoff_factor: null }, 'config.json'))).toBe(3);
    expect(cutoff(parseConfig({ ...base, initializer_cutoff_factor: 2.5 }, 'config.json'))).toBe(2.5);
    const { initializer_cutoff_factor: _, ...without } = base;
    const parsed = parseConfig(without, 'config.json');
    expect(cutoff(parsed)).toBe(2);
    expect('initializer_cutoff_factor' in parsed).toBe(false); // a saved config.json stays as it was
    expect(() => parseConfig({ ...base, initializer_cutoff_factor: 0 }, 'config.json')).toThrow(/initializer_cutoff_factor must be > 0/);
  });
});
