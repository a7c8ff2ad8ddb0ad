// Where a checkpoint's special tokens (bos_token, eos_token, pad_token, ...) come from, by
// transformers' rules (tokenization_utils_base.from_pretrained, transformers 5):
// tokenizer_config.json; over it, special_tokens_map.json, but only for a config that has no
// added_tokens_decoder (older saves); for a key named in neither, the default of the tokenizer
// class (tokenizer_config.json's tokenizer_class, else the one of config.json's model_type).
// A token may be a string or an AddedToken object ({"content": ..., ...}, with or without
// "__type"). A null value means "none" and wins over the class default.
import * as fs from 'fs';
import * as path from 'path';

export const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

/**
 * The defaults of transformers' tokenizer classes (their __init__ signatures), by class name
 * without "Fast". Classes not listed have none (TokenizersBackend, PreTrainedTokenizerFast).
 */
export const CLASS_SPECIAL_TOKENS: Record<string, Partial<Record<(typeof SPECIAL_TOKEN_KEYS)[number], string | null>>> = {
  GPT2Tokenizer: { unk_token: '<|endoftext|>', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', pad_token: null },
  Qwen2Tokenizer: { unk_token: '<|endoftext|>', bos_token: null, eos_token: '<|endoftext|>', pad_token: '<|endoftext|>' },
  GPTNeoXTokenizer: { unk_token: '<|endoftext|>', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', pad_token: '<|padding|>' },
  LlamaTokenizer: { unk_token: '<unk>', bos_token: '<s>', eos_token: '</s>' },
  CodeLlamaTokenizer: { unk_token: '<unk>', bos_token: '<s>', eos_token: '</s>' },
  GemmaTokenizer: { unk_token: '<unk>', bos_token: '<bos>', eos_token: '<eos>', pad_token: '<pad>', mask_token: '<mask>' },
  T5Tokenizer: { eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' },
  BertTokenizer: { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
  ElectraTokenizer: { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
  DistilBertTokenizer: { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
  DebertaV2Tokenizer: { bos_token: '[CLS]', eos_token: '[SEP]', unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
  RobertaTokenizer: { bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', cls_token: '<s>', unk_token: '<unk>', pad_token: '<pad>', mask_token: '<mask>' },
  XLMRobertaTokenizer: { bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', cls_token: '<s>', unk_token: '<unk>', pad_token: '<pad>', mask_token: '<mask>' },
  BartTokenizer: { bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', cls_token: '<s>', unk_token: '<unk>', pad_token: '<pad>', mask_token: '<mask>' },
};

/**
 * The tokenizer class transformers' AutoTokenizer takes from config.json's model_type when
 * tokenizer_config.json names none (TOKENIZER_MAPPING_NAMES; families it maps to the generic
 * TokenizersBackend are left out: it has no defaults).
 */
export const MODEL_TYPE_TOKENIZER: Record<string, string> = {
  gpt2: 'GPT2Tokenizer',
  qwen2: 'Qwen2Tokenizer',
  qwen2_moe: 'Qwen2Tokenizer',
  qwen3: 'Qwen2Tokenizer',
  qwen3_moe: 'Qwen2Tokenizer',
  gpt_neox: 'GPTNeoXTokenizer',
  gemma: 'GemmaTokenizer',
  gemma2: 'GemmaTokenizer',
  gemma3_text: 'GemmaTokenizer',
  t5: 'T5Tokenizer',
  bert: 'BertTokenizer',
  distilbert: 'BertTokenizer',
  electra: 'BertTokenizer',
  roberta: 'RobertaTokenizer',
  'xlm-roberta': 'XLMRobertaTokenizer',
  'deberta-v2': 'DebertaV2Tokenizer',
};

/** A token's text from its string or AddedToken form; null for null, '' or anything else. */
export function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v === '' ? null : v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content || null;
  return null;
}

/** config.json's model_type beside the tokenizer, or ''. */
function modelType(dir: string): string {
  try {
    const t = (JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { model_type?: unknown }).model_type;
    return typeof t === 'string' ? t : '';
  } catch {
    return ''; // none, or not ours to judge here (loading the model names a broken config.json)
  }
}

/**
 * The tokenizer config with its special tokens resolved as transformers resolves them (see the
 * file's header). `vocabHas` tells whether a class default exists in the vocabulary: transformers
 * would add a missing one as a new token, which the model's embeddings would not cover, so a
 * default the vocabulary lacks is left out.
 */
export function resolveSpecialTokens(dir: string, config: Record<string, unknown>, vocabHas: (t: string) => boolean): Record<string, unknown> {
  const out = { ...config };
  const mapFile = path.join(dir, 'special_tokens_map.json');
  if (!('added_tokens_decoder' in config) && fs.existsSync(mapFile)) {
    let map: unknown;
    try {
      map = JSON.parse(fs.readFileSync(mapFile, 'utf8'));
    } catch (e) {
      throw new Error(`${mapFile}: invalid JSON (${(e as Error).message})`);
    }
    if (!map || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${mapFile}: expected a JSON object of special tokens`);
    for (const k of SPECIAL_TOKEN_KEYS) {
      const v = (map as Record<string, unknown>)[k];
      if (v === undefined) continue;
      if (v !== null && tokenText(v) === null) throw new Error(`${mapFile}: ${k} must be a string or {"content": string, ...}, got ${JSON.stringify(v).slice(0, 80)}`);
      out[k] = v;
    }
  }
  const cls = typeof config.tokenizer_class === 'string' ? config.tokenizer_class.replace(/Fast$/, '') : MODEL_TYPE_TOKENIZER[modelType(dir)] ?? '';
  for (const [k, v] of Object.entries(CLASS_SPECIAL_TOKENS[cls] ?? {})) {
    if (k in out) continue;
    if (v === null || vocabHas(v)) out[k] = v;
  }
  return out;
}
