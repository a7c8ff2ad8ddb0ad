// The accuracy study as a bench entry (scripts/seed-study.js): all-MiniLM-L6-v2 fine-tuned on
// Reuters-21578 grain by `fulltune train` and by transformers' Trainer, same hyperparameters,
// over several seeds (--seeds; default 1 to 10), test F1 of the rare label and accuracy. Run it
// again whenever the training path changes: the means must stay within a point of each other.
// It takes long (each run is 3 epochs of 1,554 articles): `threads` runs go at once, one
// intra-op thread each; finished runs are kept in bench/results/accuracy-study and not rerun
// for the same code.
import { execFileSync } from 'child_process';
import * as path from 'path';
import { BenchResult, benchPython } from './common';

const ROOT = path.resolve(__dirname, '..');

interface Summary {
  configs: { config: string; runs: { accuracy: number; f1: number }[]; accuracy: { mean: number }; f1: { mean: number } }[];
  comparisons: { config: string; welch: { p: number } | null; sameF1: number; seeds: number }[];
}

export async function benchAccuracy(threads: number, seeds: string): Promise<BenchResult[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const study = require(path.join(ROOT, 'scripts', 'seed-study.js'));
  const args = ['--out', path.join(ROOT, 'bench', 'results', 'accuracy-study'), '--jobs', String(threads)];
  if (seeds) args.push('--seeds', seeds);
  process.env.FULLTUNE_PYTHON ??= benchPython();
  try {
    execFileSync(process.env.FULLTUNE_PYTHON, ['-c', 'import transformers, accelerate'], { stdio: 'ignore' });
  } catch {
    console.log(`(accuracy: skipped: ${process.env.FULLTUNE_PYTHON} lacks transformers or accelerate: pip install transformers accelerate)`);
    return [];
  }
  const s: Summary = await study.runStudy(study.parseArgs(args));
  console.log(study.table(s) + '\n');
  const ours = s.configs.find((c) => c.config === 'fulltune')!;
  const theirs = s.configs.find((c) => c.config === 'transformers')!;
  const cmp = s.comparisons.find((c) => c.config === 'fulltune')!;
  const p = cmp.welch ? `Welch p ${cmp.welch.p.toFixed(2)}` : 'one seed';
  const row = (what: string, key: 'f1' | 'accuracy'): BenchResult => {
    // in percent, so that the table's one decimal shows a tenth of a point
    const a = ours.runs.map((r) => 100 * r[key]);
    const b = theirs.runs.map((r) => 100 * r[key]);
    return {
      name: `Reuters grain, ${what}, mean of ${a.length} seeds (${p}; ${cmp.sameF1} of ${cmp.seeds} seeds equal)`,
      unit: '%',
      fulltune: 100 * ours[key].mean,
      pytorch: 100 * theirs[key].mean,
      ratio: ours[key].mean / theirs[key].mean,
      range: { fulltune: [Math.min(...a), Math.max(...a)], pytorch: [Math.min(...b), Math.max(...b)] },
    };
  };
  return [row('test F1 of the rare label', 'f1'), row('test accuracy', 'accuracy')];
}
