// The fulltune command on the encoder families beyond BERT, as a new user runs it on a Hub
// checkpoint (a masked-LM one, as roberta-base is): the family comes from config.json, the heads
// are new, and sequence classification, token classification and question answering train,
// evaluate and predict with the same flags as for BERT.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cli } from './cli';

const ENC = path.join(__dirname, 'fixtures', 'encoders');
const TRAIN = path.join(__dirname, 'fixtures', 'train');
const FAMILIES = ['roberta', 'xlm-roberta', 'distilbert', 'electra', 'deberta-v3', 'modernbert'];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-enc-cli-'));
const cacheDir = path.join(tmp, 'cache');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A folder as the Hub has it: the masked-LM checkpoint with its tokenizer. */
function hubLike(family: string): string {
  const d = path.join(tmp, `${family}-hub`);
  fs.mkdirSync(d, { recursive: true });
  for (const src of [path.join(ENC, family, 'mlm'), path.join(ENC, family, 'tokenizer')]) {
    for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(d, f));
  }
  return d;
}

const ok = (r: ReturnType<typeof cli>) => {
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
};
const common = ['--cache-dir', cacheDir, '--quiet', '--lr', '5e-3'];
const jsonl = (s: string) => s.trim().split('\n').map((l) => JSON.parse(l));

for (const family of FAMILIES) {
  describe(`fulltune on ${family}`, () => {
    const model = hubLike(family);

    test('sequence classification: train with validation, then predict', () => {
      const out = path.join(tmp, `${family}-seq`);
      const r = cli(['train', '--model', model, '--output', out, '--train', path.join(TRAIN, 'tiny.csv'), '--validation', path.join(TRAIN, 'tiny.csv'), '--max-steps', '3', '--batch-size', '4', ...common]);
      ok(r);
      const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
      expect(m.eval_accuracy).toBeGreaterThanOrEqual(0);
      const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
      expect(cfg.model_type).toBe(family.replace('deberta-v3', 'deberta-v2')); // v3 is model_type deberta-v2
      expect(cfg.architectures[0]).toMatch(/ForSequenceClassification$/);
      const p = cli(['predict', '--model', out, '--data', path.join(TRAIN, 'tiny.csv'), '--cache-dir', cacheDir]);
      ok(p);
      const rows = fs.readFileSync(path.join(TRAIN, 'tiny.csv'), 'utf8').trim().split('\n').length - 1;
      expect(jsonl(p.stdout).length).toBe(rows);
    });

    if (family === 'deberta-v3') {
      // DeBERTa's own sequence loss applies only while problem_type is unset: the tasks set it
      test('multi-label and regression train and evaluate (BCE and MSE, as the tasks set problem_type)', () => {
        for (const [task, data, metric] of [['multi-label', 'multilabel.jsonl', 'eval_f1_micro'], ['regression', 'regression.csv', 'eval_pearson']]) {
          const out = path.join(tmp, `${family}-${task}`);
          ok(cli(['train', '--model', model, '--output', out, '--task', task, '--train', path.join(TRAIN, data), '--validation', path.join(TRAIN, data), '--max-steps', '2', '--batch-size', '4', ...common]));
          const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
          expect(Number.isFinite(m.eval_loss)).toBe(true);
          expect(metric in m).toBe(true);
          const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
          expect(cfg.problem_type).toBe(task === 'regression' ? 'regression' : 'multi_label_classification');
        }
      });
    }

    test('token classification: one tag per word', () => {
      const out = path.join(tmp, `${family}-ner`);
      ok(cli(['train', '--model', model, '--output', out, '--task', 'token-classification', '--train', path.join(TRAIN, 'ner.jsonl'), '--validation', path.join(TRAIN, 'ner.jsonl'), '--max-steps', '2', '--batch-size', '4', ...common]));
      const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
      expect(Object.keys(m)).toEqual(expect.arrayContaining(['eval_precision', 'eval_recall', 'eval_f1', 'eval_accuracy']));
      const p = cli(['predict', '--model', out, '--task', 'token-classification', '--data', path.join(TRAIN, 'ner.jsonl'), '--cache-dir', cacheDir]);
      ok(p);
      const rows = jsonl(fs.readFileSync(path.join(TRAIN, 'ner.jsonl'), 'utf8'));
      const preds = jsonl(p.stdout);
      expect(preds.length).toBe(rows.length);
      preds.forEach((x, i) => expect(x.labels.length).toBe(rows[i].tokens.length));
    });

    test('question answering: windows over long contexts, answers as text spans of the context', () => {
      const out = path.join(tmp, `${family}-qa`);
      ok(cli(['train', '--model', model, '--output', out, '--task', 'question-answering', '--train', path.join(TRAIN, 'qa.jsonl'), '--validation', path.join(TRAIN, 'qa.jsonl'), '--max-steps', '2', '--batch-size', '3', '--max-length', '40', '--doc-stride', '8', ...common]));
      const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
      expect(m.eval_f1).toBeGreaterThanOrEqual(m.eval_exact_match);
      const p = cli(['predict', '--model', out, '--task', 'question-answering', '--data', path.join(TRAIN, 'qa.jsonl'), '--max-length', '40', '--doc-stride', '8', '--cache-dir', cacheDir]);
      ok(p);
      const rows = jsonl(fs.readFileSync(path.join(TRAIN, 'qa.jsonl'), 'utf8'));
      const preds = jsonl(p.stdout);
      expect(preds.map((x) => x.id)).toEqual(rows.map((x) => x.id));
      preds.forEach((x, i) => expect(rows[i].context.includes(x.answer)).toBe(true));
    });
  });
}
