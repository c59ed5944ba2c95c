#!/usr/bin/env bash
# `make bench`: runs each lesson's benchmark script tests/bench/NN-name.sh
# (LESSON=NN for one), then tests/bench/grade-all.sh, class grading
# (LESSON=class for it alone). Benchmarks compare programs side by side in
# one run on this machine; targets are checked there, never in timed tests.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"

main() {
    local script lesson failed=()
    export SOCKSTEP_ROOT SOCKSTEP_BUILD
    export BENCH_OUT="$SOCKSTEP_BUILD/bench"
    mkdir -p "$BENCH_OUT"
    for script in "$SOCKSTEP_ROOT"/tests/bench/[0-9][0-9]-*.sh; do
        [[ -f $script && ${LESSON:-} != class ]] || continue
        lesson=$(basename "$script" .sh)
        if [[ -n ${LESSON:-} ]] && ! LESSON=$LESSON list_lessons 2>/dev/null | grep -qx "$lesson"; then
            continue
        fi
        echo "== Benchmark of lesson $lesson"
        bash "$script" || failed+=("$lesson")
        echo
    done
    # Class grading is no lesson's: with every lesson, or with LESSON=class.
    if [[ -z ${LESSON:-} || ${LESSON:-} == class ]]; then
        echo "== Benchmark of class grading (make grade-all)"
        bash "$SOCKSTEP_ROOT/tests/bench/grade-all.sh" || failed+=(grade-all)
        echo
    fi
    echo "bench: results in ${BENCH_OUT#"$SOCKSTEP_ROOT"/}/"
    if ((${#failed[@]} > 0)); then
        echo "bench: a target was missed or a run failed in: ${failed[*]}"
        return 1
    fi
}

main "$@"
