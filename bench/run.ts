// npm run bench: every benchmark side by side with PyTorch, in one run, as ratios.
// Options: --threads N (default: all cores, the same for both), --rounds N (default 3), --only NAME,
// --seeds 1,2,... (the accuracy study's seeds; default 1 to 10).
import * as os from 'os';
import * as ft from '../src';
import { BenchResult, table } from './common';
import { benchOps } from './ops';
import { benchBert } from './bert';
import { benchTrain } from './train';
import { benchDecoder } from './decoder';
import { benchTrainLM } from './train_lm';
import { benchEncoders } from './encoders';
import { benchDDP } from './ddp';
import { benchAccuracy } from './accuracy';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const threads = Number(arg('threads', String(os.cpus().length)));
const rounds = Number(arg('rounds', '3'));
const only = arg('only', '');
const seeds = arg('seeds', '');
ft.setNumThreads(threads);

const suites: Record<string, () => BenchResult[] | Promise<BenchResult[]>> = {
  ops: () => benchOps(threads, rounds),
  bert: () => benchBert(threads, rounds),
  train: () => benchTrain(threads, rounds),
  decoder: () => benchDecoder(threads, rounds),
  'train-lm': () => benchTrainLM(threads, rounds),
  encoders: () => benchEncoders(threads, rounds),
  ddp: () => benchDDP(threads, rounds),
  accuracy: () => benchAccuracy(threads, seeds),
};

async function main(): Promise<void> {
  console.log(`fulltune bench: libtorch ${ft.libtorchVersion()}, ${threads} thread(s), median of ${rounds} round(s), ${os.cpus()[0]?.model ?? ''}`);
  for (const [name, run] of Object.entries(suites)) {
    if (only && only !== name) continue;
    console.log(`\n## ${name}\n`);
    console.log(table(await run()));
  }
  console.log('\nratio = fulltune / PyTorch time (below 1.00x: fulltune is faster); accuracy rows: fulltune / transformers mean, with the min-max over seeds.');
}
void main();
