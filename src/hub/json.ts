// config.json read and written so that a float stays a float: JavaScript has one number type, so
// `2.0` would come back as `2`, which transformers' strictly typed configs refuse ("expected
// float, got int") for float fields such as initializer_cutoff_factor or rope_theta.

/** Keys that held an integral float literal (`2.0`, `1e4`), by the object holding them. */
const FLOATS = new WeakMap<object, Set<string>>();
/** The same for the top level, as a property that object spreads carry into parsed configs. */
export const FLOAT_KEYS = Symbol('fulltune.floatKeys');

const MARK = '@@fulltune:float@@'; // printable: it travels inside JSON strings
const TOKENS = /"(?:[^"\\]|\\.)*"|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

/** JSON.parse, remembering which numbers were written as floats though their value is an integer. */
export function parseJsonKeepingFloats(text: string): unknown {
  const marked = text.replace(TOKENS, (m, num: string | undefined) => (num !== undefined && /[.eE]/.test(num) && Number.isInteger(Number(num)) ? `"${MARK}${num}"` : m));
  const root = JSON.parse(marked, function (this: object, key: string, value: unknown) {
    if (typeof value === 'string' && value.startsWith(MARK)) {
      let keys = FLOATS.get(this);
      if (!keys) FLOATS.set(this, (keys = new Set()));
      keys.add(key);
      return Number(value.slice(MARK.length));
    }
    return value;
  });
  if (root !== null && typeof root === 'object' && FLOATS.has(root)) {
    Object.defineProperty(root, FLOAT_KEYS, { value: FLOATS.get(root), enumerable: true });
  }
  return root;
}

/** JSON.stringify with 2-space indent, writing numbers that were floats when read as floats (`2.0`). */
export function stringifyKeepingFloats(value: Record<string | symbol, unknown>): string {
  const rootKeys = value[FLOAT_KEYS] as Set<string> | undefined;
  const out = JSON.stringify(
    value,
    function (this: Record<string | symbol, unknown>, key: string, v: unknown) {
      const floats = this === value ? rootKeys : FLOATS.get(this);
      // from 1e21 JavaScript writes an exponent, which JSON reads as a float already
      return typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 1e21 && floats?.has(key) ? `${MARK}${v}.0` : v;
    },
    2,
  );
  return out.replace(new RegExp(`"${MARK}(-?\\d+\\.0)"`, 'g'), '$1');
}
