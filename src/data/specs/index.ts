// Every task fulltune trains, by name: the one place that lists them.
import { causalLM } from './causal-lm';
import { maskedLM } from './masked-lm';
import { sft } from './sft';
import { questionAnswering } from './question-answering';
import { multiLabel, regression, sequenceClassification } from './sequence';
import { TaskSpec } from './spec';
import { tokenClassification } from './token-classification';

export const TASK_SPECS: readonly TaskSpec[] = [sequenceClassification, multiLabel, regression, tokenClassification, questionAnswering, causalLM, maskedLM, sft];

const byName = new Map(TASK_SPECS.map((s) => [s.name, s]));

/** The spec of a task name (checked by checkTask before it gets here). */
export function taskSpec(name: string): TaskSpec {
  const s = byName.get(name);
  if (!s) throw new TypeError(`unknown task '${name}' (tasks: ${[...byName.keys()].join(', ')})`);
  return s;
}

export type { TaskSpec, Predictions, FeaturizeContext, ResolvedColumns, CollateContext } from './spec';
export { qaAnswers } from './question-answering';
