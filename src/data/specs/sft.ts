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
 * The character spans of the assistant's turns in the rendered conversation: each turn is what
 * rendering up to and including it adds to rendering the turns before it with the generation
 * prompt. A template that does not render conversations incrementally is refused.
 */
function assistantSpans(tok: PreTrainedTokenizer, messages: ChatMessage[], full: string, extra?: Record<string, unknown>): [number, number][] {
  const spans: [number, number][] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = tok.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true, extra });
    const upTo = tok.applyChatTemplate(messages.slice(0, i + 1), { extra });
    if (!upTo.startsWith(before) || !full.startsWith(upTo)) {
      throw `the chat template does not render this conversation turn by turn (message ${i}): the assistant's tokens cannot be found`;
    }
    spans.push([codePoints(full, before.length), codePoints(full, upTo.length)]);
  });
  return spans;
}

/**
 * Which tokens lie inside the spans. Post-processors that trim offsets (ByteLevel's
 * trim_offsets, the tokenizers default) drop the spaces around a token and report a
 * whitespace-only token as empty, yet such tokens are part of the turn and must be trained: an
 * empty token at p holds characters from the end of the token before it up to p. Other tokens
 * are in a span when their reported characters are (one that merges across the span's start is
 * not).
 */
export function tokensInSpans(offsets: [number, number][], spans: [number, number][]): boolean[] {
  let prevEnd = 0;
  return offsets.map(([a, b]) => {
    const start = a < b ? a : Math.min(prevEnd, b - 1);
    prevEnd = Math.max(prevEnd, b);
    return spans.some(([s, f]) => start >= s && b <= f);
  });
}

/**
 * The special token that ends the rendered assistant turns (ChatML's <|im_end|>, Llama 3's
 * <|eot_id|>), where it is not EOS: the model learns to end its answers with it, so generation
 * must stop there too (the Trainer adds it to the saved generation_config.json's eos_token_id).
 * A turn's end token is its last target token that decoding with skip_special_tokens hides.
 */
async function noteEndOfTurn(ctx: FeaturizeContext, ids: number[], target: boolean[]): Promise<void> {
  const tok = ctx.tokenizer;
  const ends = ((ctx.state.endOfTurn as number[] | undefined) ??= []);
  for (let t = ids.length - 1; t >= 0; t--) {
    if (!target[t] || (t + 1 < ids.length && target[t + 1])) continue; // the last token of each run of targets
    for (let u = t; u >= 0 && target[u]; u--) {
      if ((await tok.decode([ids[u]], false)).trim() === '') continue; // the newline after <|im_end|>
      if (ids[u] !== tok.eosTokenId && !ends.includes(ids[u]) && (await tok.decode([ids[u]], true)) === '') ends.push(ids[u]);
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
          const enc = await tok.encode([text], { addSpecialTokens: false });
          const spans = assistantSpans(tok, e.messages, text, extra);
          if (spans.length === 0) throw 'the conversation has no assistant message: nothing to learn from it';
          ids = enc.inputIds[0];
          const inTurn = tokensInSpans(enc.offsets[0], spans);
          labels = ids.map((id, t) => (inTurn[t] ? id : -100));
          await noteEndOfTurn(ctx, ids, inTurn);
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
            await noteEndOfTurn(ctx, fullIds, fullIds.map((_, i) => i >= promptIds.length));
          }
          // as TRL: the completion is what follows the prompt's length, even where tokens merge across the seam
          if (!promptIds.every((id, i) => fullIds[i] === id)) count(ctx, 'rows whose prompt tokens change when the completion follows (masked by the prompt length, as TRL)');
          ids = fullIds;
          labels = fullIds.map((id, i) => (i < promptIds.length ? -100 : id));
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
