// Sequence classification over a padded batch's real tokens alone (TokenRows): the same
// logits, loss, gradients and dropout masks as the padded layout, and the generator left where
// the padded layout leaves it. transformers' own comparisons (test/dropout.test.ts in train mode,
// test/encoders.test.ts) run through the same path, since their fixtures' batches are padded.
import * as path from 'path';
import * as ft from '../src';
import { tokenRows, packRows, padRows } from '../src/nn/token-rows';
import { dropoutRows } from '../src/tensor/functional';
import { native } from '../src/tensor/native';
import { BertLayer } from '../src/models/bert/encoder';
import { CheckpointSession } from '../src/nn/checkpoint';

const FX = path.join(__dirname, 'fixtures');
const ids = (r: number[][]) => ft.tensor(r, { dtype: 'int64' });

describe('tokenRows', () => {
  test('the real tokens of a right-padded mask, and null where unpadding cannot serve', () => {
    ft.tidy(() => {
      const r = tokenRows(ids([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]]))!;
      expect(r.index.toNumbers()).toEqual([0, 1, 2, 4, 8, 9, 10, 11]);
      expect(r.first.toNumbers()).toEqual([0, 3, 4]);
      expect([r.batch, r.length]).toEqual([3, 4]);
      const x = ft.arange(24).view(3, 4, 2).to('float32');
      const packed = packRows(x, r); // (8, 2)
      expect(packed.shape).toEqual([8, 2]);
      expect(padRows(packed, r).toNumbers()).toEqual(x.mul(ft.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]]).unsqueeze(-1)).toNumbers());
      expect(tokenRows(ids([[1, 1], [1, 1]]))).toBeNull(); // nothing padded
      expect(tokenRows(ids([[0, 1], [1, 1]]))).toBeNull(); // left padding: row 0's first token is padding
      expect(tokenRows(ft.tensor([[true, false]], { dtype: 'bool' }))!.index.toNumbers()).toEqual([0]);
      expect(tokenRows(null)).toBeNull();
    });
  });
});

describe('dropoutRows', () => {
  test.each([
    ['contiguous rows (the fast draw)', false],
    ['non-contiguous rows (libtorch on the whole tensor)', true],
  ])('%s: the rows of dropout() on the whole tensor, bit for bit, and the generator left where it leaves it', (_name, strided) => {
    ft.tidy(() => {
      const full = ft.randn([6, 7, 5]); // (total, ...)
      const index = ft.tensor([0, 2, 3, 5], { dtype: 'int64' });
      let rows = full.indexSelect(0, index); // (4, 7, 5)
      if (strided) rows = rows.transpose(1, 2).contiguous().transpose(1, 2);
      ft.manualSeed(11);
      const want = ft.dropout(full, 0.3, true).indexSelect(0, index).toNumbers();
      const after = ft.rand([3]).toNumbers();
      ft.manualSeed(11);
      expect(dropoutRows(rows, 0.3, true, index, 6).toNumbers()).toEqual(want);
      expect(ft.rand([3]).toNumbers()).toEqual(after);
      expect(dropoutRows(rows, 0.3, false, index, 6).toNumbers()).toEqual(rows.toNumbers());
    });
  });

  test('its gradient is the kept rows scaled, as dropout()', () => {
    ft.tidy(() => {
      const index = ft.tensor([1, 2], { dtype: 'int64' });
      const x = ft.randn([2, 64]).requiresGrad_();
      ft.manualSeed(3);
      const y = dropoutRows(x, 0.5, true, index, 3);
      y.sum().backward();
      const kept = y.ne(0).to('float32').mul(2);
      expect(x.grad!.toNumbers()).toEqual(kept.toNumbers());
    });
  });
});

describe('sequence classification over real tokens only', () => {
  afterEach(() => jest.restoreAllMocks());
  // each family's classification head, and the same head fed the padded layout's full states
  const families: (readonly [string, string, (m: any, x: any) => ft.Tensor])[] = [
    ['bert', path.join(FX, 'bert', 'seqcls'), (m, x) => m.classifier.forward(m.dropout.forward(m.bert.forward(x).poolerOutput))],
    ['roberta', path.join(FX, 'encoders', 'roberta', 'seqcls'), (m, x) => m.classifier.forward(m.roberta.forward(x).lastHiddenState)],
    ['electra', path.join(FX, 'encoders', 'electra', 'seqcls'), (m, x) => m.classifier.forward(m.electra.forward(x).lastHiddenState)],
  ];
  const padded = {
    input_ids: [
      [2, 5, 9, 11, 7, 3, 0, 0],
      [2, 8, 3, 0, 0, 0, 0, 0],
      [2, 4, 6, 8, 10, 12, 14, 3],
    ],
    attention_mask: [
      [1, 1, 1, 1, 1, 1, 0, 0],
      [1, 1, 1, 0, 0, 0, 0, 0],
      [1, 1, 1, 1, 1, 1, 1, 1],
    ],
  };
  const batches: [string, typeof padded, boolean, boolean][] = [
    // name, inputs, unpadded, the last layer for the first tokens alone
    ['right padding', padded, true, true],
    ['no padding', { input_ids: padded.input_ids, attention_mask: padded.attention_mask.map((r) => r.map(() => 1)) }, false, true],
    ['left padding', { input_ids: padded.input_ids, attention_mask: padded.attention_mask.map((r) => [...r].reverse()) }, false, false],
    ['one padded row', { input_ids: [padded.input_ids[1]], attention_mask: [padded.attention_mask[1]] }, true, true],
  ];
  const DROPOUT = { hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 };
  const modes: [string, 'train' | 'eval' | 'checkpointing', Record<string, number>][] = [
    ['train mode, every dropout on', 'train', DROPOUT],
    ['train mode, no attention dropout', 'train', { ...DROPOUT, attention_probs_dropout_prob: 0 }],
    ['train mode, gradient checkpointing', 'checkpointing', DROPOUT],
    ['eval mode', 'eval', {}],
  ];
  const cases = families.flatMap(([f, dir, full]) =>
    modes.flatMap(([m, mode, cfg]) => batches.map(([b, inputs, unpads, first]) => [`${f}, ${m}, ${b}`, dir, full, mode, cfg, inputs, unpads, first] as const)),
  );

  test('the first-query attention reproduces attention dropout here (float32 on the CPU)', () => {
    expect(ft.attentionFirstQueryExact('float32', 'cpu')).toBe(true);
    expect(ft.attentionFirstQueryExact('float32', 'cuda')).toBe(false);
  });

  test.each(cases)('%s: logits, loss, every gradient and the generator state as the padded layout', async (name, dir, padded, mode, cfg, inputs, unpads, first) => {
    const model = (await ft.AutoModelForSequenceClassification.fromPretrained(dir, { warn: () => undefined, config: cfg })) as any;
    if (mode === 'eval') model.eval();
    else model.train();
    const bool = /one padded row/.test(name); // a bool mask there
    const labels = [1, 0, 1].slice(0, inputs.input_ids.length);
    const run = (f: (x: any) => ft.Tensor, checkpointing: boolean) => {
      const s = checkpointing ? new CheckpointSession() : null;
      try {
        return ft.tidy(() => {
          for (const p of model.parameters()) p.grad = null;
          ft.manualSeed(5);
          const mask = ids(inputs.attention_mask);
          const x = { inputIds: ids(inputs.input_ids), attentionMask: bool ? mask.ne(0) : mask };
          const logits = s ? s.record(() => f(x)) : f(x);
          const loss = ft.crossEntropy(logits, ft.tensor(labels, { dtype: 'int64' }));
          if (s) s.backward(loss);
          else loss.backward();
          const grads = (model.namedParameters() as [string, ft.Tensor][]).map(([k, p]) => [k, p.grad ? p.grad.toNumbers() : []] as const);
          return { logits: logits.toNumbers(), loss: loss.item(), grads, next: ft.rand([4]).toNumbers() };
        });
      } finally {
        s?.dispose();
      }
    };
    const spy = jest.spyOn(native, 'padRows');
    const firstSpy = jest.spyOn(BertLayer.prototype, 'forwardFirst');
    const rows = run((x) => model.forward(x).logits, mode === 'checkpointing');
    expect(spy.mock.calls.length > 0).toBe(unpads); // the head's forward took the real-token path
    // the last layer ran for the first tokens alone (recomputed once more under checkpointing)
    expect(firstSpy.mock.calls.length).toBe(first ? (mode === 'checkpointing' ? 2 : 1) : 0);
    jest.restoreAllMocks();
    const spy2 = jest.spyOn(native, 'padRows');
    const full = run((x) => padded(model, x), false);
    expect(spy2).not.toHaveBeenCalled();
    rows.logits.forEach((v: number, i: number) => expect(Math.abs(v - full.logits[i])).toBeLessThan(1e-5));
    expect(Math.abs(rows.loss - full.loss)).toBeLessThan(1e-6);
    // whole gradients, element by element, against each parameter's largest; key biases' true
    // gradient is zero (softmax ignores a shift common to every key): float32 round-off on both
    // sides, compared against the largest gradient of all instead
    const maxAbs = (a: readonly number[]) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const largest = Math.max(...full.grads.map(([, g]) => maxAbs(g)));
    expect(largest).toBeGreaterThan(0);
    for (const [i, [k, g]] of rows.grads.entries()) {
      const want = full.grads[i][1];
      expect([k, g.length]).toEqual([k, want.length]);
      const tol = /attention\.self\.key\.bias$/.test(k) ? 1e-7 * largest : 1e-5 * maxAbs(want) + 1e-9;
      const worst = g.reduce((m, v, j) => Math.max(m, Math.abs(v - want[j])), 0);
      expect({ k, close: worst <= tol }).toEqual({ k, close: true });
    }
    expect(rows.next).toEqual(full.next); // the same draws: dropout took the whole batch's masks
    model.dispose();
  });
});
