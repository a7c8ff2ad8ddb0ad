// The command on decoders: causal-lm and sft training with every output, exact resume after
// SIGKILL with packing, eval's perplexity, generate (streamed and batched), pure bf16 training,
// and the refusals that keep flags honest.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { cli, cliAsync } from './cli';

const LM = path.join(__dirname, 'fixtures', 'lm');
const LLAMA = path.join(LM, 'llama');
const DOCS = path.join(LM, 'docs.txt');
const CORPUS = path.join(__dirname, '..', 'data', 'sentiment', 'validation.csv');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-lm-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const common = ['--cache-dir', path.join(tmp, 'cache'), '--quiet'];

describe('fulltune train --task causal-lm / sft', () => {
  const out = path.join(tmp, 'clm');
  test('packed causal-lm training writes the model, tokenizer with chat template, generation config, metrics with perplexity, log, report and checkpoints', () => {
    const r = cli(['train', '--model', LLAMA, '--task', 'causal-lm', '--train', CORPUS, '--validation', DOCS, '--output', out, '--block-size', '32', '--max-steps', '6', '--batch-size', '4', '--lr', '1e-3', ...common]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const f of ['model.safetensors', 'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'metrics.json', 'log.jsonl', 'report.html']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(m.eval_perplexity).toBeCloseTo(Math.exp(m.eval_loss), 6);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).architectures).toEqual(['LlamaForCausalLM']);
  });

  test('eval prints eval_loss and eval_perplexity; predict points to generate', () => {
    const e = cli(['eval', '--model', out, '--task', 'causal-lm', '--data', DOCS, '--block-size', '32', ...common]);
    expect(e.status).toBe(0);
    const m = JSON.parse(e.stdout);
    expect(Object.keys(m)).toEqual(expect.arrayContaining(['eval_loss', 'eval_perplexity']));
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(m.eval_loss).toBeCloseTo(metrics.eval_loss, 6);
    const p = cli(['predict', '--model', out, '--task', 'causal-lm', '--data', DOCS, ...common]);
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/use `fulltune generate`/);
  });

  test('generate streams the greedy continuation the library computes; --data gives one JSON line per row', async () => {
    const r = cli(['generate', '--model', out, '--prompt', 'The food was', '--max-new-tokens', '12']);
    expect(r.status).toBe(0);
    const tok = await ft.AutoTokenizer.fromPretrained(out);
    const model = await ft.AutoModelForCausalLM.fromPretrained(out, { warn: () => undefined });
    const ids = (await tok.encode(['The food was'])).inputIds;
    const gen = ft.tidy(() => model.generate(ft.tensor(ids, { dtype: 'int64' }), { maxNewTokens: 12, eosTokenId: tok.eosTokenId }).toNumbers()).slice(ids[0].length);
    const stop = gen.indexOf(tok.eosTokenId!);
    expect(r.stdout).toBe((await tok.decode(stop === -1 ? gen : gen.slice(0, stop))) + '\n');
    model.dispose();
    const d = cli(['generate', '--model', out, '--data', path.join(LM, 'pc.jsonl'), '--max-new-tokens', '4', '--batch-size', '3']);
    expect(d.status).toBe(0);
    const rows = d.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => x.line)).toEqual(fs.readFileSync(path.join(LM, 'pc.jsonl'), 'utf8').trim().split('\n').map((_, i) => i + 1));
    for (const x of rows) expect(x.tokens).toBeLessThanOrEqual(4);
  });

  test('a causal-lm run killed with SIGKILL mid-run and resumed ends bitwise equal to an uninterrupted run (packing)', async () => {
    const args = (o: string) => ['train', '--model', LLAMA, '--task', 'causal-lm', '--train', CORPUS, '--output', o, '--block-size', '32', '--max-steps', '24', '--batch-size', '4', '--save-steps', '3', '--seed', '5', '--lr', '1e-3', ...common];
    const full = path.join(tmp, 'clm-full');
    expect(cli(args(full)).status).toBe(0);
    const killed = path.join(tmp, 'clm-killed');
    const child = cliAsync(args(killed));
    await new Promise<void>((resolve, reject) => {
      const give = setTimeout(() => reject(new Error('no checkpoint appeared')), 120000);
      const t = setInterval(() => {
        if (fs.existsSync(path.join(killed, 'checkpoints', 'checkpoint-9'))) {
          clearInterval(t);
          clearTimeout(give);
          child.kill('SIGKILL');
          resolve();
        }
      }, 2);
      child.on('exit', () => {
        clearInterval(t);
        clearTimeout(give);
        resolve();
      });
    });
    await new Promise((r) => child.on('close', r));
    expect(child.signalCode).toBe('SIGKILL');
    const step = Number(/checkpoint-(\d+)$/.exec(ft.latestCheckpoint(killed)!)![1]);
    expect(step).toBeLessThan(24);
    expect(cli([...args(killed), '--resume']).status).toBe(0);
    expect(fs.readFileSync(path.join(killed, 'model.safetensors')).equals(fs.readFileSync(path.join(full, 'model.safetensors')))).toBe(true);
  });

  test('sft on conversations trains with the loss on assistant turns only', () => {
    const o = path.join(tmp, 'sft');
    const r = cli(['train', '--model', LLAMA, '--task', 'sft', '--train', path.join(LM, 'chat.jsonl'), '--output', o, '--max-steps', '3', '--batch-size', '4', '--max-length', '64', ...common]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const log = fs.readFileSync(path.join(o, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.some((e) => Number.isFinite(e.loss))).toBe(true);
  });

  test('--dtype bfloat16 trains in pure bf16: weights saved as bf16, the loss finite', () => {
    const o = path.join(tmp, 'bf16');
    const r = cli(['train', '--model', LLAMA, '--task', 'causal-lm', '--train', DOCS, '--output', o, '--block-size', '32', '--max-steps', '4', '--batch-size', '2', '--dtype', 'bfloat16', '--logging-steps', '1', ...common]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const entries = ft.readSafetensorsHeader(path.join(o, 'model.safetensors')).entries;
    expect(new Set(entries.map((e) => e.dtype))).toEqual(new Set(['bfloat16']));
    const losses = fs.readFileSync(path.join(o, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => typeof e.loss === 'number').map((e) => e.loss);
    expect(losses.length).toBe(4);
    expect(losses.every(Number.isFinite)).toBe(true);
  });

  test('sequence classification with a Llama on the existing data path: pads with EOS (set as pad_token_id after loading), predicts every row', () => {
    const o = path.join(tmp, 'llama-seqcls');
    const tiny = path.join(__dirname, 'fixtures', 'train', 'tiny.csv');
    const r = cli(['train', '--model', LLAMA, '--task', 'sequence-classification', '--train', tiny, '--output', o, '--epochs', '1', '--batch-size', '4', ...common]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const config = JSON.parse(fs.readFileSync(path.join(o, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['LlamaForSequenceClassification']);
    expect(config.pad_token_id).toBe(1); // </s>
    const p = cli(['predict', '--model', o, '--data', tiny, ...common]);
    expect(p.status).toBe(0);
    expect(p.stdout.trim().split('\n').length).toBe(fs.readFileSync(tiny, 'utf8').trim().split('\n').length - 1);
  });

  test('data with no targets, a resume with nothing to resume, and generation past the position table are refused, naming what', () => {
    const none = cli(['train', '--model', LLAMA, '--task', 'sft', '--train', path.join(LM, 'chat.jsonl'), '--output', path.join(tmp, 'none'), '--max-length', '16', ...common]);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/chat\.jsonl: the training data has no targets left/);
    expect(cli(['train', '--model', LLAMA, '--task', 'causal-lm', '--train', DOCS, '--output', path.join(tmp, 'b1'), '--block-size', '1', ...common]).stderr).toMatch(/--block-size must be >= 2/);
    const fresh = path.join(tmp, 'fresh');
    const r = cli(['train', '--model', LLAMA, '--task', 'causal-lm', '--train', DOCS, '--output', fresh, '--block-size', '32', '--max-steps', '1', '--resume', ...common]);
    expect(r.stderr).toMatch(/--resume: no checkpoint under/);
    // nothing was left behind that would stop a fresh run
    expect(cli(['train', '--model', LLAMA, '--task', 'causal-lm', '--train', DOCS, '--output', fresh, '--block-size', '32', '--max-steps', '1', ...common]).status).toBe(0);
    const long = cli(['generate', '--model', path.join(LM, 'gpt2'), '--prompt', 'hello', '--max-new-tokens', '200']);
    expect(long.status).toBe(2);
    expect(long.stdout).toBe('');
    expect(long.stderr).toMatch(/--prompt: the prompt has \d+ tokens: with 200 new ones that is more than the 128 positions GPT2LMHeadModel takes \(shorten it, or lower --max-new-tokens\)/);
    const rows = path.join(tmp, 'prompts.jsonl');
    fs.writeFileSync(rows, '{"prompt": "a b"}\n{"prompt": ""}\n');
    expect(cli(['generate', '--model', path.join(LM, 'gpt2'), '--data', rows]).stderr).toMatch(/prompts\.jsonl:2: the prompt has no tokens/);
    expect(cli(['generate', '--model', LLAMA, '--data', rows, '--text-column', 'question']).stderr).toMatch(/prompts\.jsonl:1: no 'question' column/);
    // one prompt too long for the position table: its own line says so, the others are generated, in order
    fs.writeFileSync(rows, ['{"prompt": "a b"}', JSON.stringify({ prompt: 'word '.repeat(200) }), '{"prompt": "c d"}'].join('\n') + '\n');
    const mixed = cli(['generate', '--model', path.join(LM, 'gpt2'), '--data', rows, '--max-new-tokens', '3', '--batch-size', '3']);
    expect(mixed.status).toBe(1);
    expect(mixed.stderr).toBe('fulltune generate: 1 row was not generated (their output lines say why)\n');
    const lines = mixed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.line)).toEqual([1, 2, 3]);
    expect(lines[1].error).toMatch(/^the prompt has \d+ tokens: with 3 new ones that is more than the 128 positions GPT2LMHeadModel takes/);
    expect(lines[0].tokens).toBe(3);
    expect(lines[2].tokens).toBe(3);
    // a conversation the template raises on: the same
    fs.writeFileSync(rows, [{ messages: [{ role: 'critic', content: 'x' }] }, { messages: [{ role: 'user', content: 'hi' }] }].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const chats = cli(['generate', '--model', LLAMA, '--data', rows, '--max-new-tokens', '2']);
    expect(chats.status).toBe(1);
    const cl = chats.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(cl[0]).toMatchObject({ line: 1, error: expect.stringMatching(/unknown role: critic/) });
    expect(cl[1]).toMatchObject({ line: 2, completion: expect.any(String) });
  });

  test('flags that do not apply are refused before any work', () => {
    const seq = cli(['train', '--model', LLAMA, '--task', 'sequence-classification', '--train', DOCS, '--output', path.join(tmp, 'x1'), '--block-size', '16', ...common]);
    expect(seq.status).toBe(2);
    expect(seq.stderr).toMatch(/--block-size applies to --task causal-lm, masked-lm only/);
    const big = cli(['train', '--model', LLAMA, '--task', 'causal-lm', '--train', DOCS, '--output', path.join(tmp, 'x2'), '--block-size', '999', ...common]);
    expect(big.stderr).toMatch(/--block-size 999 exceeds the model's max_position_embeddings 256/);
    const both = cli(['generate', '--model', LLAMA, '--prompt', 'a', '--data', DOCS]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/either --prompt <text> or --data <file>/);
    const chat = cli(['generate', '--model', path.join(LM, 'gpt2'), '--prompt', 'a', '--chat']);
    expect(chat.stderr).toMatch(/has no chat template/);
    const temp = cli(['generate', '--model', LLAMA, '--prompt', 'a', '--temperature', '0']);
    expect(temp.stderr).toMatch(/--temperature must be > 0/);
    const kw = cli(['generate', '--model', LLAMA, '--prompt', 'a', '--chat', '--chat-template-kwargs', '[1]']);
    expect(kw.status).toBe(2);
    expect(kw.stderr).toMatch(/--chat-template-kwargs: expected a JSON object like '\{"enable_thinking": false\}', got \[1\]/);
    const notSft = cli(['train', '--model', LLAMA, '--task', 'causal-lm', '--train', DOCS, '--output', path.join(tmp, 'x3'), '--chat-template-kwargs', '{}', ...common]);
    expect(notSft.stderr).toMatch(/--chat-template-kwargs applies to --task sft only/);
  });
});
