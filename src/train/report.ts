// report.html: a self-contained page (no scripts, no network) with Vega-Lite charts rendered to
// static SVG here (loss with validation loss, learning rate, gradient norm, each evaluation
// metric), the final metrics, the arguments the run used and the versions it ran on.
import * as fs from 'fs';
import * as path from 'path';
import * as vega from 'vega';
import { compile, TopLevelSpec } from 'vega-lite';
import { libtorchVersion } from '../tensor/create';
import { LogEntry } from './progress';

/** What the report says about the run besides its log and metrics. */
export interface RunInfo {
  /** The settings the run used (under their command-line names), in display order. */
  args: Record<string, string | number | boolean>;
  versions: { fulltune: string; node: string; libtorch: string };
  date: Date;
}

export interface Series {
  name: string;
  points: [number, number][];
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/**
 * A Vega-Lite line chart of `series` against the optimizer step: axes with ticks, grid and
 * titles, a legend when there is more than one series, points on series of up to 50 values
 * (an evaluation every epoch is a handful of points); `steps`: the x range (one for all charts
 * of a run). Non-finite values are left out.
 */
export function chartSpec(series: Series[], yTitle: string, o: { yFormat?: string; steps?: [number, number] } = {}): TopLevelSpec {
  const values = series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([step, value]) => ({ step, value, series: s.name })));
  const names = series.map((s) => s.name);
  const dotted = series.filter((s) => s.points.length <= 50).map((s) => s.name);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 640,
    height: 220,
    background: 'white',
    config: {
      font: 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif',
      axis: { grid: true, gridColor: '#e8e8e8', titleFontWeight: 'normal', titleFontSize: 12, labelFontSize: 11 },
      // the same room for every chart's y labels: the plots line up down the page
      axisY: { minExtent: 56 },
    },
    data: { values },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step', axis: { format: 'd', tickMinStep: 1 }, scale: o.steps ? { domain: o.steps, nice: false } : { nice: false } },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false }, ...(o.yFormat ? { axis: { format: o.yFormat } } : {}) },
      color: {
        field: 'series',
        type: 'nominal',
        scale: { domain: names, range: COLOURS.slice(0, names.length) },
        ...(names.length > 1 ? { legend: { orient: 'top', title: null, labelFontSize: 12, labelLimit: 400 } } : { legend: null }),
      },
    },
    layer: [
      { mark: { type: 'line', strokeWidth: 1.5 } },
      ...(dotted.length ? [{ transform: [{ filter: { field: 'series', oneOf: dotted } }], mark: { type: 'point' as const, filled: true, size: 36 } }] : []),
    ],
  };
}

/** Static SVG of a Vega-Lite spec (vega's headless view: no canvas, no DOM). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(3) : v.toFixed(4));
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const table = (rows: [string, string][]) => `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;

/**
 * The report page. `log`: the trainer's entries (training entries carry loss, learning_rate,
 * grad_norm; evaluation entries eval_* keys); `metrics`: the final metrics; `info`: arguments,
 * versions and date. Charts without data are left out. Async because vega renders asynchronously.
 */
export async function renderReport(title: string, log: LogEntry[], metrics: Record<string, number | string>, info: RunInfo): Promise<string> {
  const train = log.filter((e) => typeof e.loss === 'number');
  const evals = log.filter((e) => Object.keys(e).some((k) => k.startsWith('eval_')));
  const pick = (entries: LogEntry[], k: string): [number, number][] => entries.filter((e) => typeof e[k] === 'number').map((e) => [e.step, e[k] as number]);
  const evalKeys = [...new Set(evals.flatMap((e) => Object.keys(e).filter((k) => k.startsWith('eval_') && k !== 'eval_loss' && typeof e[k] === 'number' && !/runtime|per_second/.test(k))))];
  const charts: { title: string; spec: TopLevelSpec }[] = [];
  const steps: [number, number] = [0, Math.max(1, ...log.map((e) => e.step))];
  const add = (t: string, series: Series[], yTitle: string, yFormat?: string) => {
    if (series.some((s) => s.points.some(([, y]) => Number.isFinite(y)))) charts.push({ title: t, spec: chartSpec(series.filter((s) => s.points.length > 0), yTitle, { yFormat, steps }) });
  };
  add('Training loss', [{ name: 'training loss', points: pick(train, 'loss') }, { name: 'validation loss (eval_loss)', points: pick(evals, 'eval_loss') }], 'loss');
  add('Learning rate', [{ name: 'learning rate', points: pick(train, 'learning_rate') }], 'learning rate', '.2~e');
  add('Gradient norm', [{ name: 'gradient norm (before clipping)', points: pick(train, 'grad_norm') }], 'gradient norm');
  for (const k of evalKeys) add(`Validation ${k.replace(/^eval_/, '')} (${k})`, [{ name: k, points: pick(evals, k) }], k.replace(/^eval_/, ''));
  const svgs = await Promise.all(charts.map((c) => renderSvg(c.spec)));
  const metricRows: [string, string][] = Object.entries(metrics).map(([k, v]) => [k, typeof v === 'number' ? fmt(v) : String(v)]);
  const argRows: [string, string][] = Object.entries(info.args).map(([k, v]) => [k, String(v)]);
  const v = info.versions;
  const runRows: [string, string][] = [
    ['date', info.date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')],
    ['fulltune', v.fulltune],
    ['Node.js', v.node],
    ['libtorch', v.libtorch],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"/><title>${esc(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:760px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.1em;margin:1.6em 0 .4em}
table{border-collapse:collapse;font-size:.9em}th,td{border:1px solid #ddd;padding:3px 10px;text-align:left}th{font-weight:normal;color:#555;background:#f7f7f7}
td{font-variant-numeric:tabular-nums}svg{max-width:100%;height:auto}
</style></head><body>
<h1>${esc(title)}</h1>
<h2>Run</h2>${table(runRows)}
<h2>Final metrics</h2>${table(metricRows)}
${charts.map((c, i) => `<h2>${esc(c.title)}</h2>${svgs[i]}`).join('\n')}
<h2>Arguments</h2>${table(argRows)}
</body></html>
`;
}

/**
 * The arguments a `fulltune train` run used, from its parsed flags (defaults included): what
 * had no effect is left out (--epochs under --max-steps, --warmup-ratio under --warmup-steps,
 * evaluation settings without --validation, switches that are off, output-only flags), the
 * max length is the one used, and `optimizer steps` is the number of steps run.
 */
export function effectiveArguments(flags: Record<string, unknown>, used: { maxLength: number; steps: number }): Record<string, string | number | boolean> {
  const f: Record<string, unknown> = { ...flags, 'max-length': used.maxLength };
  const drop = ['help', 'version', 'verbose', 'quiet'];
  if (f['max-steps'] !== undefined) drop.push('epochs');
  if (f['warmup-steps'] !== undefined) drop.push('warmup-ratio');
  if (f.validation === undefined) drop.push('eval-steps', 'eval-batch-size', 'metric-for-best-model', 'early-stopping-patience');
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(f)) {
    if (drop.includes(k) || v === undefined || v === false || v === null) continue;
    out[k] = k === 'resume' && v === true ? 'latest checkpoint' : typeof v === 'object' ? JSON.stringify(v) : (v as string | number | boolean);
  }
  out['optimizer steps'] = used.steps;
  return out;
}

/** Versions and date for a report made now, with `args` (see effectiveArguments). */
export function runInfo(args: Record<string, string | number | boolean>): RunInfo {
  // package.json is two levels up from both src/train and dist/train
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return { args, versions: { fulltune: pkg.version, node: process.version, libtorch: libtorchVersion() }, date: new Date() };
}
