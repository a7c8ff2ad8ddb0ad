// Grad mode. libtorch keeps it per thread; these run on the JS thread only, synchronously.
import { native } from './native';

function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = native.setGradEnabled(on);
  try {
    const r = fn();
    if (r instanceof Promise) throw new TypeError('noGrad/enableGrad(fn): fn must be synchronous (grad mode does not follow await)');
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording off, as `with torch.no_grad()`. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}
/** Runs fn with gradient recording on, as `with torch.enable_grad()`. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
