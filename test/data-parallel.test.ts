// Data-parallel training over Gloo on loopback, through the command: N processes x batch B
// train as one process with batch N x B (a decoder with gradient accumulation, a BERT with
// unequal padding and sharded evaluation), under fulltune's own launcher, torchrun --no-python
// and two launchers acting as two machines; a worker killed mid-run stops the group within the
// bound, and --resume then ends bitwise where an uninterrupted run ends.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ProcessGroup } from '../src/distributed/process-group';
import { freePort } from '../src/distributed/launch';
import { loadSafetensors } from '../src/hub/safetensors';
import { dispose, tidy } from '../src/tensor/scope';
import { cli, cliAsync, ROOT } from './cli';

const LLAMA = path.join(__dirname, 'fixtures', 'lm', 'llama');
const CORPUS = path.join(ROOT, 'data', 'sentiment', 'validation.csv');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-dp-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const CACHE = ['--cache-dir', path.join(tmp, 'cache')];

/**
 * Largest |a - b| / max(max |a|, 1e-3) over the tensors of two model.safetensors: a tensor that
 * is zero in exact arithmetic (BERT's attention key biases: their gradient is rounding noise, as
 * softmax ignores a shift) is held to 1e-8 in absolute terms, not to a share of its noise.
 */
function weightDistance(a: string, b: string): number {
  const x = loadSafetensors(path.join(a, 'model.safetensors'));
  const y = loadSafetensors(path.join(b, 'model.safetensors'));
  expect([...y.keys()].sort()).toEqual([...x.keys()].sort());
  let worst = 0;
  tidy(() => {
    for (const [k, t] of x) {
      const u = y.get(k)!;
      worst = Math.max(worst, t.sub(u).abs().max().item() / Math.max(1e-3, t.abs().max().item()));
    }
  });
  for (const t of [...x.values(), ...y.values()]) t.dispose();
  return worst;
}
const same = (a: string, b: string) => Buffer.compare(fs.readFileSync(path.join(a, 'model.safetensors')), fs.readFileSync(path.join(b, 'model.safetensors'))) === 0;
const log = (dir: string) => fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

const maybe = ProcessGroup.available() ? describe : describe.skip;

maybe('data parallel (2 processes on loopback)', () => {
  const lm = ['train', '--model', LLAMA, '--task', 'causal-lm', '--train', CORPUS, '--block-size', '32', '--max-steps', '20', '--lr', '1e-3', '--grad-accum', '2', '--logging-steps', '5', '--quiet', ...CACHE];
  const one = path.join(tmp, 'lm-one');

  test('a Llama: 2 processes x batch 4 equal 1 process x batch 8 after 20 steps with accumulation', () => {
    const a = cli([...lm, '--output', one, '--batch-size', '8']);
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    const two = path.join(tmp, 'lm-two');
    const b = cli([...lm, '--output', two, '--batch-size', '4', '--nproc-per-node', '2']);
    expect(b.stderr).toBe('');
    expect(b.status).toBe(0);
    expect(weightDistance(one, two)).toBeLessThan(1e-5);
    const [la, lb] = [log(one), log(two)];
    expect(lb.map((e) => e.step)).toEqual(la.map((e) => e.step));
    lb.forEach((e, i) => expect(Math.abs(e.loss - la[i].loss)).toBeLessThan(1e-5 * la[i].loss));
    // samples per second count every rank's samples (transformers' train_samples_per_second)
    expect(JSON.parse(fs.readFileSync(path.join(two, 'metrics.json'), 'utf8')).epoch).toBeCloseTo(JSON.parse(fs.readFileSync(path.join(one, 'metrics.json'), 'utf8')).epoch, 10);
  }, 120000);

  test('--shard-optimizer (ZeRO-1): the weights and the saved optimizer state of plain data parallel, half the state per rank', () => {
    const two = path.join(tmp, 'lm-two');
    const sharded = path.join(tmp, 'lm-sharded');
    const r = cli([...lm, '--output', sharded, '--batch-size', '4', '--nproc-per-node', '2', '--shard-optimizer']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(weightDistance(two, sharded)).toBeLessThan(1e-6);
    // the checkpoint holds the whole state, gathered from both ranks, in the unsharded layout
    const a = loadSafetensors(path.join(two, 'checkpoints', 'checkpoint-20', 'optimizer.safetensors'));
    const b = loadSafetensors(path.join(sharded, 'checkpoints', 'checkpoint-20', 'optimizer.safetensors'));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    tidy(() => {
      for (const [k, t] of a) expect(t.sub(b.get(k)!).abs().max().item()).toBeLessThanOrEqual(1e-6 * Math.max(1e-3, t.abs().max().item()));
    });
    dispose([...a.values(), ...b.values()]);
    const [ma, mb] = [two, sharded].map((d) => JSON.parse(fs.readFileSync(path.join(d, 'metrics.json'), 'utf8')));
    expect(mb.optimizer_state_mb).toBeLessThan(0.6 * ma.optimizer_state_mb);
    expect(mb.optimizer_state_mb).toBeGreaterThan(0.4 * ma.optimizer_state_mb);
  }, 120000);

  test('--shard-optimizer without several processes is refused before any work', () => {
    const r = cli([...lm, '--output', path.join(tmp, 'lm-alone'), '--batch-size', '4', '--shard-optimizer']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('fulltune train: --shard-optimizer shards the optimizer state over several processes: add --nproc-per-node N (N >= 2), or launch with torchrun\n');
    expect(fs.existsSync(path.join(tmp, 'lm-alone'))).toBe(false);
  });

  test('a BERT classifier with unequal padding and sharded evaluation: the same weights and the same eval metrics', () => {
    const model = path.join(tmp, 'bert');
    fs.cpSync(path.join(__dirname, 'fixtures', 'bert', 'seqcls'), model, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
    // dropout draws differ per rank by design; without it the two runs must agree
    fs.writeFileSync(path.join(model, 'config.json'), JSON.stringify({ ...cfg, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }));
    // 37 rows: the ranks evaluate unequal shares (19 and 18)
    const val = path.join(tmp, 'val.csv');
    fs.writeFileSync(val, fs.readFileSync(path.join(ROOT, 'data', 'sentiment', 'train.csv'), 'utf8').split('\n').slice(0, 38).join('\n') + '\n');
    // SGD: AdamW turns the rounding noise of gradients that are zero in exact arithmetic (the
    // attention key biases) into full-size steps, which differ between any two summation orders
    // (two thread counts of one process too); the Llama above compares AdamW's weights
    const args = ['train', '--model', model, '--train', CORPUS, '--validation', val, '--max-steps', '20', '--optimizer', 'sgd', '--lr', '0.05', '--eval-steps', '10', '--quiet', ...CACHE];
    const a = path.join(tmp, 'bert-one');
    const b = path.join(tmp, 'bert-two');
    expect(cli([...args, '--output', a, '--batch-size', '8']).status).toBe(0);
    const r = cli([...args, '--output', b, '--batch-size', '4', '--nproc-per-node', '2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(weightDistance(a, b)).toBeLessThan(1e-5);
    const [ma, mb] = [a, b].map((d) => JSON.parse(fs.readFileSync(path.join(d, 'metrics.json'), 'utf8')));
    expect(mb.eval_accuracy).toBe(ma.eval_accuracy);
    expect(mb.eval_loss).toBeCloseTo(ma.eval_loss, 5);
  }, 120000);

  const torchrun = process.env.FULLTUNE_PARITY_PYTHON ? path.join(path.dirname(process.env.FULLTUNE_PARITY_PYTHON), 'torchrun') : null;
  (torchrun && fs.existsSync(torchrun) ? test : test.skip)('torchrun --no-python --nproc-per-node 2 fulltune train: the same result', async () => {
    const out = path.join(tmp, 'lm-torchrun');
    const port = await freePort();
    const r = spawnSync(torchrun!, ['--no-python', '--nproc-per-node', '2', '--master-port', String(port), process.execPath, '-r', 'ts-node/register/transpile-only', path.join(ROOT, 'src', 'cli', 'main.ts'), ...lm, '--output', out, '--batch-size', '4'], { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
    expect(r.status).toBe(0);
    expect(weightDistance(one, out)).toBeLessThan(1e-5);
  }, 120000);

  test('two launchers as two machines (--nnodes 2, --node-rank 0 and 1) train together', async () => {
    const out = path.join(tmp, 'lm-nodes');
    const env = { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(await freePort()) };
    const node = (r: number) => {
      const p = cliAsync([...lm, '--output', out, '--batch-size', '4', '--nproc-per-node', '1', '--nnodes', '2', '--node-rank', String(r)], env);
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      return new Promise<{ code: number | null; err: string }>((res) => p.on('close', (code) => res({ code, err })));
    };
    const [n0, n1] = await Promise.all([node(0), node(1)]);
    expect(n0).toEqual({ code: 0, err: '' });
    expect(n1).toEqual({ code: 0, err: '' });
    expect(weightDistance(one, out)).toBeLessThan(1e-5);
  }, 120000);

  test('SIGKILL of a worker: the group stops within the bound; --resume (sharded optimizer) ends bitwise as an uninterrupted run', async () => {
    // sharded optimizer state: the checkpoint gathers it, the resumed ranks take their shares back
    const args = [...lm.filter((a) => a !== '--quiet'), '--batch-size', '4', '--nproc-per-node', '2', '--save-steps', '4', '--ddp-timeout', '20', '--shard-optimizer'];
    const full = path.join(tmp, 'lm-full');
    expect(cli([...args, '--output', full, '--quiet']).status).toBe(0);
    const out = path.join(tmp, 'lm-killed');
    const p = cliAsync([...args, '--output', out]);
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const closed = new Promise<number | null>((res) => p.on('close', (code) => res(code)));
    // once checkpoint-8 exists, kill rank 1 (the launcher's second child)
    const t0 = Date.now();
    while (!fs.existsSync(path.join(out, 'checkpoints', 'checkpoint-8', 'trainer_state.json'))) {
      if (Date.now() - t0 > 60000) throw new Error(`no checkpoint-8 after 60 s: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const kids = spawnSync('pgrep', ['-P', String(p.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number);
    expect(kids.length).toBe(2);
    const killedAt = Date.now();
    process.kill(kids[1], 'SIGKILL');
    const code = await closed;
    expect(Date.now() - killedAt).toBeLessThan(30000);
    expect(code).toBe(137);
    expect(err).toMatch(/worker 1 of 2 exited with SIGKILL/);
    const r = cli([...args, '--output', out, '--resume', '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(same(full, out)).toBe(true);
  }, 180000);

  test('a non-empty output folder is refused by the launcher, before any worker starts: one line, no libtorch trace', () => {
    const out = path.join(tmp, 'lm-busy');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'metrics.json'), '{}');
    const r = cli([...lm, '--output', out, '--batch-size', '4', '--nproc-per-node', '2']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^fulltune train: .*lm-busy: the output folder is not empty \(metrics\.json\); pass --resume/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('SIGKILL of the launcher: its workers stop (a checkpoint, then exit) instead of training on', async () => {
    const args = [...lm.filter((a) => a !== '--quiet'), '--batch-size', '4', '--nproc-per-node', '2', '--save-steps', '100000'];
    args[args.indexOf('--max-steps') + 1] = '100000';
    const out = path.join(tmp, 'lm-orphans');
    const p = cliAsync([...args, '--output', out]);
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const t0 = Date.now();
    let kids: number[] = [];
    // both workers up and training (the first log line)
    while (kids.length < 2 || !fs.existsSync(path.join(out, 'log.jsonl'))) {
      if (Date.now() - t0 > 60000) throw new Error(`no training after 60 s: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
      kids = spawnSync('pgrep', ['-P', String(p.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
    }
    p.kill('SIGKILL');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const killedAt = Date.now();
    while (kids.some(alive) && Date.now() - killedAt < 45000) await new Promise((r) => setTimeout(r, 100));
    for (const k of kids.filter(alive)) process.kill(k, 'SIGKILL');
    expect(kids.filter(alive)).toEqual([]);
    expect(Date.now() - killedAt).toBeLessThan(45000);
    expect(err).toMatch(/the launcher \(pid \d+\) is gone: this worker stops/);
  }, 120000);
});
