// Progress: a bar on a terminal, plain lines otherwise, and every logged entry in log.jsonl.
import * as fs from 'fs';

export interface LogEntry {
  step: number;
  epoch: number;
  [k: string]: number | string;
}

export class Progress {
  private readonly tty: boolean;
  private readonly t0 = Date.now();
  private last = 0;
  constructor(
    private readonly logFile: string | null,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {
    this.tty = !!out.isTTY && !quiet;
  }

  /** Appends an entry to log.jsonl and shows it. */
  log(e: LogEntry): void {
    if (this.logFile) fs.appendFileSync(this.logFile, JSON.stringify(e) + '\n');
    if (this.quiet) return;
    const fields = Object.entries(e)
      .filter(([k]) => k !== 'step' && k !== 'epoch')
      .map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`)
      .join('  ');
    const line = `step ${e.step}/${this.total}  epoch ${e.epoch.toFixed(2)}  ${fields}`;
    if (this.tty) this.out.write(`\r\x1b[2K${line}\n`);
    else this.out.write(line + '\n');
  }

  /** Redraws the bar (terminal only; at most 10 times a second). */
  tick(step: number, loss: number, lr: number, samplesPerSec: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100 && step < this.total) return;
    this.last = now;
    const width = 30;
    const done = Math.round((width * step) / this.total);
    const elapsed = (now - this.t0) / 1000;
    const eta = step > 0 ? (elapsed / step) * (this.total - step) : 0;
    const bar = '█'.repeat(done) + '░'.repeat(width - done);
    this.out.write(`\r\x1b[2K${bar} ${step}/${this.total}  loss ${fmt(loss)}  lr ${lr.toExponential(2)}  ${samplesPerSec.toFixed(1)} samples/s  ETA ${clock(eta)}`);
  }

  message(s: string): void {
    if (this.quiet) return;
    this.out.write(this.tty ? `\r\x1b[2K${s}\n` : `${s}\n`);
  }
  done(): void {
    if (this.tty) this.out.write('\n');
  }
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(3);
  return v.toFixed(4);
}
function clock(s: number): string {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}
