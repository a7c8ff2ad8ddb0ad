#!/usr/bin/env bash
# Deliberate bugs that the tests must catch. Each mutation is applied, one at a time, to a
# scratch git worktree of a commit (default HEAD; this checkout's files are never touched), and
# the jest tests that claim to guard against it are run there: "caught" when they fail,
# "SURVIVED" when they pass. The same tests first run unmutated and must pass, so that a failure
# is the mutation's. Exits non-zero if a mutation survives or cannot be applied.
#
#   scripts/mutation-check.sh [commit]
#
# Needs this checkout's node_modules, build/ (the native addon) and .libtorch/ (symlinked in).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
REV="${1:-HEAD}"
WT="$(mktemp -d /tmp/wt-mutation-XXXXXX)"
rmdir "$WT"
git -C "$ROOT" worktree add --quiet --detach "$WT" "$REV" || exit 2
cleanup() { git -C "$ROOT" worktree remove --force "$WT" >/dev/null 2>&1 || rm -rf "$WT"; git -C "$ROOT" worktree prune; }
trap cleanup EXIT
for d in node_modules build .libtorch; do
  [ -e "$ROOT/$d" ] || { echo "mutation-check: $ROOT/$d is missing (install and build first)" >&2; exit 2; }
  ln -s "$ROOT/$d" "$WT/$d"
done
cd "$WT" || exit 2

# name @ file @ perl substitution (must change the file) @ jest files @ jest -t pattern (empty: all)
MUTATIONS=(
  "weight decay on biases@src/train/trainer.ts@s/name\.endsWith\('bias'\) \|\| //@test/train.test.ts@30 steps of AdamW"
  "QA loss not halved@src/train/trainer.ts@s/return s\.add\(e\)\.div\(2\);/return s.add(e);/@test/task-loss.test.ts@question-answering"
  "loss averaged per micro-batch@src/train/trainer.ts@s/\.div\(Math\.max\(1, numItems\)\)/.div(Math.max(1, b.numItems) * collated.length)/@test/train.test.ts test/task-loss.test.ts@accumulation|micro-batches"
  "multi-label loss averaged over rows, not labels@src/data/collate.ts@s/numItems = B \* L;/numItems = B;/@test/task-loss.test.ts@multi-label"
  "token loss averaged over every token, padding included@src/data/collate.ts@s/numItems = tokLabels!\.reduce\(\(n, v\) => n \+ \(v !== -100 \? 1 : 0\), 0\);/numItems = B * T;/@test/task-loss.test.ts@token-classification"
  "comparison helper lets NaN through@test/helpers.ts@s/const r = Number\.isFinite\(d\) \? d \/ \(atol \+ rtol \* Math\.abs\(y\)\) : Infinity;/const r = d \/ (atol + rtol * Math.abs(y));/@test/helpers.test.ts@"
)

run_jest() { # files, pattern -> exit status; output in $WT/jest.log
  local files="$1" pattern="$2"
  # shellcheck disable=SC2086
  if [ -n "$pattern" ]; then npx jest --verbose $files -t "$pattern" >"$WT/jest.log" 2>&1; else npx jest --verbose $files >"$WT/jest.log" 2>&1; fi
}

status=0
for m in "${MUTATIONS[@]}"; do
  IFS='@' read -r name file subst files pattern <<<"$m"
  git checkout --quiet -- .
  if ! run_jest "$files" "$pattern"; then
    echo "BASELINE FAILS  $name: $files ${pattern:+(-t '$pattern')} fail without the mutation:" >&2
    grep -E "✕|●" "$WT/jest.log" | head -5 >&2
    status=1
    continue
  fi
  perl -0pi -e "$subst" "$file"
  if git diff --quiet -- "$file"; then
    echo "NOT APPLIED     $name: the pattern is not in $file at $REV" >&2
    status=1
    continue
  fi
  if run_jest "$files" "$pattern"; then
    echo "SURVIVED        $name ($file): $files ${pattern:+(-t '$pattern')} still pass"
    status=1
  else
    echo "caught          $name ($file), by:"
    grep -E "^\s+✕" "$WT/jest.log" | sed 's/^\s*/                  /'
    grep -v -E '^\s*>?\s*[0-9]+ \|' "$WT/jest.log" | grep -m4 -E "outside tolerance|Expected|Received" | sed 's/^\s*/                    /'
  fi
done
git checkout --quiet -- .
exit $status
