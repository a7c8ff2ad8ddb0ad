// Progress: one live line on a terminal (drawn by cli-progress, fitted to its width), plain log
// lines otherwise, and every logged entry in log.jsonl.
import * as fs from 'fs';
import { MultiBar } from 'cli-progress';

export interface LogEntry {
  step: number;
  epoch: number;
  [k: string]: number | string;
}

export interface ProgressOptions {
  /** Optimizer steps per epoch: the line shows the epoch, and the ETA knows the epoch-end evaluations. */
  stepsPerEpoch?: number;
  /** The step a resumed run starts from: rates count the steps run here, not the checkpoint's. */
  startStep?: number;
  /** Set when the run evaluates (every `evalSteps` steps and at each epoch end): the ETA adds their time. */
  evaluation?: { evalSteps?: number };
}

/**
 * The live line: cli-progress redraws it in place (at most 10 times a second), prints log lines
 * above it and trims to the terminal's width; the text comes from `text(width)`.
 */
class LiveLine {
  private readonly bars: MultiBar;
  private drawn = 0;
  constructor(out: NodeJS.WriteStream, text: (width: number) => string) {
    this.bars = new UnrefMultiBar({
      stream: out,
      fps: 10,
      // the line is redrawn after each log line even when its text has not changed
      forceRedraw: true,
      // keep the terminal's wrapping as it is (false would switch it off, and a run that throws
      // before stop() would leave the user's terminal that way); the text fits the width anyway
      linewrap: true,
      hideCursor: false,
      format: (_o, p) => text(p.maxWidth),
    });
    this.bars.on('redraw-post', () => (this.drawn = Date.now()));
    this.bars.create(1, 0);
    this.bars.update();
  }
  /** Prints lines above the live line, then redraws it. */
  print(lines: string[]): void {
    for (const l of lines) this.bars.log(l + '\n');
    this.bars.update();
  }
  /** Redraws now when forced or when the last drawing is 100 ms old (fast steps would flood the terminal). */
  redraw(force = false): void {
    if (force || Date.now() - this.drawn >= 100) this.bars.update();
  }
  /** Draws the line one last time and leaves it as a plain line. */
  stop(): void {
    this.bars.stop();
  }
}

// cli-progress re-arms a redraw timer after every redraw; unreferenced, a run that throws before
// stop() does not keep the process alive
class UnrefMultiBar extends MultiBar {
  update(): void {
    super.update();
    (this as unknown as { timer: NodeJS.Timeout | null }).timer?.unref();
  }
}

/**
 * Training progress. On a terminal (and not quiet): a live line with a bar, step, epoch, loss,
 * learning rate, samples/s and elapsed<ETA, where the ETA adds the evaluations still to come;
 * during an evaluation the line follows its batches. Logged entries print above it, wrapped to
 * the width. Elsewhere (pipes, CI): one plain line per logged entry and per message. Quiet:
 * nothing on the stream. Every logged entry goes to `logFile` (JSON lines) in all cases.
 */
export class Progress {
  private readonly tty: boolean;
  private readonly t0 = Date.now();
  private readonly startStep: number;
  private line: LiveLine | null = null;
  private finished = false;
  private step: number;
  private last = { loss: NaN, lr: NaN, sps: NaN };
  private evals = { count: 0, seconds: 0 };
  private current: { start: number; batches: number; total: number } | null = null;

  constructor(
    private readonly logFile: string | null,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
    private readonly o: ProgressOptions = {},
  ) {
    this.tty = !!out.isTTY && !quiet;
    this.startStep = o.startStep ?? 0;
    this.step = this.startStep;
  }

  /** Appends an entry to log.jsonl and shows it. */
  log(e: LogEntry): void {
    if (this.logFile) fs.appendFileSync(this.logFile, JSON.stringify(e) + '\n');
    if (this.quiet) return;
    const fields = [
      `step ${e.step}/${this.total}`,
      `epoch ${e.epoch.toFixed(2)}`,
      ...Object.entries(e)
        .filter(([k]) => k !== 'step' && k !== 'epoch')
        .map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`),
    ];
    this.print(fields);
  }

  /** Moves the live line to `step` (terminal only). */
  tick(step: number, loss: number, lr: number, samplesPerSec: number): void {
    this.step = step;
    this.last = { loss, lr, sps: samplesPerSec };
    if (!this.tty || this.finished) return;
    this.live().redraw();
  }

  /**
   * An evaluation's progress: `batches` of `totalBatches` done. The first call of an evaluation
   * (any count below the total) starts it, the call with batches === totalBatches ends it; its
   * time feeds the ETA. After done() it draws a line of its own (the final evaluation).
   */
  evalTick(batches: number, totalBatches: number): void {
    const now = Date.now();
    const started = !this.current;
    if (!this.current) this.current = { start: now, batches, total: totalBatches };
    this.current.batches = batches;
    this.current.total = totalBatches;
    const ended = batches >= totalBatches;
    if (ended) {
      this.evals.count++;
      this.evals.seconds += (now - this.current.start) / 1000;
    }
    if (this.tty) {
      if (this.finished) {
        this.line ??= new LiveLine(this.out, (w) => this.text(w));
        if (ended) this.stopLine();
      } else {
        if (ended) this.current = null;
        this.live().redraw(started || ended);
      }
    }
    if (ended) this.current = null;
  }

  message(s: string): void {
    if (this.quiet) return;
    if (this.line) this.line.print(wrap([s], this.width()));
    else this.out.write(`${s}\n`);
  }

  /** Ends the live line (it stays on the terminal as the last state). */
  done(): void {
    this.finished = true;
    this.stopLine();
  }

  /** Seconds left: training steps at the rate seen so far, plus evaluations (null: not yet measurable). */
  eta(now = Date.now()): { seconds: number; evalUnknown: boolean } {
    const inEval = this.current ? (now - this.current.start) / 1000 : 0;
    const trainSeconds = (now - this.t0) / 1000 - this.evals.seconds - inEval;
    const ran = this.step - this.startStep;
    let seconds = ran > 0 ? (trainSeconds / ran) * (this.total - this.step) : 0;
    // an evaluation's length: the mean of those done, else the one running extrapolated
    const perEval =
      this.evals.count > 0 ? this.evals.seconds / this.evals.count : this.current && this.current.batches > 0 ? (inEval / this.current.batches) * this.current.total : null;
    if (this.current && perEval !== null) seconds += Math.max(0, perEval - inEval);
    const ahead = this.o.evaluation && this.o.stepsPerEpoch ? evaluationsAfter(this.step, this.total, this.o.stepsPerEpoch, this.o.evaluation.evalSteps) : 0;
    if (perEval !== null) seconds += ahead * perEval;
    return { seconds, evalUnknown: perEval === null && (ahead > 0 || (this.current !== null && this.current.batches === 0)) };
  }

  private live(): LiveLine {
    this.line ??= new LiveLine(this.out, (w) => this.text(w));
    return this.line;
  }
  private stopLine(): void {
    this.line?.stop();
    this.line = null;
  }
  private width(): number {
    return this.out.columns || 80;
  }
  private print(fields: string[]): void {
    if (this.line) this.line.print(wrap(fields, this.width()));
    else if (this.tty) this.out.write(wrap(fields, this.width()).join('\n') + '\n');
    else this.out.write(fields.join('  ') + '\n');
  }

  /** The live line's text, at most width - 1 columns (the last column would wrap on some terminals). */
  private text(width: number): string {
    const now = Date.now();
    const { seconds, evalUnknown } = this.eta(now);
    const time = `[${clock((now - this.t0) / 1000)}<${clock(seconds)}${evalUnknown ? '+eval' : ''}]`;
    const spe = this.o.stepsPerEpoch;
    const epoch = spe ? `epoch ${(this.step / spe).toFixed(2)}/${+(this.total / spe).toFixed(2)}` : null;
    if (this.current) {
      const c = this.current;
      return fit(width - 1, 'eval', c.total > 0 ? c.batches / c.total : 1, [`${c.batches}/${c.total} batches`, time, `step ${this.step}/${this.total}`, epoch]);
    }
    const { loss, lr, sps } = this.last;
    return fit(width - 1, '', this.total > 0 ? this.step / this.total : 1, [
      `${this.step}/${this.total}`,
      time,
      epoch,
      Number.isFinite(loss) ? `loss ${fmt(loss)}` : null,
      Number.isFinite(lr) ? `lr ${lr.toExponential(2)}` : null,
      Number.isFinite(sps) ? `${sps.toFixed(1)} samples/s` : null,
    ]);
  }
}

/**
 * Runs `run` with a live line on a terminal that counts what `advance(count)` reports (for
 * example rows tokenised), with the rate and elapsed time. The line appears at the first
 * advance (a cached dataset shows none) and stays as a plain line at the end. Nothing when not
 * a terminal or quiet.
 */
export async function phase<T>(
  label: string,
  unit: string,
  o: { out?: NodeJS.WriteStream; quiet?: boolean },
  run: (advance: (count: number) => void) => Promise<T>,
): Promise<T> {
  const out = o.out ?? process.stderr;
  if (!out.isTTY || o.quiet) return run(() => undefined);
  const t0 = Date.now();
  let count = 0;
  let line: LiveLine | null = null;
  const text = (width: number) => {
    const s = (Date.now() - t0) / 1000;
    const rate = s > 0 ? `${Math.round(count / s).toLocaleString('en-US')} ${unit}/s` : null;
    const counted = `${count.toLocaleString('en-US')} ${unit}`, time = `[${clock(s)}]`;
    // a long label gives way to the count and the time
    const room = Math.max(8, width - 1 - counted.length - time.length - 4);
    return fit(width - 1, '', null, [shorten(label, room), counted, time, rate]);
  };
  try {
    return await run((n) => {
      count = n;
      if (line) line.redraw();
      else line = new LiveLine(out, text);
    });
  } finally {
    (line as LiveLine | null)?.stop();
  }
}

/**
 * Evaluations a run makes after `step` up to `total`: at multiples of `evalSteps`, at epoch ends,
 * and once at the end when the last step is neither (the trainer's final evaluation).
 */
export function evaluationsAfter(step: number, total: number, stepsPerEpoch: number, evalSteps?: number): number {
  if (step >= total) return 0;
  const multiples = (k: number) => Math.floor(total / k) - Math.floor(step / k);
  let n = multiples(stepsPerEpoch);
  if (evalSteps) n += multiples(evalSteps) - multiples(lcm(evalSteps, stepsPerEpoch));
  const atEnd = total % stepsPerEpoch === 0 || (evalSteps !== undefined && evalSteps > 0 && total % evalSteps === 0);
  return n + (atEnd ? 0 : 1);
}

/**
 * One line of at most `width` columns: `label`, a bar for `ratio` (10 to 30 wide; none when
 * ratio is null), then the fields in priority order. Fields that do not fit are dropped from
 * the end; when not even the first fits beside a bar, the bar goes; what still does not fit is cut.
 */
export function fit(width: number, label: string, ratio: number | null, fields: (string | null)[]): string {
  const present = fields.filter((f): f is string => f !== null);
  const head = label ? `${label} ` : '';
  if (ratio !== null) {
    for (let n = present.length; n >= 1; n--) {
      const tail = present.slice(0, n).join('  ');
      const room = width - head.length - tail.length - 1;
      if (room < 10) continue;
      const w = Math.min(30, room);
      const k = Math.round(Math.min(1, Math.max(0, ratio)) * w);
      return `${head}${'\u2588'.repeat(k)}${'\u2591'.repeat(w - k)} ${tail}`;
    }
  }
  for (let n = present.length; n >= 1; n--) {
    const s = head + present.slice(0, n).join('  ');
    if (s.length <= width) return s;
  }
  return [...(head + (present[0] ?? ''))].slice(0, width).join('');
}

/** Fields joined by two spaces into lines of at most width - 1 columns; continuation lines indented. */
export function wrap(fields: string[], width: number): string[] {
  const max = Math.max(20, width - 1);
  const lines: string[] = [];
  let cur = '';
  for (const f of fields) {
    if (cur && cur.length + 2 + f.length > max) {
      lines.push(cur);
      cur = '  ' + f;
    } else cur = cur ? `${cur}  ${f}` : f;
    while (cur.length > max) {
      lines.push(cur.slice(0, max));
      cur = '  ' + cur.slice(max);
    }
  }
  if (cur) lines.push(cur);
  return lines;
}

/** `s` in at most n characters, cut in the middle (file names differ at their ends). */
function shorten(s: string, n: number): string {
  const c = [...s];
  if (c.length <= n) return s;
  const keep = n - 1;
  return c.slice(0, Math.ceil(keep / 2)).join('') + '\u2026' + c.slice(c.length - Math.floor(keep / 2)).join('');
}
function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a / gcd(a, b)) * b;
}
function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(3);
  return v.toFixed(4);
}
function clock(s: number): string {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}
