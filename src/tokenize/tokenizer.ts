// A thin adapter over Hugging Face's `tokenizers` (the Rust core Python's fast tokenizers use):
// tokenizer.json when a model has one; else GPT-2's byte-level BPE from vocab.json + merges.txt,
// or BERT's WordPiece from vocab.txt, built as transformers' converters build them. Chat
// templates render with Hugging Face's own JS Jinja (@huggingface/jinja).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as v8 from 'v8';
import * as path from 'path';
import {
  AddedToken,
  Encoding,
  Tokenizer as RustTokenizer,
  WordPiece,
  bertNormalizer,
  bertPreTokenizer,
  templateProcessing,
  wordPieceDecoder,
} from 'tokenizers';
import { Template } from '@huggingface/jinja';
import { HubOptions, resolveModelDir } from '../hub/hub';
import { checkKeys } from '../util/names';
import { resolveSpecialTokens, SPECIAL_TOKEN_KEYS, tokenText } from './special-tokens';
import { hasGenerationBlocks, holdsMarkers, rewriteGenerationBlocks, takeGenerationSpans } from './chat-template';
import { tensor } from '../tensor/create';
import { Tensor } from '../tensor/tensor';

export type Truncation = 'longest_first' | 'only_first' | 'only_second';
export type Padding = false | 'longest' | 'max_length';

export interface EncodeOptions {
  addSpecialTokens?: boolean;
  /** Inputs are lists of words (token classification): wordIds then map tokens to words. */
  isSplitIntoWords?: boolean;
  /** false: no truncation; default 'longest_first' when maxLength is given. */
  truncation?: Truncation | false;
  maxLength?: number;
  /** Tokens shared by consecutive overflowing windows (with returnOverflowing). */
  stride?: number;
  /** Long inputs give several windows, each its own row (overflowToSample maps rows to inputs). */
  returnOverflowing?: boolean;
  padding?: Padding;
  padToMultipleOf?: number;
  /** Where padding goes: default tokenizer_config.json's padding_side, else 'right' (as transformers). */
  paddingSide?: 'left' | 'right';
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  specialTokensMask: number[][];
  /** Character spans of each token in its own text ([0, 0] for special tokens and padding). */
  offsets: [number, number][][];
  /** Which text (0 first, 1 pair) each token came from; null for special tokens and padding. */
  sequenceIds: (number | null)[][];
  wordIds: (number | null)[][];
  /** For each row, the index of the input it came from (several rows when overflowing). */
  overflowToSample: number[];
}

/**
 * One turn of a conversation, as chat templates take it: content is a string, a list of parts
 * ({"type": "text", "text": ...}), or null (an assistant turn that only calls tools).
 */
export interface ChatMessage {
  role: string;
  content: string | null | Record<string, unknown>[];
  [field: string]: unknown;
}

/** What is wrong with a chat message, or null: templates take what Python's apply_chat_template takes. */
export function messageProblem(m: unknown): string | null {
  const x = m as ChatMessage;
  if (!x || typeof x !== 'object' || Array.isArray(x) || typeof x.role !== 'string') return 'must be {"role": string, "content": ...}';
  const c = x.content;
  if (c === undefined && !('tool_calls' in x)) return 'has no content (a string, a list of parts, or null with tool_calls)';
  if (c !== undefined && c !== null && typeof c !== 'string' && !(Array.isArray(c) && c.every((p) => p && typeof p === 'object' && !Array.isArray(p)))) {
    return 'content must be a string, a list of parts ({"type": "text", "text": ...}) or null';
  }
  return null;
}

export interface TokenizerConfig {
  do_lower_case?: boolean;
  strip_accents?: boolean | null;
  tokenize_chinese_chars?: boolean;
  model_max_length?: number;
  unk_token?: string;
  sep_token?: string;
  pad_token?: string;
  cls_token?: string;
  mask_token?: string;
  [k: string]: unknown;
}

// transformers writes a huge sentinel when a model has no limit
const NO_LIMIT = 1e29;

export class PreTrainedTokenizer {
  private constructor(
    private readonly rust: RustTokenizer,
    readonly config: TokenizerConfig,
    /** The directory and files this tokenizer was read from (its fingerprint). */
    private readonly dir: string,
    private readonly sourceFiles: string[],
    /** chat_template.jinja's text (transformers 5 keeps the template there), or null */
    private readonly chatTemplateFile: string | null = null,
  ) {}

  /** The Jinja chat template (chat_template.jinja, else tokenizer_config.json's chat_template), or null. */
  get chatTemplate(): string | null {
    if (this.chatTemplateFile !== null) return this.chatTemplateFile;
    const t = this.config.chat_template;
    if (typeof t === 'string') return t;
    if (Array.isArray(t)) {
      const d = t.find((x) => x && (x as { name?: unknown }).name === 'default') as { template?: unknown } | undefined;
      if (d && typeof d.template === 'string') return d.template;
    }
    return null;
  }

  /**
   * Renders a conversation with the tokenizer's chat template, as Python's
   * tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...): the
   * template sees messages, add_generation_prompt, the special tokens (bos_token, eos_token, ...)
   * and `extra`. Error when the tokenizer has no template; TypeError for malformed messages;
   * the template's raise_exception() becomes an Error.
   */
  applyChatTemplate(messages: ChatMessage[], o: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> } = {}): string {
    checkKeys('applyChatTemplate options', o, ['addGenerationPrompt', 'extra'], { add_generation_prompt: 'addGenerationPrompt' });
    return this.renderChat(messages, o, false);
  }

  /**
   * For a template with `{% generation %}` blocks (transformers' return_assistant_tokens_mask):
   * the rendering and each block's [start, end) character span in it (UTF-16); null for a
   * template without them.
   */
  generationSpans(messages: ChatMessage[], o: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> } = {}): { text: string; spans: [number, number][] } | null {
    if (this.chatTemplate === null || !hasGenerationBlocks(this.chatTemplate)) return null;
    if (holdsMarkers(messages) || holdsMarkers(o.extra)) throw new TypeError('generationSpans: the messages hold U+E000 or U+E001, which mark the generation blocks');
    return takeGenerationSpans(this.renderChat(messages, o, true));
  }

  private renderChat(messages: ChatMessage[], o: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> }, marked: boolean): string {
    const template = this.chatTemplate;
    if (template === null) throw new Error(`${this.dir}: the tokenizer has no chat template (chat_template.jinja, or chat_template in tokenizer_config.json)`);
    if (!Array.isArray(messages)) throw new TypeError('applyChatTemplate: messages must be an array of {role, content}');
    messages.forEach((m, i) => {
      const problem = messageProblem(m);
      if (problem) throw new TypeError(`applyChatTemplate: message ${i} ${problem}, got ${JSON.stringify(m)?.slice(0, 80)}`);
    });
    const compiled = (this.compiled[marked ? 1 : 0] ??= new Template(rewriteGenerationBlocks(template, marked)));
    const specials: Record<string, string> = {};
    for (const k of SPECIAL_TOKEN_KEYS) {
      const t = this.specialToken(k);
      if (t !== null) specials[k] = t;
    }
    try {
      return compiled.render({ ...specials, ...(o.extra ?? {}), messages, add_generation_prompt: o.addGenerationPrompt ?? false });
    } catch (e) {
      // raise_exception's message, or the template failing on a value (a null content it does not handle)
      throw new Error(`the chat template: ${(e as Error).message}`);
    }
  }
  private compiled: [Template | undefined, Template | undefined] = [undefined, undefined];

  /** Loads from a model directory or Hub id (tokenizer.json, else vocab.txt + tokenizer_config.json). */
  static async fromPretrained(idOrDir: string, opts: HubOptions = {}): Promise<PreTrainedTokenizer> {
    const dir = await resolveModelDir(idOrDir, opts);
    return PreTrainedTokenizer.fromDir(dir);
  }

  static async fromDir(dir: string): Promise<PreTrainedTokenizer> {
    const file = (f: string) => path.join(dir, f);
    const cfgFile = file('tokenizer_config.json');
    let config: TokenizerConfig = {};
    if (fs.existsSync(cfgFile)) {
      try {
        config = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as TokenizerConfig;
      } catch (e) {
        throw new Error(`${cfgFile}: invalid JSON (${(e as Error).message})`);
      }
    }
    const present = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'vocab.json', 'merges.txt', 'special_tokens_map.json', 'chat_template.jinja'].filter((f) => fs.existsSync(file(f)));
    const chat = fs.existsSync(file('chat_template.jinja')) ? fs.readFileSync(file('chat_template.jinja'), 'utf8') : null;
    if (fs.existsSync(file('tokenizer.json'))) {
      let rust: RustTokenizer;
      try {
        rust = RustTokenizer.fromFile(file('tokenizer.json'));
      } catch (e) {
        throw new Error(`${file('tokenizer.json')}: ${(e as Error).message}`);
      }
      const resolved = resolveSpecialTokens(dir, config, (t) => rust.tokenToId(t) !== null) as TokenizerConfig;
      return new PreTrainedTokenizer(rust, resolved, dir, present, chat);
    }
    if (fs.existsSync(file('vocab.json')) && fs.existsSync(file('merges.txt'))) {
      // GPT2Tokenizer's files: its special tokens unless the configs name others
      const cfg = resolveSpecialTokens(dir, { tokenizer_class: 'GPT2Tokenizer', ...config }, () => true) as TokenizerConfig;
      return new PreTrainedTokenizer(gpt2ByteLevel(file('vocab.json'), file('merges.txt'), cfg), cfg, dir, present, chat);
    }
    if (fs.existsSync(file('vocab.txt'))) {
      const words = new Set(fs.readFileSync(file('vocab.txt'), 'utf8').split(/\r?\n/));
      const cfg = resolveSpecialTokens(dir, config, (t) => words.has(t)) as TokenizerConfig;
      return new PreTrainedTokenizer(await bertWordPiece(file('vocab.txt'), cfg), cfg, dir, present, chat);
    }
    throw new Error(`${dir}: no tokenizer (expected tokenizer.json, vocab.json with merges.txt, or vocab.txt with tokenizer_config.json)`);
  }

  /** The longest input the model takes (tokenizer_config.json's model_max_length), or null when unlimited. */
  get modelMaxLength(): number | null {
    const m = this.config.model_max_length;
    return typeof m === 'number' && m < NO_LIMIT ? m : null;
  }
  get vocabSize(): number {
    return this.rust.getVocabSize(true);
  }
  tokenToId(token: string): number | null {
    return this.rust.tokenToId(token);
  }
  idToToken(id: number): string | null {
    return this.rust.idToToken(id);
  }
  /**
   * The id padding uses: the configured pad token; for tokenizers without one (GPT-2, Llama),
   * the EOS token, as transformers users set it (padding is masked out of attention and loss);
   * BERT-style vocabularies fall back to [PAD], and 0 when nothing else exists.
   */
  get padTokenId(): number {
    const id = this.specialId('pad_token');
    if (id !== null) return id;
    return this.rust.tokenToId('[PAD]') ?? this.eosTokenId ?? 0;
  }
  /** The configured EOS token's id (tokenizer_config.json eos_token), or null. */
  get eosTokenId(): number | null {
    return this.specialId('eos_token');
  }
  /**
   * The mask token's id: tokenizer_config.json's mask_token; without one (bert-base-uncased's
   * config names none), the class defaults' [MASK] (BERT, DistilBERT, ELECTRA, DeBERTa) or
   * <mask> (RoBERTa, XLM-R) when the vocabulary has it; else null.
   */
  get maskTokenId(): number | null {
    return this.specialId('mask_token') ?? this.rust.tokenToId('[MASK]') ?? this.rust.tokenToId('<mask>') ?? null;
  }
  /** The configured BOS token's id (tokenizer_config.json bos_token), or null. */
  get bosTokenId(): number | null {
    return this.specialId('bos_token');
  }
  /** A special token's text (eos_token, bos_token, ...) as the tokenizer's files name it (special-tokens.ts), or null. */
  specialToken(name: string): string | null {
    return tokenText(this.config[name]);
  }
  private specialId(name: string): number | null {
    const t = this.specialToken(name);
    return t === null ? null : this.rust.tokenToId(t);
  }

  private paddingSide(o: EncodeOptions): 'left' | 'right' {
    return o.paddingSide ?? (this.config.padding_side === 'left' ? 'left' : 'right');
  }

  /** Encodes texts (or [text, pair] pairs) as Python's tokenizer(...) does, with truncation, overflow and padding. */
  async encode(inputs: (string | [string, string] | string[])[], o: EncodeOptions = {}): Promise<BatchEncoding> {
    for (const [i, x] of inputs.entries()) {
      const ok = o.isSplitIntoWords
        ? Array.isArray(x) && x.every((w) => typeof w === 'string')
        : typeof x === 'string' || (Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string');
      if (!ok) throw new TypeError(`encode: input ${i} is ${JSON.stringify(x)?.slice(0, 80)}, expected a string or a [text, pair] of strings`);
    }
    const truncation = o.truncation ?? (o.maxLength !== undefined ? 'longest_first' : false);
    await this.checkOptions(inputs, o, truncation);
    this.rust.disableTruncation();
    this.rust.disablePadding();
    const eo = { addSpecialTokens: o.addSpecialTokens ?? true };
    const rows: Encoding[] = [];
    const overflowToSample: number[] = [];
    const manual = !o.isSplitIntoWords && o.returnOverflowing && truncation !== false && (truncation !== 'longest_first' || inputs.every((x) => typeof x === 'string'));
    if (manual) {
      // Windows over one sequence, built here: this binding's pair encode returns only the
      // first overflowing window, where Python's returns them all.
      this.rust.disableTruncation();
      for (const [i, x] of inputs.entries()) {
        for (const row of await this.windows(x as string | [string, string], truncation as Truncation, o.maxLength!, o.stride ?? 0, eo.addSpecialTokens)) {
          rows.push(row);
          overflowToSample.push(i);
        }
      }
    } else {
      // encodeBatch of this binding takes single texts only; pairs go through encode, in parallel
      if (o.isSplitIntoWords) return this.encodeWords(inputs as string[][], truncation === false ? null : o.maxLength!, eo.addSpecialTokens, o);
      if (truncation !== false) {
        // checkOptions keeps stride below the effective length: beyond it the Rust side panics (uncatchable)
        const strategy = { longest_first: 'LongestFirst', only_first: 'OnlyFirst', only_second: 'OnlySecond' }[truncation];
        // the stride matters only for overflowing windows, which this path does not return
        this.rust.setTruncation(o.maxLength!, { strategy: strategy as never, stride: 0 });
      }
      // pairs cut longest-first are cut here, as the tokenizers version Python uses cuts them
      const pairLongestFirst = truncation === 'longest_first' && !o.returnOverflowing;
      const encs: Encoding[] = inputs.every((x) => typeof x === 'string')
          ? await this.rust.encodeBatch(inputs as string[], eo)
          : await Promise.all(
              inputs.map((x) =>
                typeof x === 'string' ? this.rust.encode(x, null, eo) : pairLongestFirst ? this.longestFirstPair(x as [string, string], o.maxLength!, eo.addSpecialTokens) : this.rust.encode(x[0], x[1], eo),
              ),
            );
      encs.forEach((e, i) => {
        rows.push(e);
        overflowToSample.push(i);
        if (o.returnOverflowing) {
          for (const ov of e.getOverflowing()) {
            rows.push(ov);
            overflowToSample.push(i);
          }
        }
      });
    }
    const padding = o.padding ?? false;
    if (padding !== false) {
      let len = padding === 'max_length' ? o.maxLength : Math.max(0, ...rows.map((e) => e.getLength()));
      if (len === undefined) throw new TypeError("encode: padding 'max_length' needs maxLength");
      if (o.padToMultipleOf) len = Math.ceil(len / o.padToMultipleOf) * o.padToMultipleOf;
      checkPadding(rows.length, len);
      const padToken = tokenText(this.config.pad_token) ?? '[PAD]';
      for (const e of rows) e.pad(len, { padId: this.padTokenId, padToken, padTypeId: 0, direction: this.paddingSide(o) });
    }
    return {
      inputIds: rows.map((e) => e.getIds()),
      attentionMask: rows.map((e) => e.getAttentionMask()),
      tokenTypeIds: rows.map((e) => e.getTypeIds()),
      specialTokensMask: rows.map((e) => e.getSpecialTokensMask()),
      offsets: rows.map((e) => e.getOffsets() as [number, number][]),
      sequenceIds: rows.map((e) => e.getSequenceIds().map((s) => (s === undefined ? null : s))),
      wordIds: rows.map((e) => e.getWordIds().map((w) => (w === undefined ? null : w))),
      overflowToSample,
    };
  }

  /** Special tokens the post-processor adds around one text (pair false) or a pair (pair true). */
  async numSpecialTokens(pair: boolean): Promise<number> {
    const key = pair ? 1 : 0;
    if (this.specialCounts[key] === undefined) {
      // tokenizer.json may carry padding and truncation settings (all-MiniLM-L6-v2 pads to 128):
      // the adapter sets its own for each call, so none may leak into this count
      this.rust.disablePadding();
      this.rust.disableTruncation();
      const no = { addSpecialTokens: false };
      const empty = await this.rust.encode('', null, no);
      this.specialCounts[key] = this.rust.postProcess(empty, pair ? await this.rust.encode('', null, no) : null, true).getLength();
    }
    return this.specialCounts[key]!;
  }
  private readonly specialCounts: (number | undefined)[] = [];

  /**
   * Validates numeric options before anything reaches the Rust tokenizer, whose panics abort
   * the whole process (a stride not below the effective length, a negative stride, ...).
   * Throws TypeError for a wrong type, RangeError for a value out of range.
   */
  private async checkOptions(inputs: unknown[], o: EncodeOptions, truncation: Truncation | false): Promise<void> {
    checkKeys('encode options', o, ['addSpecialTokens', 'isSplitIntoWords', 'truncation', 'maxLength', 'stride', 'returnOverflowing', 'padding', 'padToMultipleOf', 'paddingSide'], { max_length: 'maxLength', add_special_tokens: 'addSpecialTokens', is_split_into_words: 'isSplitIntoWords', return_overflowing_tokens: 'returnOverflowing', pad_to_multiple_of: 'padToMultipleOf', padding_side: 'paddingSide' });
    if (o.paddingSide !== undefined && o.paddingSide !== 'left' && o.paddingSide !== 'right') throw new TypeError(`encode: paddingSide must be 'left' or 'right', got ${JSON.stringify(o.paddingSide)}`);
    const int = (name: keyof EncodeOptions, min: number, max: number) => {
      const v = o[name];
      if (v === undefined) return;
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`encode: ${name} must be an integer, got ${JSON.stringify(v)}`);
      if (v < min) throw new RangeError(`encode: ${name} must be at least ${min}, got ${v}`);
      if (v > max) throw new RangeError(`encode: ${name} must be at most ${max}, got ${v}`);
    };
    // the Rust side takes 32-bit lengths: larger values would wrap around (2**32 + 3 became 3)
    int('maxLength', 1, 2 ** 31 - 1);
    int('stride', 0, 2 ** 31 - 1);
    int('padToMultipleOf', 1, 2 ** 31 - 1);
    if (o.truncation !== undefined && o.truncation !== false && !['longest_first', 'only_first', 'only_second'].includes(o.truncation)) {
      throw new TypeError(`encode: truncation must be 'longest_first', 'only_first', 'only_second' or false, got ${JSON.stringify(o.truncation)}`);
    }
    if (o.padding !== undefined && o.padding !== false && o.padding !== 'longest' && o.padding !== 'max_length') {
      throw new TypeError(`encode: padding must be 'longest', 'max_length' or false, got ${JSON.stringify(o.padding)}`);
    }
    if (truncation === false) {
      if (o.stride) throw new RangeError('encode: stride needs truncation (maxLength)');
      return;
    }
    if (o.maxLength === undefined) throw new TypeError('encode: truncation needs maxLength');
    if (o.returnOverflowing && truncation === 'longest_first' && !o.isSplitIntoWords && inputs.some((x) => Array.isArray(x))) {
      // as transformers' truncate_sequences: which sequence would the windows slide over?
      throw new RangeError("encode: returnOverflowing with pairs needs truncation 'only_first' or 'only_second', not 'longest_first'");
    }
    if (truncation === 'only_second' && (o.isSplitIntoWords || inputs.some((x) => !Array.isArray(x)))) {
      throw new RangeError("encode: truncation 'only_second' needs [text, pair] inputs");
    }
    const special = o.addSpecialTokens ?? true;
    const kinds = new Set(inputs.map((x) => !o.isSplitIntoWords && Array.isArray(x)));
    for (const pair of kinds) {
      const n = special ? await this.numSpecialTokens(pair) : 0;
      const room = o.maxLength - n;
      const what = pair ? 'a pair' : 'one text';
      if (room < 1) throw new RangeError(`encode: maxLength ${o.maxLength} leaves no room for text after the ${n} special tokens of ${what}`);
      const stride = o.stride ?? 0;
      if (stride >= room) {
        throw new RangeError(`encode: stride ${stride} must be smaller than maxLength minus the special tokens of ${what} (${o.maxLength} - ${n} = ${room})`);
      }
    }
  }

  /**
   * Pre-split words (token classification), as Python's is_split_into_words: each word is
   * normalised and split into pieces on its own, and every piece maps back to its word.
   * (This binding's encode does not take word lists.)
   */
  private async encodeWords(rows: string[][], maxLength: number | null, special: boolean, o: EncodeOptions): Promise<BatchEncoding> {
    const no = { addSpecialTokens: false };
    const probe = await this.rust.encode('a', null, no);
    const wrapped = this.rust.postProcess(probe, null, true);
    const at = wrapped.getIds().indexOf(probe.getIds()[0]);
    const prefix = special ? wrapped.getIds().slice(0, at) : [];
    const suffix = special ? wrapped.getIds().slice(at + probe.getLength()) : [];
    const out: BatchEncoding = { inputIds: [], attentionMask: [], tokenTypeIds: [], specialTokensMask: [], offsets: [], sequenceIds: [], wordIds: [], overflowToSample: [] };
    for (const [r, words] of rows.entries()) {
      const encs = words.length ? await this.rust.encodeBatch(words, no) : [];
      let ids: number[] = [];
      let wordIds: (number | null)[] = [];
      let offsets: [number, number][] = [];
      encs.forEach((e, w) => {
        ids = ids.concat(e.getIds());
        wordIds = wordIds.concat(e.getIds().map(() => w));
        offsets = offsets.concat(e.getOffsets() as [number, number][]);
      });
      if (maxLength !== null) {
        const room = Math.max(0, maxLength - prefix.length - suffix.length);
        ids = ids.slice(0, room);
        wordIds = wordIds.slice(0, room);
        offsets = offsets.slice(0, room);
      }
      const full = [...prefix, ...ids, ...suffix];
      const none = (n: number) => new Array(n).fill(null);
      out.inputIds.push(full);
      out.wordIds.push([...none(prefix.length), ...wordIds, ...none(suffix.length)]);
      out.offsets.push([...prefix.map(() => [0, 0] as [number, number]), ...offsets, ...suffix.map(() => [0, 0] as [number, number])]);
      out.sequenceIds.push([...none(prefix.length), ...ids.map(() => 0), ...none(suffix.length)]);
      out.specialTokensMask.push([...prefix.map(() => 1), ...ids.map(() => 0), ...suffix.map(() => 1)]);
      out.tokenTypeIds.push(full.map(() => 0));
      out.attentionMask.push(full.map(() => 1));
      out.overflowToSample.push(r);
    }
    if (o.padding) {
      let len = o.padding === 'max_length' ? o.maxLength! : Math.max(0, ...out.inputIds.map((x) => x.length));
      if (o.padToMultipleOf) len = Math.ceil(len / o.padToMultipleOf) * o.padToMultipleOf;
      checkPadding(rows.length, len);
      const left = this.paddingSide(o) === 'left';
      const pad = <T,>(a: T[], n: number, v: T) => (left ? a.unshift(...new Array(n).fill(v)) : a.push(...new Array(n).fill(v)));
      out.inputIds.forEach((ids, i) => {
        const n = len - ids.length;
        if (n <= 0) return;
        pad(ids, n, this.padTokenId);
        pad(out.attentionMask[i], n, 0);
        pad(out.tokenTypeIds[i], n, 0);
        pad(out.specialTokensMask[i], n, 1);
        pad<[number, number]>(out.offsets[i], n, [0, 0]);
        pad(out.sequenceIds[i], n, null);
        pad(out.wordIds[i], n, null);
      });
    }
    return out;
  }

  /** The overflowing windows of one input, truncating one of its sequences with a stride, as Python's tokenizer does. */
  private async windows(x: string | [string, string], which: Truncation, maxLength: number, stride: number, special: boolean): Promise<Encoding[]> {
    const no = { addSpecialTokens: false };
    const [a, b] = typeof x === 'string' ? [x, null] : x;
    // encoded without the post-processor, which postProcess applies once below: its offset
    // trimming (RoBERTa's, ByteLevel's) is not idempotent
    const raw = this.withoutPostProcessor();
    const ea = await raw.encode(a, null, no);
    const eb = b === null ? null : await raw.encode(b, null, no);
    const nSpecial = special ? await this.numSpecialTokens(eb !== null) : 0;
    const cut = which === 'only_second' && eb ? eb : ea;
    const budget = maxLength - nSpecial - (cut === ea ? (eb?.getLength() ?? 0) : ea.getLength());
    if (budget <= stride) {
      const kept = cut === ea ? eb : ea;
      const other = kept ? ` and the ${cut === ea ? 'second' : 'first'} text's ${kept.getLength()} tokens` : '';
      throw new RangeError(
        `encode: maxLength ${maxLength} minus ${nSpecial} special tokens${other} leaves ${Math.max(0, budget)} tokens for the ${cut === ea ? 'first' : 'second'} text, ` +
          `which must be more than the stride ${stride} (for question answering: a question this long needs a larger --max-length, or a smaller --doc-stride)`,
      );
    }
    cut.truncate(budget, stride, 'right');
    return [cut, ...cut.getOverflowing()].map((w) =>
      cut === ea ? this.rust.postProcess(w, eb, special) : this.rust.postProcess(ea, w, special),
    );
  }

  /**
   * A pair cut to maxLength longest-first as tokenizers (0.23.3, Python's) does: the shorter text
   * keeps its length when the longer can absorb the cut; when both must be cut, the shorter gets
   * half the budget and the longer the rest. (The Node binding's own cut differs when both are cut.)
   */
  private async longestFirstPair(x: [string, string], maxLength: number, special: boolean): Promise<Encoding> {
    const no = { addSpecialTokens: false };
    const raw = this.withoutPostProcessor();
    const [ea, eb] = [await raw.encode(x[0], null, no), await raw.encode(x[1], null, no)];
    const budget = maxLength - (special ? await this.numSpecialTokens(true) : 0);
    const [la, lb] = [ea.getLength(), eb.getLength()];
    if (la + lb > budget) {
      const swap = la > lb;
      let n1 = swap ? lb : la;
      let n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
      if (n1 + n2 > budget) {
        n1 = Math.floor(budget / 2);
        n2 = n1 + (budget % 2);
      }
      const [na, nb] = swap ? [n2, n1] : [n1, n2];
      ea.truncate(Math.max(0, na), 0, 'right');
      eb.truncate(Math.max(0, nb), 0, 'right');
    }
    return this.rust.postProcess(ea, eb, special);
  }

  /**
   * One text's tokens without special tokens, with each token's character span as the text
   * has it: the post-processor's offset trimming (ByteLevel trim_offsets) left out, so every
   * character belongs to a token. The ids are encode([text], { addSpecialTokens: false })'s.
   */
  async encodeWithSpans(text: string): Promise<{ ids: number[]; offsets: [number, number][] }> {
    if (typeof text !== 'string') throw new TypeError(`encodeWithSpans: text must be a string, got ${typeof text}`);
    const e = await this.withoutPostProcessor().encode(text, null, { addSpecialTokens: false });
    return { ids: e.getIds(), offsets: e.getOffsets() as [number, number][] };
  }

  private rawTokenizer: RustTokenizer | null = null;
  /** This tokenizer without its post-processor, truncation or padding (made once, from its own serialisation). */
  private withoutPostProcessor(): RustTokenizer {
    if (this.rawTokenizer === null) {
      // the file it was loaded from; a tokenizer built here (vocab.txt, vocab.json) is saved to a temporary file
      const own = this.sourceFiles.includes('tokenizer.json') ? path.join(this.dir, 'tokenizer.json') : null;
      const tmp = path.join(os.tmpdir(), `fulltune-tokenizer-${process.pid}-${crypto.randomBytes(6).toString('hex')}.json`);
      try {
        if (own === null) this.rust.save(tmp, false);
        const spec = JSON.parse(fs.readFileSync(own ?? tmp, 'utf8')) as Record<string, unknown>;
        spec.post_processor = null;
        // the settings of the moment are saved with it: this copy cuts and pads nothing
        spec.truncation = null;
        spec.padding = null;
        this.rawTokenizer = RustTokenizer.fromString(JSON.stringify(spec));
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    }
    return this.rawTokenizer;
  }

  /** Token ids back to text (skipSpecialTokens: a boolean, default true, as Python's skip_special_tokens). */
  async decode(ids: number[], skipSpecialTokens = true): Promise<string> {
    if (typeof skipSpecialTokens !== 'boolean') throw new TypeError(`decode(ids, skipSpecialTokens): skipSpecialTokens must be true or false, got ${JSON.stringify(skipSpecialTokens)}`);
    if (!Array.isArray(ids) || !ids.every((i) => Number.isInteger(i) && i >= 0)) throw new TypeError('decode(ids): ids must be an array of non-negative integer token ids');
    return this.rust.decode(ids, skipSpecialTokens);
  }

  /** A content hash of the tokenizer: keys caches of tokenized data. */
  fingerprint(): string {
    const h = crypto.createHash('sha256');
    h.update(this.rust.getVocabSize(true).toString());
    h.update(JSON.stringify(this.config));
    for (const f of this.sourceFiles) if (fs.existsSync(path.join(this.dir, f))) h.update(fs.readFileSync(path.join(this.dir, f)));
    return h.digest('hex');
  }

  /** Writes tokenizer.json (and the tokenizer_config.json, vocab.txt it came with) into dir. */
  save(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    this.rust.save(path.join(dir, 'tokenizer.json'), true);
    // the class transformers should build: as configured, BERT's for a vocab.txt, else the generic fast one
    const cfg = { tokenizer_class: this.sourceFiles.includes('vocab.txt') && !this.sourceFiles.includes('tokenizer.json') ? 'BertTokenizer' : 'PreTrainedTokenizerFast', ...this.config };
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(cfg, null, 2) + '\n');
    if (this.chatTemplateFile !== null) fs.writeFileSync(path.join(dir, 'chat_template.jinja'), this.chatTemplateFile);
  }

  /** The rows of a BatchEncoding as int64 tensors (B, T): inputIds, attentionMask, tokenTypeIds. */
  static toTensors(b: BatchEncoding): { inputIds: Tensor; attentionMask: Tensor; tokenTypeIds: Tensor } {
    const t = (rows: number[][]) => {
      const T = rows[0]?.length ?? 0;
      if (rows.some((r) => r.length !== T)) throw new Error('toTensors: rows differ in length; encode with padding');
      return tensor(Float64Array.from(rows.flat()), { shape: [rows.length, T], dtype: 'int64' });
    };
    return { inputIds: t(b.inputIds), attentionMask: t(b.attentionMask), tokenTypeIds: t(b.tokenTypeIds) };
  }
}

/**
 * Padding allocates every field of every row up to the padded length, in the Rust tokenizer
 * (which aborts the process when an allocation fails) and then as JS arrays (V8 aborts past its
 * heap limit): refuse what cannot fit first. A padded token costs about 64 bytes in Rust and
 * about 256 in JS (ids, masks, types, word and sequence ids, and an [start, end] offset array).
 */
function checkPadding(rows: number, len: number): void {
  const bytes = rows * len * 256;
  const limit = Math.min(os.totalmem(), v8.getHeapStatistics().heap_size_limit) / 2;
  if (bytes > limit) {
    throw new RangeError(`encode: padding ${rows} row${rows === 1 ? '' : 's'} to ${len} tokens needs about ${(bytes / 2 ** 30).toFixed(1)} GB, more than this process can hold (${(limit / 2 ** 30).toFixed(1)} GB)`);
  }
}

/**
 * GPT-2's byte-level BPE from vocab.json and merges.txt, as transformers' GPT2Converter builds
 * the fast tokenizer: byte-level pre-tokenizer (add_prefix_space from the config, default false),
 * byte-level decoder and post-processor, the special tokens as added tokens.
 */
function gpt2ByteLevel(vocabFile: string, mergesFile: string, c: TokenizerConfig): RustTokenizer {
  let vocab: Record<string, number>;
  try {
    vocab = JSON.parse(fs.readFileSync(vocabFile, 'utf8'));
  } catch (e) {
    throw new Error(`${vocabFile}: invalid JSON (${(e as Error).message})`);
  }
  const merges: string[] = [];
  fs.readFileSync(mergesFile, 'utf8')
    .split(/\r?\n/)
    .forEach((l, i) => {
      if (l.trim() === '' || (i === 0 && l.startsWith('#version'))) return;
      // the line number of the file, blank lines and the version header counted
      if (l.split(' ').length !== 2) throw new Error(`${mergesFile}:${i + 1}: a merge must be two tokens separated by one space, got ${JSON.stringify(l)}`);
      merges.push(l);
    });
  const prefix = c.add_prefix_space === true;
  const specials = [...new Set(['unk_token', 'bos_token', 'eos_token', 'pad_token'].map((k) => tokenText(c[k])).filter((t): t is string => t !== null))];
  const added = specials.map((t) => {
    const id = vocab[t];
    if (id === undefined) throw new Error(`${vocabFile}: special token ${t} is not in the vocabulary`);
    return { id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true };
  });
  const spec = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  return RustTokenizer.fromString(JSON.stringify(spec));
}

/** BERT's WordPiece pipeline from vocab.txt, as transformers' BertTokenizerFast converts it. */
async function bertWordPiece(vocabFile: string, c: TokenizerConfig): Promise<RustTokenizer> {
  const lower = c.do_lower_case ?? true;
  const unk = tokenText(c.unk_token) ?? '[UNK]';
  const sep = tokenText(c.sep_token) ?? '[SEP]';
  const cls = tokenText(c.cls_token) ?? '[CLS]';
  const pad = tokenText(c.pad_token) ?? '[PAD]';
  const mask = tokenText(c.mask_token) ?? '[MASK]';
  const model = await WordPiece.fromFile(vocabFile, { unkToken: unk, continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 });
  const tok = new RustTokenizer(model);
  tok.setNormalizer(
    bertNormalizer({
      cleanText: true,
      handleChineseChars: c.tokenize_chinese_chars ?? true,
      // strip_accents null/absent: follow lowercase, as BERT does
      stripAccents: c.strip_accents ?? lower,
      lowercase: lower,
    }),
  );
  tok.setPreTokenizer(bertPreTokenizer());
  const id = (t: string) => {
    const i = tok.tokenToId(t);
    if (i === null) throw new Error(`${vocabFile}: special token ${t} is not in the vocabulary`);
    return i;
  };
  tok.setPostProcessor(
    templateProcessing(`${cls}:0 $A:0 ${sep}:0`, `${cls}:0 $A:0 ${sep}:0 $B:1 ${sep}:1`, [
      [cls, id(cls)],
      [sep, id(sep)],
    ]),
  );
  tok.setDecoder(wordPieceDecoder('##', true));
  tok.addAddedTokens([pad, unk, cls, sep, mask].map((t) => new AddedToken(t, true)));
  return tok;
}
