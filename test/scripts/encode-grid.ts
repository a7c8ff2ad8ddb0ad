// Every combination of numeric encode options a user can pass, in one process: each must
// either encode or throw a catchable error. A Rust panic aborts this process (exit 134).
import { PreTrainedTokenizer } from '../../src/tokenize/tokenizer';

(async () => {
  const tok = await PreTrainedTokenizer.fromPretrained(process.argv[2]);
  const inputs: Record<string, (string | [string, string] | string[])[]> = {
    single: ['hello world this is a long sentence of words', ''],
    pair: [['hello world this is a question', 'a long context of words that goes on and on for a while'], ['', 'x'], ['a b c d e f g h i j', '']],
    words: [['hello', 'world', 'this', 'is', 'a', 'test'], []],
  };
  let ok = 0;
  let caught = 0;
  for (const kind of Object.keys(inputs))
    for (const truncation of [undefined, 'longest_first', 'only_first', 'only_second'] as const)
      for (let maxLength = -1; maxLength <= 12; maxLength++)
        for (const stride of [-1, 0, 1, 2, 3, 5, 8, 11, 40, 1.5])
          for (const returnOverflowing of [true, false])
            for (const padding of [false, 'longest', 'max_length'] as const) {
              try {
                await tok.encode(inputs[kind], { maxLength, stride, truncation, returnOverflowing, isSplitIntoWords: kind === 'words', padding });
                ok++;
              } catch (e) {
                if (!(e instanceof Error)) throw e;
                caught++;
              }
            }
  // lengths whose padding the Rust side could not allocate (it aborts on a failed allocation)
  for (const o of [{ padding: 'max_length' as const, maxLength: 2 ** 31 }, { padding: 'longest' as const, padToMultipleOf: 2 ** 31 }, { padding: 'max_length' as const, maxLength: 2 ** 25 }]) {
    for (const isSplitIntoWords of [false, true]) {
      try {
        await tok.encode(isSplitIntoWords ? inputs.words : inputs.single, { ...o, isSplitIntoWords });
        ok++;
      } catch (e) {
        if (!(e instanceof Error)) throw e;
        caught++;
      }
    }
  }
  process.stdout.write(JSON.stringify({ ok, caught }) + '\n');
})();
