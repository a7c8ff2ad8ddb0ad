// Evaluation metrics, computed as the reference implementations compute them:
// scikit-learn (accuracy, F1, Matthews), scipy (Pearson, Spearman), seqeval (entity-level
// scores in its default mode) and the SQuAD v1.1 evaluation script (exact match, F1).

export function accuracy(pred: number[], gold: number[]): number {
  return gold.length === 0 ? 0 : pred.reduce((n, p, i) => n + (p === gold[i] ? 1 : 0), 0) / gold.length;
}

function counts(pred: number[], gold: number[], label: number) {
  let tp = 0, fp = 0, fn = 0;
  pred.forEach((p, i) => {
    if (p === label && gold[i] === label) tp++;
    else if (p === label) fp++;
    else if (gold[i] === label) fn++;
  });
  return { tp, fp, fn };
}
const f1Of = (tp: number, fp: number, fn: number) => (tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn));

/** F1 as sklearn.metrics.f1_score: binary (positive label 1), macro or micro over `labels`. */
export function f1(pred: number[], gold: number[], average: 'binary' | 'macro' | 'micro', labels?: number[]): number {
  if (average === 'binary') {
    const c = counts(pred, gold, 1);
    return f1Of(c.tp, c.fp, c.fn);
  }
  const ls = labels ?? [...new Set([...gold, ...pred])].sort((a, b) => a - b);
  if (average === 'macro') return ls.reduce((s, l) => { const c = counts(pred, gold, l); return s + f1Of(c.tp, c.fp, c.fn); }, 0) / ls.length;
  let tp = 0, fp = 0, fn = 0;
  for (const l of ls) {
    const c = counts(pred, gold, l);
    tp += c.tp; fp += c.fp; fn += c.fn;
  }
  return f1Of(tp, fp, fn);
}

/** Matthews correlation coefficient, multiclass (sklearn.metrics.matthews_corrcoef). */
export function matthews(pred: number[], gold: number[]): number {
  const ls = [...new Set([...gold, ...pred])];
  const n = gold.length;
  const t = new Map<number, number>(), p = new Map<number, number>();
  let c = 0;
  pred.forEach((x, i) => {
    p.set(x, (p.get(x) ?? 0) + 1);
    t.set(gold[i], (t.get(gold[i]) ?? 0) + 1);
    if (x === gold[i]) c++;
  });
  let tp = 0, tt = 0, pp = 0;
  for (const l of ls) {
    const tk = t.get(l) ?? 0, pk = p.get(l) ?? 0;
    tp += tk * pk; tt += tk * tk; pp += pk * pk;
  }
  const den = Math.sqrt((n * n - pp) * (n * n - tt));
  return den === 0 ? 0 : (c * n - tp) / den;
}

export function pearson(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** Ranks with ties averaged, as scipy.stats.rankdata. */
function ranks(x: number[]): number[] {
  const idx = x.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    for (let k = i; k <= j; k++) r[idx[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}
export function spearman(x: number[], y: number[]): number {
  return pearson(ranks(x), ranks(y));
}

// ---- seqeval (default mode: conlleval-style chunking of IOB tags) ----
type Chunk = [string, number, number];

// seqeval: the tag is the first character, the type what follows its first '-'
function splitTag(chunk: string): [string, string] {
  const rest = chunk.slice(1);
  const dash = rest.indexOf('-');
  const type = dash < 0 ? rest : rest.slice(dash + 1);
  return [chunk[0] ?? '', type === '' ? '_' : type];
}
function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  return (
    (prevTag === 'E') || (prevTag === 'S') ||
    (prevTag === 'B' && (tag === 'B' || tag === 'S' || tag === 'O')) ||
    (prevTag === 'I' && (tag === 'B' || tag === 'S' || tag === 'O')) ||
    (prevTag !== 'O' && prevTag !== '.' && prevType !== type)
  );
}
function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  return (
    tag === 'B' || tag === 'S' ||
    (prevTag === 'E' && (tag === 'E' || tag === 'I')) ||
    (prevTag === 'S' && (tag === 'E' || tag === 'I')) ||
    (prevTag === 'O' && (tag === 'E' || tag === 'I')) ||
    (tag !== 'O' && tag !== '.' && prevType !== type)
  );
}
/** Entities of a tag sequence (sentences joined with 'O', as seqeval.get_entities does). */
export function entities(seqs: string[][]): Chunk[] {
  const tags = seqs.flatMap((s) => [...s, 'O']);
  const out: Chunk[] = [];
  let prevTag = 'O', prevType = '', begin = 0;
  tags.concat(['O']).forEach((chunk, i) => {
    const [tag, type] = splitTag(chunk);
    if (endOfChunk(prevTag, tag, prevType, type)) out.push([prevType, begin, i - 1]);
    if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
    prevTag = tag;
    prevType = type;
  });
  return out;
}

/** Entity-level precision, recall and F1 (micro), and token accuracy, as seqeval reports them. */
export function seqeval(pred: string[][], gold: string[][]): { precision: number; recall: number; f1: number; accuracy: number } {
  const key = (c: Chunk) => c.join('\u0000');
  const p = new Set(entities(pred).map(key));
  const g = new Set(entities(gold).map(key));
  let correct = 0;
  for (const c of p) if (g.has(c)) correct++;
  const precision = p.size ? correct / p.size : 0;
  const recall = g.size ? correct / g.size : 0;
  const f = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  const flatP = pred.flat(), flatG = gold.flat();
  return { precision, recall, f1: f, accuracy: flatG.length ? flatP.filter((t, i) => t === flatG[i]).length / flatG.length : 0 };
}

// ---- SQuAD v1.1 evaluation ----
export function normalizeAnswer(s: string): string {
  const lower = s.toLowerCase();
  // string.punctuation of Python: ASCII punctuation only
  const noPunc = [...lower].filter((ch) => !'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'.includes(ch)).join('');
  const noArticles = noPunc.replace(/\b(a|an|the)\b/g, ' ');
  return noArticles.split(/\s+/).filter((w) => w !== '').join(' ');
}
function squadF1(pred: string, gold: string): number {
  const p = normalizeAnswer(pred).split(' ').filter((x) => x);
  const g = normalizeAnswer(gold).split(' ').filter((x) => x);
  const bag = new Map<string, number>();
  for (const t of g) bag.set(t, (bag.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of p) {
    const c = bag.get(t) ?? 0;
    if (c > 0) {
      same++;
      bag.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / p.length, recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}
/** exact_match and f1 in percent, each the max over the ground truths, averaged over questions. */
export function squad(preds: string[], golds: string[][]): { exact_match: number; f1: number } {
  let em = 0, f = 0;
  preds.forEach((p, i) => {
    em += Math.max(...golds[i].map((g) => (normalizeAnswer(p) === normalizeAnswer(g) ? 1 : 0)));
    f += Math.max(...golds[i].map((g) => squadF1(p, g)));
  });
  return { exact_match: (100 * em) / preds.length, f1: (100 * f) / preds.length };
}
