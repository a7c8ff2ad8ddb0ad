// `fulltune generate`: continues a prompt (streaming the text to stdout as it is produced) or
// every row of a data file (one JSON line per row, batched with left padding).
import * as fs from 'fs';
import { readRows } from '../data/readers';
import { AutoModelForCausalLM } from '../models/auto';
import { CausalLM, GenerateOptions, generateStream } from '../models/generate';
import { tensor } from '../tensor/create';
import { Device } from '../tensor/dtype';
import { ChatMessage, PreTrainedTokenizer } from '../tokenize/tokenizer';
import { withFile } from '../util/fs';
import { chatTemplateKwargs, Parsed, UsageError } from './flags';

const str = (f: Parsed, k: string) => f[k] as string | undefined;
const num = (f: Parsed, k: string) => f[k] as number | undefined;

/** The prompt's token ids: a chat turn rendered with the template (its own special tokens), or text with the tokenizer's. */
async function promptIds(tok: PreTrainedTokenizer, prompt: string | ChatMessage[], chat: boolean, extra?: Record<string, unknown>): Promise<number[]> {
  if (Array.isArray(prompt) || chat) {
    const messages = Array.isArray(prompt) ? prompt : [{ role: 'user', content: prompt }];
    const text = tok.applyChatTemplate(messages, { addGenerationPrompt: true, extra });
    return (await tok.encode([text], { addSpecialTokens: false })).inputIds[0];
  }
  return (await tok.encode([prompt])).inputIds[0];
}

/** Flags given override the model's generation_config.json; absent ones leave it in charge. */
function options(f: Parsed, tok: PreTrainedTokenizer, model: CausalLM): GenerateOptions & { eosTokenId: number[] } {
  const o: GenerateOptions = { seed: num(f, 'seed') };
  if (f['max-new-tokens'] !== undefined) o.maxNewTokens = num(f, 'max-new-tokens');
  if (f['do-sample'] !== undefined) o.doSample = f['do-sample'] as boolean;
  if (f.temperature !== undefined) o.temperature = num(f, 'temperature');
  if (f['top-k'] !== undefined) o.topK = num(f, 'top-k');
  if (f['top-p'] !== undefined) o.topP = num(f, 'top-p');
  if (f['repetition-penalty'] !== undefined) o.repetitionPenalty = num(f, 'repetition-penalty');
  // stop at every EOS the generation config (or model config) lists, and at the tokenizer's
  const g = model.generationConfig?.eos_token_id ?? (model.config.eos_token_id as number | number[] | null | undefined) ?? null;
  const eos = [...(g === null ? [] : Array.isArray(g) ? g : [g]), ...(tok.eosTokenId !== null ? [tok.eosTokenId] : [])];
  o.padTokenId = tok.padTokenId;
  return { ...o, eosTokenId: [...new Set(eos)] };
}

/** For a model with a position table (GPT-2): why a prompt of n tokens and the new ones do not fit, or null. */
function positionProblem(model: CausalLM, n: number, o: GenerateOptions): string | null {
  const maxNew = o.maxNewTokens ?? model.generationConfig?.max_new_tokens ?? 20;
  if (model.maxPositions === undefined || n + maxNew <= model.maxPositions) return null;
  return `the prompt has ${n} tokens: with ${maxNew} new ones that is more than the ${model.maxPositions} positions ${model.architecture} takes (shorten it, or lower --max-new-tokens)`;
}

/** Exit status: 0, or 1 when some rows of --data could not be generated (each says why in its line). */
export async function generateCommand(f: Parsed): Promise<number> {
  if (f.model === undefined) throw new UsageError('missing --model');
  if ((f.prompt === undefined) === (f.data === undefined)) throw new UsageError('give either --prompt <text> or --data <file>');
  for (const [k, ok, what] of [
    ['temperature', (x: number) => x > 0, '> 0'],
    ['top-p', (x: number) => x > 0 && x <= 1, 'in (0, 1]'],
    ['repetition-penalty', (x: number) => x > 0, '> 0'],
  ] as const) {
    const v = num(f, k);
    if (v !== undefined && !ok(v)) throw new UsageError(`--${k} must be ${what}, got ${v}`);
  }
  const kwargs = chatTemplateKwargs(f);
  if (kwargs !== undefined && f.prompt !== undefined && !f.chat) throw new UsageError('--chat-template-kwargs: --prompt is plain text without --chat; add --chat to render it with the chat template');
  const tok = await PreTrainedTokenizer.fromPretrained(str(f, 'model')!);
  if (f.chat && tok.chatTemplate === null) throw new UsageError(`--chat: the tokenizer of ${str(f, 'model')} has no chat template`);
  const model = await AutoModelForCausalLM.fromPretrained<CausalLM>(str(f, 'model')!, { device: f.device as Device, dtype: f.dtype as 'float32' | 'bfloat16', warn: (w) => !f.quiet && process.stderr.write(`warning: ${w}\n`) });
  const o = options(f, tok, model);
  const device = f.device as Device;
  try {
    if (f.prompt !== undefined) {
      const ids = await promptIds(tok, str(f, 'prompt')!, !!f.chat, kwargs);
      if (ids.length === 0) throw new UsageError('--prompt: the prompt has no tokens (this tokenizer adds no BOS to an empty text): give some text');
      const tooLong = positionProblem(model, ids.length, o);
      if (tooLong !== null) throw new UsageError(`--prompt: ${tooLong}`);
      const input = tensor([ids], { dtype: 'int64', device });
      const generated: number[] = [];
      let shown = '';
      // decode everything generated so far and write what is new: a character may span tokens
      const out = await generateStream(model, input, {
        ...o,
        onStepAsync: async (t) => {
          if (o.eosTokenId.includes(t[0])) return;
          generated.push(t[0]);
          const text = await tok.decode(generated);
          if (!text.endsWith('\uFFFD') && text.startsWith(shown)) {
            process.stdout.write(text.slice(shown.length));
            shown = text;
          }
        },
      });
      out.dispose();
      input.dispose();
      const final = await tok.decode(generated);
      if (final.startsWith(shown)) process.stdout.write(final.slice(shown.length));
      process.stdout.write('\n');
      return 0;
    }
    const failed = await generateRows(f, tok, model, o, device, kwargs);
    if (failed > 0) process.stderr.write(`fulltune generate: ${failed} row${failed > 1 ? 's were' : ' was'} not generated (their output lines say why)\n`);
    return failed > 0 ? 1 : 0;
  } finally {
    model.dispose();
  }
}

/** --data: rows of prompts (a text column, or messages) in batches, one JSON line per row, in order. */
async function generateRows(f: Parsed, tok: PreTrainedTokenizer, model: CausalLM, o: GenerateOptions & { eosTokenId: number[] }, device: Device, kwargs?: Record<string, unknown>): Promise<number> {
  let failed = 0;
  const file = str(f, 'data')!;
  const column = str(f, 'text-column') ?? 'prompt';
  const bs = num(f, 'batch-size')!;
  const outFile = str(f, 'output');
  const sink = outFile ? withFile(outFile, 'write', () => fs.openSync(outFile, 'w')) : null;
  const write = (v: unknown) => (sink === null ? process.stdout.write(JSON.stringify(v) + '\n') : withFile(outFile!, 'write', () => fs.writeSync(sink, JSON.stringify(v) + '\n')));
  let batch: { line: number; prompt: string | ChatMessage[]; ids: number[]; error?: string }[] = [];
  const run = async () => {
    const todo = batch.filter((r) => r.error === undefined);
    const T = Math.max(...todo.map((r) => r.ids.length));
    const pad = tok.padTokenId;
    // left padding: every row's last prompt token sits at the same position
    const ids = todo.map((r) => [...new Array(T - r.ids.length).fill(pad), ...r.ids]);
    const mask = todo.map((r) => [...new Array(T - r.ids.length).fill(0), ...r.ids.map(() => 1)]);
    let rows: number[][] = [];
    if (todo.length) {
      const input = tensor(ids, { dtype: 'int64', device });
      const out = await generateStream(model, input, { ...o, attentionMask: mask });
      rows = out.toRows();
      out.dispose();
      input.dispose();
    }
    const eos = o.eosTokenId;
    let k = 0; // the generated rows, in batch order
    for (const r of batch) {
      if (r.error !== undefined) {
        write({ line: r.line, prompt: r.prompt, error: r.error });
        continue;
      }
      let gen = rows[k++].slice(T);
      const end = gen.findIndex((t) => eos.includes(t));
      if (end !== -1) gen = gen.slice(0, end);
      write({ line: r.line, prompt: r.prompt, completion: await tok.decode(gen), tokens: gen.length, stopped: end !== -1 ? 'eos' : 'max_new_tokens' });
    }
    batch = [];
  };
  try {
    for await (const row of readRows(file)) {
      const v = row.values;
      // a conversation column is the fallback only when --text-column was not given
      const p = column in v ? v[column] : f['text-column'] === undefined && 'messages' in v ? v.messages : undefined;
      if (p === undefined) throw new UsageError(`${file}:${row.line}: no '${column}' column (columns: ${Object.keys(v).join(', ')}); name it with --text-column`);
      const prompt = typeof p === 'string' ? p : (p as ChatMessage[]);
      if (typeof prompt !== 'string' && !Array.isArray(prompt)) throw new UsageError(`${file}:${row.line}: '${column}' must be a string or a list of messages`);
      let ids: number[];
      try {
        ids = await promptIds(tok, prompt, !!f.chat, kwargs);
      } catch (e) {
        // the template refuses this conversation (raise_exception, a malformed message): its own line says why
        batch.push({ line: row.line, prompt, ids: [], error: (e as Error).message });
        failed++;
        if (batch.length === bs) await run();
        continue;
      }
      if (ids.length === 0) throw new UsageError(`${file}:${row.line}: the prompt has no tokens (an empty text, and this tokenizer adds no BOS)`);
      // a prompt too long for the position table is reported in its own line; the batch goes on
      const tooLong = positionProblem(model, ids.length, o);
      if (tooLong !== null) {
        batch.push({ line: row.line, prompt, ids, error: tooLong });
        failed++;
      } else batch.push({ line: row.line, prompt, ids });
      if (batch.length === bs) await run();
    }
    if (batch.length) await run();
  } finally {
    if (sink !== null) fs.closeSync(sink);
  }
  return failed;
}
