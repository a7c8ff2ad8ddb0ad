// report.html: Vega-Lite charts as static SVG (checked in the parsed page: axes, both loss
// series where the data puts them), the arguments the run used, versions; and, where Chromium
// is installed, what a browser draws of it.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { libtorchVersion } from '../src/tensor/create';
import { LogEntry } from '../src/train/progress';
import { effectiveArguments, renderReport, runInfo } from '../src/train/report';

// ---- a strict XML reader: the page is written well-formed, so any slip fails here ----
interface El {
  name: string;
  attrs: Record<string, string>;
  children: (El | string)[];
}
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const decode = (s: string) => s.replace(/&(#\d+|#x[0-9a-f]+|\w+);/gi, (m, e: string) => (e[0] === '#' ? String.fromCodePoint(Number(e[1] === 'x' ? '0' + e.slice(1) : e.slice(1))) : ENTITIES[e] ?? m));
function parseXml(src: string): El {
  const root: El = { name: '#root', attrs: {}, children: [] };
  const stack = [root];
  const re = /<!--[\s\S]*?-->|<!doctype[^>]*>|<\/([\w:-]+)\s*>|<([\w:-]+)((?:\s+[\w:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/giy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < src.length && (m = re.exec(src))) {
    const top = stack[stack.length - 1];
    if (m[6]) throw new Error(`stray '<' at ${m.index}: ${src.slice(m.index, m.index + 40)}`);
    if (m[5] !== undefined) top.children.push(decode(m[5]));
    else if (m[1]) {
      if (m[1] !== top.name) throw new Error(`</${m[1]}> closes <${top.name}> at ${m.index}`);
      stack.pop();
    } else if (m[2]) {
      const attrs: Record<string, string> = {};
      for (const a of m[3].matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs[a[1]] = decode(a[2] ?? a[3]);
      const el: El = { name: m[2], attrs, children: [] };
      top.children.push(el);
      if (!m[4]) stack.push(el);
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  return root;
}
const all = (el: El, pred: (e: El) => boolean): El[] => el.children.flatMap((c) => (typeof c === 'string' ? [] : [...(pred(c) ? [c] : []), ...all(c, pred)]));
const text = (el: El): string => el.children.map((c) => (typeof c === 'string' ? c : text(c))).join('');
const byClass = (el: El, cls: string) => all(el, (e) => (e.attrs.class ?? '').split(/\s+/).includes(cls));

/** The page's sections: each <h2> with the element after it. */
function sections(doc: El): Map<string, El> {
  const body = all(doc, (e) => e.name === 'body')[0];
  const kids = body.children.filter((c): c is El => typeof c !== 'string');
  const out = new Map<string, El>();
  kids.forEach((k, i) => k.name === 'h2' && out.set(text(k), kids[i + 1]));
  return out;
}
const tableOf = (t: El) => Object.fromEntries(all(t, (e) => e.name === 'tr').map((tr) => [text(all(tr, (e) => e.name === 'th')[0]), text(all(tr, (e) => e.name === 'td')[0])]));
/** The coordinates a path visits (M and L commands, as vega writes lines). */
const vertices = (d: string) => [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);

// ---- a run: 30 logged steps, 3 evaluations ----
const log: LogEntry[] = [];
for (let s = 10; s <= 300; s += 10) log.push({ step: s, epoch: s / 100, loss: 0.7 * Math.exp(-s / 150), learning_rate: s <= 30 ? (2e-5 * s) / 30 : (2e-5 * (300 - s)) / 270, grad_norm: 2 + Math.cos(s / 20), samples_per_second: 50 });
for (const s of [100, 200, 300]) log.push({ step: s, epoch: s / 100, eval_loss: 0.6 - s / 1000, eval_accuracy: 0.7 + s / 2000, eval_runtime: 3, eval_samples_per_second: 300 });
const flags = {
  model: 'prajjwal1/bert-tiny', output: 'out', task: 'sequence-classification', train: 'train.csv', validation: 'dev.csv',
  epochs: 3, 'batch-size': 32, lr: 2e-5, 'warmup-ratio': 0.1, schedule: 'linear', seed: 42, device: 'cpu', 'logging-steps': 10,
  'max-steps': 300, 'eval-steps': 100, quiet: true, verbose: false, bf16: false, fp16: false, 'max-length': undefined,
};
const info = () => {
  const i = runInfo(effectiveArguments(flags, { maxLength: 128, steps: 300 }));
  return { ...i, date: new Date(Date.UTC(2026, 10, 29, 12, 30, 5)) };
};

describe('report.html', () => {
  let html: string;
  let doc: El;
  let parts: Map<string, El>;
  beforeAll(async () => {
    html = await renderReport('fulltune: <demo> & run', log, { eval_loss: 0.3, eval_accuracy: 0.85, train_rows: 9600, note: 'a<b' }, info());
    doc = parseXml(html);
    parts = sections(doc);
  });

  test('is self-contained: no scripts, nothing fetched', () => {
    expect(all(doc, (e) => e.name === 'script' || e.name === 'link' || e.name === 'img' || e.name === 'image' || e.name === 'iframe')).toEqual([]);
    expect(html).not.toMatch(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\/|url\(\s*["']?(?:https?:)?\/\/|@import/i);
    expect(text(all(doc, (e) => e.name === 'h1')[0])).toBe('fulltune: <demo> & run');
    expect([...parts.keys()]).toEqual(['Run', 'Final metrics', 'Training loss', 'Learning rate', 'Gradient norm', 'Validation accuracy (eval_accuracy)', 'Arguments']);
  });

  test('the loss chart: axes with tick labels, grid and titles; training and validation loss where the data puts them', () => {
    const svg = parts.get('Training loss')!;
    expect(svg.name).toBe('svg');
    const axisTitles = byClass(svg, 'role-axis-title').map(text);
    expect(axisTitles).toEqual(['step', 'loss']);
    const labels = byClass(svg, 'role-axis-label').map((g) => all(g, (e) => e.name === 'text').map(text));
    expect(labels).toHaveLength(2);
    const [xLabels, yLabels] = labels;
    expect(xLabels).toEqual(expect.arrayContaining(['0', '100', '200', '300']));
    expect(xLabels.every((l) => /^\d+$/.test(l))).toBe(true); // steps without decimals
    expect(yLabels.length).toBeGreaterThanOrEqual(4);
    expect(yLabels.every((l) => Number.isFinite(Number(l)))).toBe(true);
    expect(byClass(svg, 'role-axis-grid').length).toBe(2);
    expect(byClass(svg, 'role-axis-tick').length).toBe(2);
    expect(byClass(svg, 'role-legend-label').map(text)).toEqual(['training loss', 'validation loss (eval_loss)']);

    const lines = byClass(svg, 'mark-line').flatMap((g) => all(g, (e) => e.name === 'path'));
    expect(lines.map((p) => p.attrs.stroke)).toEqual(['#1f77b4', '#d62728']);
    const [trainPts, evalPts] = lines.map((p) => vertices(p.attrs.d));
    expect(trainPts).toHaveLength(30);
    expect(evalPts).toHaveLength(3);
    // x: the step on a 0..300 axis 640 pixels wide; y: lower loss lower on the page (larger y)
    expect(evalPts.map(([x]) => x)).toEqual([100, 200, 300].map((s) => expect.closeTo((s / 300) * 640, 2)));
    expect(trainPts.map(([x]) => x)).toEqual(log.slice(0, 30).map((e) => expect.closeTo((e.step / 300) * 640, 2)));
    for (const pts of [trainPts, evalPts]) for (let i = 1; i < pts.length; i++) expect(pts[i][1]).toBeGreaterThan(pts[i - 1][1]);
    // one y scale for both: eval loss 0.5 at step 100 sits above the training loss 0.7 exp(-2/3) = 0.36 there
    expect(evalPts[0][1]).toBeLessThan(trainPts[9][1]);
    // a dot on every value of series this short
    expect(byClass(svg, 'mark-symbol').filter((g) => g.attrs.class.includes('role-mark')).flatMap((g) => all(g, (e) => e.name === 'path'))).toHaveLength(33);
  });

  test('learning-rate, gradient-norm and metric charts have their axes; learning rates read as numbers', () => {
    const lr = parts.get('Learning rate')!;
    expect(byClass(lr, 'role-axis-title').map(text)).toEqual(['step', 'learning rate']);
    const lrLabels = all(byClass(lr, 'role-axis-label')[1], (e) => e.name === 'text').map(text);
    expect(lrLabels).toContain('2e-5');
    expect(lrLabels.every((l) => Number.isFinite(Number(l)))).toBe(true);
    expect(byClass(parts.get('Gradient norm')!, 'role-axis-title').map(text)).toEqual(['step', 'gradient norm']);
    const acc = parts.get('Validation accuracy (eval_accuracy)')!;
    expect(byClass(acc, 'role-axis-title').map(text)).toEqual(['step', 'accuracy']);
    expect(byClass(acc, 'role-legend-label')).toEqual([]);
    // runtime and throughput are not curves worth a chart
    expect([...parts.keys()].some((k) => /runtime|per_second/.test(k))).toBe(false);
  });

  test('arguments: what the run used (no --epochs under --max-steps, the max length used, steps run); versions and date', () => {
    const args = tableOf(parts.get('Arguments')!);
    expect(Object.keys(args)).toEqual(['model', 'output', 'task', 'train', 'validation', 'batch-size', 'lr', 'warmup-ratio', 'schedule', 'seed', 'device', 'logging-steps', 'max-steps', 'eval-steps', 'max-length', 'optimizer steps']);
    expect(args['max-length']).toBe('128');
    expect(args['max-steps']).toBe('300');
    const run = tableOf(parts.get('Run')!);
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    expect(run).toEqual({ date: '2026-11-29 12:30:05 UTC', fulltune: pkg.version, 'Node.js': process.version, libtorch: libtorchVersion() });
    expect(run.libtorch).toMatch(/^\d+\.\d+\.\d+$/);
    expect(tableOf(parts.get('Final metrics')!)).toEqual({ eval_loss: '0.3000', eval_accuracy: '0.8500', train_rows: '9600', note: 'a<b' });
  });

  test('a run without validation data: the loss chart has one series and no legend, no metric charts; NaN values are left out', async () => {
    const noEval = log.filter((e) => typeof e.loss === 'number').map((e) => (e.step === 150 ? { ...e, loss: NaN } : e));
    const d = sections(parseXml(await renderReport('r', noEval, {}, info())));
    expect([...d.keys()]).toEqual(['Run', 'Final metrics', 'Training loss', 'Learning rate', 'Gradient norm', 'Arguments']);
    const svg = d.get('Training loss')!;
    expect(byClass(svg, 'role-legend-label')).toEqual([]);
    const lines = byClass(svg, 'mark-line').flatMap((g) => all(g, (e) => e.name === 'path'));
    expect(lines).toHaveLength(1);
    expect(vertices(lines[0].attrs.d)).toHaveLength(29);
    const empty = sections(parseXml(await renderReport('r', [], {}, info())));
    expect([...empty.keys()]).toEqual(['Run', 'Final metrics', 'Arguments']);
  });
});

describe('effectiveArguments', () => {
  test('leaves out what had no effect and says what was used', () => {
    const base = { model: 'm', train: 't.csv', epochs: 3, 'warmup-ratio': 0.1, quiet: false, verbose: true, help: false, bf16: true, fp16: false };
    expect(effectiveArguments(base, { maxLength: 64, steps: 90 })).toEqual({ model: 'm', train: 't.csv', epochs: 3, 'warmup-ratio': 0.1, bf16: true, 'max-length': 64, 'optimizer steps': 90 });
    expect(effectiveArguments({ ...base, 'max-steps': 50, 'warmup-steps': 5 }, { maxLength: 64, steps: 50 })).toEqual({ model: 'm', train: 't.csv', bf16: true, 'max-length': 64, 'max-steps': 50, 'warmup-steps': 5, 'optimizer steps': 50 });
    expect(effectiveArguments({ ...base, 'eval-steps': 10, 'early-stopping-patience': 2 }, { maxLength: 64, steps: 1 })).not.toHaveProperty('eval-steps');
    expect(effectiveArguments({ ...base, validation: 'v.csv', 'eval-steps': 10, 'early-stopping-patience': 2 }, { maxLength: 64, steps: 1 })).toMatchObject({ 'eval-steps': 10, 'early-stopping-patience': 2 });
    expect(effectiveArguments({ ...base, resume: true }, { maxLength: 64, steps: 1 }).resume).toBe('latest checkpoint');
  });
});

// ---- what a browser draws ----
/** RGBA pixels of an 8-bit, non-interlaced PNG (what Chromium writes). */
function readPng(file: string): { width: number; height: number; rgba: (x: number, y: number) => number[] } {
  const buf = fs.readFileSync(file);
  let pos = 8;
  let width = 0, height = 0, type = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos), kind = buf.toString('latin1', pos + 4, pos + 8), data = buf.subarray(pos + 8, pos + 8 + len);
    if (kind === 'IHDR') {
      [width, height, type] = [data.readUInt32BE(0), data.readUInt32BE(4), data[9]];
      if (data[8] !== 8 || data[12] !== 0 || (type !== 2 && type !== 6)) throw new Error(`PNG: expected 8-bit RGB(A), non-interlaced; got depth ${data[8]}, type ${type}, interlace ${data[12]}`);
    } else if (kind === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const bpp = type === 6 ? 4 : 3, stride = width * bpp;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i];
      const a = i >= bpp ? px[y * stride + i - bpp] : 0, b = y > 0 ? px[(y - 1) * stride + i] : 0, c = i >= bpp && y > 0 ? px[(y - 1) * stride + i - bpp] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      px[y * stride + i] = (v + pred) & 255;
    }
  }
  return { width, height, rgba: (x, y) => [...px.subarray(y * stride + x * bpp, y * stride + x * bpp + 3), bpp === 4 ? px[y * stride + x * bpp + 3] : 255] };
}

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find((c) => spawnSync(c, ['--version']).status === 0);
if (!chromium) console.warn('report.test: no chromium on this machine, the screenshot check is skipped (apt-get install chromium)');
(chromium ? test : test.skip)('headless Chromium draws the charts: both loss colours, axis text, nothing cut off', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-report-'));
  const page = path.join(dir, 'report.html'), shot = path.join(dir, 'report.png');
  fs.writeFileSync(page, await renderReport('fulltune: demo', log, { eval_loss: 0.3 }, info()));
  spawnSync(chromium!, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=900,2600', `--screenshot=${shot}`, `file://${page}`], { timeout: 90_000 });
  expect(fs.existsSync(shot)).toBe(true);
  const img = readPng(shot);
  const count = (pred: (p: number[]) => boolean) => {
    let n = 0;
    for (let y = 0; y < img.height; y += 1) for (let x = 0; x < img.width; x += 1) if (pred(img.rgba(x, y))) n++;
    return n;
  };
  const near = (c: number[]) => (p: number[]) => Math.abs(p[0] - c[0]) + Math.abs(p[1] - c[1]) + Math.abs(p[2] - c[2]) < 60;
  // the training loss (blue), validation loss (red) and dark text all show up in quantity
  expect(count(near([0x1f, 0x77, 0xb4]))).toBeGreaterThan(2000);
  expect(count(near([0xd6, 0x27, 0x28]))).toBeGreaterThan(150);
  expect(count((p) => p[0] < 80 && p[1] < 80 && p[2] < 80)).toBeGreaterThan(5000);
  // charts fit the page: nothing drawn in the rightmost 60 pixels
  let right = 0;
  for (let y = 0; y < img.height; y++) for (let x = img.width - 60; x < img.width; x++) if (img.rgba(x, y)[0] < 200) right++;
  expect(right).toBe(0);
  fs.rmSync(dir, { recursive: true });
}, 120_000);
