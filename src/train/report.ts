// report.html: a self-contained page (inline SVG, no scripts) with the loss, learning-rate
// and evaluation curves and the final metrics.
import { LogEntry } from './progress';

function chart(title: string, series: { name: string; points: [number, number][] }[]): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const W = 680, H = 240, P = 40, L = 80; // L: room for the y-axis labels
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]).filter(Number.isFinite);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - P);
  const sy = (y: number) => H - P - ((y - y0) / (y1 - y0)) * (H - 2 * P);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const lines = series
    .map((s, i) => {
      const d = s.points.filter((p) => Number.isFinite(p[1])).map((p, j) => `${j ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
      return `<path d="${d}" fill="none" stroke="${colours[i % colours.length]}" stroke-width="1.5"/>` +
        `<text x="${W - P}" y="${P + 14 * i}" text-anchor="end" fill="${colours[i % colours.length]}" font-size="12">${esc(s.name)}</text>`;
    })
    .join('');
  const axes = `<line x1="${L}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#999"/><line x1="${L}" y1="${P}" x2="${L}" y2="${H - P}" stroke="#999"/>` +
    `<text x="${L}" y="${H - P + 16}" font-size="11">step ${x0}</text><text x="${W - P}" y="${H - P + 16}" font-size="11" text-anchor="end">step ${x1}</text>` +
    `<text x="${L - 4}" y="${sy(y1) + 4}" font-size="11" text-anchor="end">${fmt(y1)}</text><text x="${L - 4}" y="${sy(y0) + 4}" font-size="11" text-anchor="end">${fmt(y0)}</text>`;
  return `<h2>${esc(title)}</h2><svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">${axes}${lines}</svg>`;
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(4));
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function renderReport(title: string, log: LogEntry[], metrics: Record<string, number | string>, args: Record<string, unknown>): string {
  const train = log.filter((e) => typeof e.loss === 'number');
  const evals = log.filter((e) => Object.keys(e).some((k) => k.startsWith('eval_')));
  const evalKeys = [...new Set(evals.flatMap((e) => Object.keys(e).filter((k) => k.startsWith('eval_') && typeof e[k] === 'number' && !/runtime|per_second/.test(k))))];
  const rows = Object.entries(metrics).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${typeof v === 'number' ? fmt(v) : esc(String(v))}</td></tr>`).join('');
  const argRows = Object.entries(args).filter(([, v]) => v !== undefined).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(JSON.stringify(v))}</td></tr>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td{border:1px solid #ddd;padding:2px 8px}</style></head><body>
<h1>${esc(title)}</h1>
<h2>Final metrics</h2><table>${rows}</table>
${chart('Training loss', [{ name: 'loss', points: train.map((e) => [e.step, e.loss as number]) }])}
${chart('Learning rate', [{ name: 'learning_rate', points: train.map((e) => [e.step, e.learning_rate as number]) }])}
${evalKeys.map((k) => chart(k, [{ name: k, points: evals.filter((e) => typeof e[k] === 'number').map((e) => [e.step, e[k] as number]) }])).join('\n')}
<h2>Arguments</h2><table>${argRows}</table>
</body></html>
`;
}
