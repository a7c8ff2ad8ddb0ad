// transformers' `{% generation %}` ... `{% endgeneration %}` blocks, which mark the assistant's
// part of a chat template (return_assistant_tokens_mask; TRL's assistant_only_loss). Hugging
// Face's JS Jinja has no such tag: the template is rewritten so that each block boundary renders
// a private-use character (or nothing), as a block tag with the same whitespace control, and the
// characters are taken out of the text again as spans.
const OPEN_TAG = /\{%(-?)\s*generation\s*(-?)%\}/g;
const CLOSE_TAG = /\{%(-?)\s*endgeneration\s*(-?)%\}/g;
const OPEN = '\uE000';
const CLOSE = '\uE001';

export function hasGenerationBlocks(template: string): boolean {
  return new RegExp(OPEN_TAG.source).test(template);
}

/** The template with its generation blocks rendering markers (marked) or nothing. */
export function rewriteGenerationBlocks(template: string, marked: boolean): string {
  const tag = (ch: string) => (_: string, l: string, r: string) => `{%${l} if true %}${marked ? `{{ '${ch}' }}` : ''}{% endif ${r}%}`;
  return template.replace(OPEN_TAG, tag('\\uE000')).replace(CLOSE_TAG, tag('\\uE001'));
}

/** Takes the markers out of a marked rendering: the text, and each block's [start, end) in it (UTF-16). */
export function takeGenerationSpans(marked: string): { text: string; spans: [number, number][] } {
  const spans: [number, number][] = [];
  let text = '';
  let open: number | null = null;
  for (const piece of marked.split(/([\uE000\uE001])/)) {
    if (piece === OPEN) {
      if (open !== null) throw new Error('the chat template opens a {% generation %} block inside another');
      open = text.length;
    } else if (piece === CLOSE) {
      if (open === null) throw new Error('the chat template closes a {% generation %} block it did not open');
      if (text.length > open) spans.push([open, text.length]);
      open = null;
    } else text += piece;
  }
  if (open !== null) throw new Error('the chat template leaves a {% generation %} block open');
  return { text, spans };
}

/** Whether a value (messages, template variables) holds the characters the markers use. */
export function holdsMarkers(v: unknown): boolean {
  return /[\uE000\uE001]/.test(JSON.stringify(v) ?? '');
}
