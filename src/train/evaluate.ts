// From a model's outputs on an evaluation set to the metrics of its task (its spec's metrics).
import { FeatureStore } from '../data/features';
import { Task } from '../data/tasks';
import { taskSpec } from '../data/specs';
import type { Predictions } from '../data/specs';

export type { Predictions } from '../data/specs';
export { qaAnswers } from '../data/specs';

/** The metrics (without eval_) that evaluation reports for a task: what metricForBestModel may name. */
export function metricNames(task: Task): string[] {
  return ['loss', ...taskSpec(task).metricNames];
}

/** Metrics without the eval_ prefix; labelNames maps ids to names (token classification); loss: the mean evaluation loss. */
export function computeMetrics(task: Task, p: Predictions, labelNames: string[], store?: FeatureStore, loss = NaN): Record<string, number> {
  return taskSpec(task).metrics(p, labelNames, store, loss);
}

/** Whether a lower value of a metric (without eval_) is better for a task. */
export function lowerIsBetter(task: Task, metric: string): boolean {
  return metric === 'loss' || (taskSpec(task).lowerIsBetter ?? []).includes(metric);
}
