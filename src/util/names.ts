// "Did you mean": the closest known name to a misspelt one, for errors about flags, option
// keys, tasks and metrics.

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** The known name closest to `name` (a prefix, or within a third of its length in edits), or null. */
export function closest(name: string, known: readonly string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const n = norm(name);
  if (n === '') return null;
  const exact = known.find((k) => norm(k) === n);
  if (exact) return exact;
  const prefix = known.filter((k) => norm(k).startsWith(n) || n.startsWith(norm(k)));
  if (prefix.length === 1) return prefix[0];
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const dd = distance(n, norm(k));
    if (dd < bestD) {
      bestD = dd;
      best = k;
    }
  }
  return best !== null && bestD <= Math.max(1, Math.floor(n.length / 3)) ? best : null;
}

/** " (did you mean X?)" or "" */
export function didYouMean(name: string, known: readonly string[], show: (k: string) => string = (k) => `'${k}'`): string {
  const c = closest(name, known);
  return c === null ? '' : ` (did you mean ${show(c)}?)`;
}

/** Throws TypeError naming the first key of `obj` that is not in `known`. */
export function checkKeys(what: string, obj: object | undefined, known: readonly string[], aliases: Record<string, string> = {}): void {
  if (obj === undefined || obj === null) return;
  if (typeof obj !== 'object' || Array.isArray(obj)) throw new TypeError(`${what} must be an object`);
  for (const k of Object.keys(obj)) {
    if (known.includes(k)) continue;
    const alias = aliases[k];
    const hint = alias ? ` (did you mean '${alias}'? fulltune's name for transformers' ${k})` : didYouMean(k, known);
    throw new TypeError(`${what}: unknown option '${k}'${hint}; known options: ${known.join(', ')}`);
  }
}
