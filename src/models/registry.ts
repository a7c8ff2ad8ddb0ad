// The model families fulltune knows, by config.json's model_type. Each family registers itself
// from its own folder (src/models/<family>/index.ts): its config parser is inside its builders,
// its classes are listed by Hugging Face architecture name and by the head they serve. The Auto
// classes, the loader and the tasks look here; nothing outside models/<family>/ names a family.
import { PreTrainedModel } from './pretrained';

/** What a model class serves: the bare body, or one of the heads the tasks use. */
export type HeadKind = 'base' | 'sequence-classification' | 'token-classification' | 'question-answering' | 'masked-lm' | 'causal-lm';

export interface ArchitectureSpec {
  head: HeadKind;
  /** Builds the model from a raw config.json (validated by the family's parser); `where` names the file in errors. */
  build: (raw: Record<string, unknown>, where: string) => PreTrainedModel;
}

export interface ModelFamily {
  /** config.json model_type values this family serves (llama also serves mistral and qwen2). */
  modelTypes: string[];
  /** Classes by Hugging Face architecture name (`LlamaForCausalLM`). */
  architectures: Record<string, ArchitectureSpec>;
  /** The architecture used when config.json names none, or one this family does not have. */
  defaultArchitecture: string;
  /** Parses and validates a raw config.json (the builders' parser); throws a ConfigError naming the field. */
  config: (raw: Record<string, unknown>, where: string) => unknown;
  /**
   * The longest sequence the family's positions take, and what says so, when it is not
   * max_position_embeddings itself (RoBERTa's positions start after pad_token_id).
   */
  maxPositions?: (raw: Record<string, unknown>) => { value: number; field: string } | null;
}

export class UnsupportedModelError extends Error {
  constructor(where: string, msg: string) {
    super(`${where}: ${msg}`);
    this.name = 'ConfigError';
  }
}

const byType = new Map<string, ModelFamily>();

export function registerFamily(f: ModelFamily): void {
  for (const t of f.modelTypes) {
    if (byType.has(t)) throw new Error(`model_type '${t}' is registered twice`);
    byType.set(t, f);
  }
}

/** Every model_type that can be loaded. */
export function supportedModelTypes(): string[] {
  return [...byType.keys()].sort();
}

export function familyOf(raw: Record<string, unknown>, where: string): ModelFamily {
  const t = raw.model_type;
  const f = typeof t === 'string' ? byType.get(t) : undefined;
  if (!f) {
    const what = t === undefined ? 'has no model_type' : `model_type ${JSON.stringify(t)} is not supported`;
    throw new UnsupportedModelError(where, `${what} (supported: ${supportedModelTypes().join(', ')})`);
  }
  return f;
}

/** The family of a raw config, or null for a model_type no family registers (no error). */
export function findFamily(raw: Record<string, unknown>): ModelFamily | null {
  return typeof raw.model_type === 'string' ? (byType.get(raw.model_type) ?? null) : null;
}

/** The architecture name that serves `head` in the family of `raw`, or null when it has none. */
export function architectureFor(raw: Record<string, unknown>, head: HeadKind, where: string): string | null {
  const f = familyOf(raw, where);
  return Object.entries(f.architectures).find(([, a]) => a.head === head)?.[0] ?? null;
}

/**
 * Validates config.json as the family's parser will when the model is built: the command calls it
 * before any work, so that a bad field stops it before the data is read and tokenised.
 */
export function checkConfig(raw: Record<string, unknown>, where: string): void {
  familyOf(raw, where).config(raw, where);
}

/** The architecture that serves `head` in the family of `raw`; throws when it has none (the command calls it before any work). */
export function checkHead(raw: Record<string, unknown>, head: HeadKind, where: string): string {
  const name = architectureFor(raw, head, where);
  if (name === null) {
    const heads = [...new Set(Object.values(familyOf(raw, where).architectures).map((a) => a.head))].join(', ');
    throw new UnsupportedModelError(where, `model_type '${String(raw.model_type)}' has no ${head} model (it has: ${heads})`);
  }
  return name;
}

/** Builds the model for `head` (or the class config.json's architectures names) from a raw config. */
export function buildModel(raw: Record<string, unknown>, where: string, head: HeadKind | 'from-architecture'): PreTrainedModel {
  const f = familyOf(raw, where);
  let name: string;
  if (head === 'from-architecture') {
    const named = Array.isArray(raw.architectures) ? String(raw.architectures[0]) : undefined;
    name = named !== undefined && named in f.architectures ? named : f.defaultArchitecture;
  } else {
    name = checkHead(raw, head, where);
  }
  return f.architectures[name].build(raw, where);
}

/** The head a saved architecture serves (null for names no family registers). */
export function headOfArchitecture(name: string): HeadKind | null {
  for (const f of byType.values()) if (name in f.architectures) return f.architectures[name].head;
  return null;
}
