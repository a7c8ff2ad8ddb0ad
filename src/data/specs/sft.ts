// Supervised fine-tuning on instructions (TRL's SFTTrainer): rows hold a conversation
// (`messages`, rendered with the tokenizer's chat template) or a `prompt` and a `completion`
// (strings, or message lists). The loss covers the completion, or the assistant's turns, only;
// everything else is labelled -100. Over-long rows are cut from the end (TRL's keep_start) and
// counted, never dropped.
import { ChatMessage, messageProblem, PreTrainedTokenizer } from '../../tokenize/tokenizer';
import { Feature } from '../features';
import { DataError } from '../readers';
import { Example } from '../tasks';
import { causalLM } from './causal-lm';
import { defaultColumns, FeaturizeContext, need, TaskSpec } from './spec';

function messagesOf(v: unknown, what: string): ChatMessage[] {
  let m = v;
  if (typeof m === 'string' && m.trim().startsWith('[')) {
    try {
      m = JSON.parse(m);
    } catch {
      throw `column '${what}' is not valid JSON`;
    }
  }
  if (!Array.isArray(m) || m.length === 0) throw `column '${what}' must be a non-empty list of {role, content} messages`;
  m.forEach((x, i) => {
    const problem = messageProblem(x);
    if (problem) throw `column '${what}': message ${i} ${problem}`;
  });
  return m as ChatMessage[];
}

const count = (ctx: FeaturizeContext, note: string) => (ctx.notes[note] = (ctx.notes[note] ?? 0) + 1);

/** Code points before a UTF-16 index: token offsets count characters as Python does. */
const codePoints = (s: string, utf16: number) => [...s.slice(0, utf16)].length;

/**
 * The character spans (code points) of the assistant's turns in the rendered conversation.
 * A template with `{% generation %}` blocks says itself which text is the assistant's (as
 * transformers' return_assistant_tokens_mask). Otherwise each turn is what rendering up to and
 * including it adds to rendering the turns before it with the generation prompt; where the
 * whole conversation renders an earlier turn shorter (templates that drop the reasoning of
 * earlier turns: Qwen3, DeepSeek-R1), the turn is the longest end of that addition found there
 * (its reasoning not trained, as it is not in the text). Anything else is refused.
 */
function assistantSpans(tok: PreTrainedTokenizer, messages: ChatMessage[], full: string, extra?: Record<string, unknown>): [number, number][] {
  const marked = tok.generationSpans(messages, { extra });
  if (marked !== null) {
    if (marked.text !== full) throw 'the chat template renders this conversation differently with its {% generation %} blocks marked';
    return marked.spans.map(([a, b]) => [codePoints(full, a), codePoints(full, b)]);
  }
  const spans: [number, number][] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = tok.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true, extra });
    const upTo = tok.applyChatTemplate(messages.slice(0, i + 1), { extra });
    const refuse = `the chat template does not render this conversation turn by turn (message ${i}): the assistant's tokens cannot be found`;
    if (!upTo.startsWith(before) || !full.startsWith(before)) throw refuse;
    const turn = upTo.slice(before.length);
    const n = full.startsWith(turn, before.length) ? turn.length : renderedEnd(turn, full, before.length, m);
    if (n === 0) throw refuse;
    spans.push([codePoints(full, before.length), codePoints(full, before.length + n)]);
  });
  return spans;
}

/**
 * How much of the end of `turn` the full rendering has at `at` (0: none that keeps the end of
 * the message's text): a turn rendered shorter once later turns follow it.
 */
function renderedEnd(turn: string, full: string, at: number, m: ChatMessage): number {
  // the end of the message's last line (or its last tool call's name) must be in it, not only
  // the template's end of turn
  const text = typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map((p) => (typeof p.text === 'string' ? p.text : '')).join('') : '';
  const calls = Array.isArray(m.tool_calls) ? (m.tool_calls as { function?: { name?: unknown } }[]) : [];
  const name = calls.map((c) => c?.function?.name).filter((x): x is string => typeof x === 'string').pop() ?? '';
  const tail = (text.trim().split('\n').pop() ?? '').trim().slice(-32) || name;
  if (tail === '') return 0;
  for (let n = turn.length - 1; n > 0; n--) {
    if (full.charCodeAt(at) !== turn.charCodeAt(turn.length - n)) continue;
    const end = turn.slice(turn.length - n);
    if (full.startsWith(end, at)) return end.includes(tail) ? n : 0;
  }
  return 0;
}

/**
 * Which tokens overlap the spans: transformers' rule (the contiguous tokens from the one holding
 * a span's first character to the one holding its last). Offsets are the text's own
 * (encodeWithSpans: no trimming), so every character, whitespace included, is in some token; a
 * token reported empty holds the characters since the token before it.
 */
export function tokensInSpans(offsets: [number, number][], spans: [number, number][]): boolean[] {
  let prevEnd = 0;
  return offsets.map(([a, b]) => {
    const start = a < b ? a : Math.min(prevEnd, b - 1);
    prevEnd = Math.max(prevEnd, b);
    return spans.some(([s, f]) => start < f && b > s);
  });
}

/** Per tokenizer: whether a token decodes to whitespace alone, and whether skip_special_tokens hides it. */
const tokenKinds = new WeakMap<PreTrainedTokenizer, Map<number, { blank: boolean; special: boolean }>>();
async function kindOf(tok: PreTrainedTokenizer, id: number): Promise<{ blank: boolean; special: boolean }> {
  let m = tokenKinds.get(tok);
  if (!m) tokenKinds.set(tok, (m = new Map()));
  let k = m.get(id);
  if (!k) m.set(id, (k = { blank: (await tok.decode([id], false)).trim() === '', special: (await tok.decode([id], true)) === '' }));
  return k;
}

/**
 * The special token that ends the targets (ChatML's <|im_end|>, Llama 3's <|eot_id|>, the EOS
 * appended to a completion): the model learns to end its answers with it, so generation must
 * stop there too (the Trainer adds it to generation_config.json's eos_token_id where the model
 * does not stop at it). It is the last target token of each run that decoding with
 * skip_special_tokens hides, past trailing whitespace (the newline after <|im_end|>).
 */
export async function noteEndTokens(ctx: FeaturizeContext, ids: number[], target: boolean[]): Promise<void> {
  const ends = ((ctx.state.endTokens as number[] | undefined) ??= []);
  for (let t = ids.length - 1; t >= 0; t--) {
    if (!target[t] || (t + 1 < ids.length && target[t + 1])) continue; // the last token of each run of targets
    for (let u = t; u >= 0 && target[u]; u--) {
      const k = await kindOf(ctx.tokenizer, ids[u]);
      if (k.blank) continue;
      if (k.special && !ends.includes(ids[u])) ends.push(ids[u]);
      break;
    }
  }
}

export const sft: TaskSpec = {
  name: 'sft',
  head: 'causal-lm',
  description: 'instruction tuning: the loss on completions or assistant turns only',
  hasClassLabels: false,
  predictHint: 'sft has no per-row predictions: use `fulltune generate --chat` to answer prompts, or `fulltune eval` for loss and perplexity',
  metricNames: ['perplexity'],
  lowerIsBetter: ['perplexity'],
  resolveColumns: (c) => defaultColumns(c, { text: 'messages', label: 'completion', pair: 'prompt' }),
  // a conversation, or a prompt and completion: which one is decided per row
  requiredColumns: () => [],

  toExample(cols, row): Example {
    const v = row.values;
    const [m, pc, cc] = [cols.textColumn, cols.textPairColumn!, cols.labelColumn];
    const hasM = m in v && v[m] !== null;
    const hasP = (pc in v && v[pc] !== null) || (cc in v && v[cc] !== null);
    if (hasM && hasP) throw `the row has both '${m}' and '${pc}'/'${cc}': give a conversation or a prompt and completion, not both`;
    if (hasM) return { line: row.line, text: '', messages: messagesOf(v[m], m) };
    if (!hasP) throw `expected a '${m}' column (a conversation), or '${pc}' and '${cc}' columns (columns: ${Object.keys(v).join(', ')}); name them with --text-column, --text-pair-column and --label-column`;
    const p = need(row, pc);
    const c = need(row, cc);
    if (typeof p === 'string' || typeof c === 'string') {
      for (const [col, x] of [[pc, p], [cc, c]] as const) if (typeof x !== 'string') throw `column '${col}' is ${x === null ? 'null' : typeof x}, expected a string like '${typeof p === 'string' ? pc : cc}'`;
      return { line: row.line, text: '', prompt: p as string, completion: c as string };
    }
    return { line: row.line, text: '', prompt: messagesOf(p, pc), completion: messagesOf(c, cc) };
  },

  headConfig: () => ({}),

  async featurize(chunk, ctx) {
    const tok = ctx.tokenizer;
    const max = ctx.settings.maxLength;
    const extra = ctx.settings.chatTemplateKwargs;
    const out: Feature[] = [];
    for (const e of chunk) {
      let ids: number[];
      let labels: number[];
      try {
        if (e.messages) {
          const text = tok.applyChatTemplate(e.messages, { extra });
          const enc = await tok.encodeWithSpans(text);
          const spans = assistantSpans(tok, e.messages, text, extra);
          if (spans.length === 0) throw 'the conversation has no assistant message: nothing to learn from it';
          ids = enc.ids;
          const inTurn = tokensInSpans(enc.offsets, spans);
          labels = ids.map((id, t) => (inTurn[t] ? id : -100));
          await noteEndTokens(ctx, ids, inTurn);
        } else {
          let promptIds: number[];
          let fullIds: number[];
          if (typeof e.prompt === 'string') {
            const eos = tok.specialToken('eos_token');
            const completion = eos !== null && !(e.completion as string).endsWith(eos) ? `${e.completion}${eos}` : (e.completion as string);
            const enc = await tok.encode([e.prompt, e.prompt + completion]);
            [promptIds, fullIds] = enc.inputIds;
          } else {
            const prompt = tok.applyChatTemplate(e.prompt!, { addGenerationPrompt: true, extra });
            const full = tok.applyChatTemplate([...e.prompt!, ...(e.completion as ChatMessage[])], { extra });
            const enc = await tok.encode([prompt, full], { addSpecialTokens: false });
            [promptIds, fullIds] = enc.inputIds;
          }
          // as TRL: the completion is what follows the prompt's length, even where tokens merge across the seam
          if (!promptIds.every((id, i) => fullIds[i] === id)) count(ctx, 'rows whose prompt tokens change when the completion follows (masked by the prompt length, as TRL)');
          ids = fullIds;
          labels = fullIds.map((id, i) => (i < promptIds.length ? -100 : id));
          await noteEndTokens(ctx, fullIds, fullIds.map((_, i) => i >= promptIds.length));
        }
      } catch (problem) {
        if (typeof problem === 'string') throw new DataError(ctx.file, e.line, problem);
        throw problem;
      }
      if (ids.length > max) {
        count(ctx, `rows cut to --max-length ${max} (their end is not trained on)`);
        ids = ids.slice(0, max);
        labels = labels.slice(0, max);
        if (labels.slice(1).every((l) => l === -100)) count(ctx, 'rows with no target left after the cut (kept; they add nothing to the loss)');
      }
      out.push({ ids, label: labels });
    }
    return out;
  },

  targets: causalLM.targets,
  collate: (features, padId) => causalLM.collate(features, padId),
  gather: () => undefined,
  metrics: (_p, _l, _s, loss) => ({ perplexity: Math.exp(loss) }),
  predictionRows() {
    throw new Error(sft.predictHint);
  },
  servedBy: (head) => head === 'causal-lm',
};
