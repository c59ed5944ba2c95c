#!/usr/bin/env bash
# Benchmark of class grading (make grade-all): the class of
# tests/harness/class.bash (the reference, the starter, two mutants and seven
# hostile submissions, lesson 03) graded one at a time (JOBS=1) and four at
# a time (JOBS=4), under the small limits the tests use. Target: JOBS=4
# takes less than twice the slowest submission graded alone. (The tests
# prove, without a clock, that JOBS=4 grades several at once and that a
# submission's marks do not depend on its neighbours.)
#
# Writes $BENCH_OUT/grade-all.tsv: for each submission, its seconds alone
# and beside the others; then the two runs' totals.
#
# Run by `make bench` (or `make bench LESSON=class`); by hand:
# bash tests/bench/grade-all.sh. Needs root or user namespaces (as the
# tests); skipped otherwise. Takes about a minute and a half.
set -euo pipefail

: "${SOCKSTEP_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
: "${BENCH_OUT:=$SOCKSTEP_BUILD/bench}"
export SOCKSTEP_ROOT SOCKSTEP_BUILD
# shellcheck source=tests/harness/class.bash
source "$SOCKSTEP_ROOT/tests/harness/class.bash"

why=$(class_cannot_contain)
if [[ -n $why ]]; then
    echo "  SKIP  $why"
    exit 0
fi

mkdir -p "$BENCH_OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-bench-grade.XXXXXX")
trap 'rm -rf "$work"' EXIT
class_limits
class_hostile_folder "$work/class"

# grade JOBS: grades the class with JOBS at a time into $work/outJOBS;
# prints the run's seconds.
grade() {
    GRADE_ALL_OUT="$work/out$1" SUBMISSIONS="$work/class" JOBS=$1 \
        bash "$SOCKSTEP_ROOT/tests/lib/grade_all.sh" >"$work/run$1.log" 2>&1 ||
        { echo "  grade-all JOBS=$1 failed:" >&2; tail -n 20 "$work/run$1.log" >&2; exit 1; }
    sed -n -E 's/^grade-all: done in ([0-9.]+) s.*/\1/p' "$work/run$1.log"
}

one=$(grade 1)
four=$(grade 4)
slowest=0
{
    printf 'submission\talone_s\tjobs4_s\n'
    for dir in "$work/out1"/*/; do
        name=$(basename "$dir")
        [[ -f $dir/seconds ]] || continue
        printf '%s\t%s\t%s\n' "$name" "$(cat "$dir/seconds")" "$(cat "$work/out4/$name/seconds")"
        slowest=$(awk -v a="$slowest" -v b="$(cat "$dir/seconds")" 'BEGIN { print (b > a ? b : a) }')
    done
    printf 'the whole class\t%s\t%s\n' "$one" "$four"
} >"$BENCH_OUT/grade-all.tsv"
column -t -s $'\t' "$BENCH_OUT/grade-all.tsv" | sed 's/^/  /'

if awk -v f="$four" -v s="$slowest" 'BEGIN { exit !(f < 2 * s) }'; then
    echo "  PASS  JOBS=4 took $four s, less than twice the slowest submission alone ($slowest s); JOBS=1 took $one s"
else
    echo "  FAIL  JOBS=4 took $four s, not less than twice the slowest submission alone ($slowest s); JOBS=1 took $one s"
    exit 1
fi
