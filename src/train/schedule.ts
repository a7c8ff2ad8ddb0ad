// Learning-rate schedules as transformers' get_scheduler defines them: a multiplier of the
// base rate as a function of the optimizer steps taken so far.
export const SCHEDULES = ['linear', 'cosine', 'constant_with_warmup', 'constant'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];

export function lrMultiplier(kind: ScheduleKind, step: number, warmup: number, total: number): number {
  if (kind === 'constant') return 1;
  if (step < warmup) return step / Math.max(1, warmup);
  if (kind === 'constant_with_warmup') return 1;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (kind === 'linear') return Math.max(0, (total - step) / Math.max(1, total - warmup));
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * progress))); // one half-cycle
}

/** Warmup steps from a ratio (rounded up, as transformers) or a count. */
export function warmupSteps(total: number, o: { warmupRatio?: number; warmupSteps?: number }): number {
  if (o.warmupSteps !== undefined && o.warmupSteps > 0) return o.warmupSteps;
  return Math.ceil(total * (o.warmupRatio ?? 0));
}
