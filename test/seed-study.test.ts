// The accuracy study's statistics and arguments (scripts/seed-study.js; the study itself is a
// bench entry: npm run bench -- --only accuracy).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const study = require('../scripts/seed-study.js');

describe('accuracy study', () => {
  test("Welch's t-test equals scipy.stats.ttest_ind(x, y, equal_var=False)", () => {
    // scipy 1.17: t -1.8988179394311182, df 5.332879106703185, p 0.11241704510520882
    const a = study.welch([0.917, 0.871, 0.908, 0.957], [0.974, 0.946, 0.923, 0.973]);
    expect(a.t).toBeCloseTo(-1.8988179394311182, 12);
    expect(a.df).toBeCloseTo(5.332879106703185, 12);
    expect(a.p).toBeCloseTo(0.11241704510520882, 9);
    // t 0.023595145184852694, df 9.997872836819079, p 0.9816398335621506
    const b = study.welch([0.9, 0.91, 0.92, 0.93, 0.95, 0.88], [0.9, 0.905, 0.921, 0.93, 0.951, 0.881]);
    expect(b.p).toBeCloseTo(0.9816398335621506, 9);
    expect(b.df).toBeCloseTo(9.997872836819079, 12);
    // equal samples: t 0, p 1 (not above, whatever the t distribution's round-off)
    expect(study.welch([0.9, 0.8, 0.95], [0.9, 0.8, 0.95]).p).toBe(1);
    // no test without two values a side, or with no variation at all
    expect(study.welch([0.9], [0.8, 0.7])).toBeNull();
    expect(study.welch([0.9, 0.9], [0.9, 0.9])).toBeNull();
  });

  test('arguments are checked before any run', () => {
    expect(() => study.parseArgs(['--seeds', '1,2,1'])).toThrow('--seeds: seed 1 is given twice');
    expect(() => study.parseArgs(['--configs', 'fulltune,pytorch'])).toThrow(/--configs: expected some of fulltune, fused, transformers/);
    expect(() => study.parseArgs(['--train', __filename])).toThrow('--train and --validation go together');
    expect(() => study.parseArgs(['--jobs', '0'])).toThrow(/--jobs: expected a positive integer/);
    expect(study.parseArgs([]).seeds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
