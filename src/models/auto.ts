// Auto classes: config.json's model_type (and architectures) pick the class, as in transformers.
import { fromPretrained, FromPretrainedOptions } from '../hub/pretrained';
import { ConfigError, bertConfig } from './bert/config';
import { BertModel } from './bert/model';
import { BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification } from './bert/heads';
import { PreTrainedModel } from './pretrained';

type Task = 'base' | 'sequence-classification' | 'token-classification' | 'question-answering' | 'masked-lm';

const BERT: Record<Task, (raw: Record<string, unknown>, where: string) => PreTrainedModel> = {
  base: (r, w) => new BertModel(bertConfig(r, w)),
  'sequence-classification': (r, w) => new BertForSequenceClassification(bertConfig(r, w)),
  'token-classification': (r, w) => new BertForTokenClassification(bertConfig(r, w)),
  'question-answering': (r, w) => new BertForQuestionAnswering(bertConfig(r, w)),
  'masked-lm': (r, w) => new BertForMaskedLM(bertConfig(r, w)),
};
const BY_ARCHITECTURE: Record<string, Task> = {
  BertModel: 'base',
  BertForSequenceClassification: 'sequence-classification',
  BertForTokenClassification: 'token-classification',
  BertForQuestionAnswering: 'question-answering',
  BertForMaskedLM: 'masked-lm',
};

function builder(task: Task | 'from-architecture') {
  return (raw: Record<string, unknown>, where: string): PreTrainedModel => {
    if (raw.model_type !== 'bert') {
      throw new ConfigError(where, `model_type '${String(raw.model_type)}' is not supported (supported: bert)`);
    }
    let t: Task = 'base';
    if (task !== 'from-architecture') t = task;
    else {
      const arch = Array.isArray(raw.architectures) ? String(raw.architectures[0]) : 'BertModel';
      t = BY_ARCHITECTURE[arch] ?? 'base';
    }
    return BERT[t](raw, where);
  };
}

function auto<M extends PreTrainedModel>(task: Task | 'from-architecture') {
  return {
    fromPretrained: (idOrDir: string, opts: FromPretrainedOptions = {}): Promise<M> =>
      fromPretrained(idOrDir, builder(task) as (r: Record<string, unknown>, w: string) => M, opts),
  };
}

/** The class named by config.json's architectures (BertModel when none). */
export const AutoModel = auto<PreTrainedModel>('from-architecture');
export const AutoModelForSequenceClassification = auto<BertForSequenceClassification>('sequence-classification');
export const AutoModelForTokenClassification = auto<BertForTokenClassification>('token-classification');
export const AutoModelForQuestionAnswering = auto<BertForQuestionAnswering>('question-answering');
export const AutoModelForMaskedLM = auto<BertForMaskedLM>('masked-lm');
export const AutoBaseModel = auto<BertModel>('base');
